"""A peer tool (SCALE-Sim, ZigZag) installed into its own venv beside this one, so that its pins
never touch ours; `ensure_venv` is idempotent and reinstalls only when the pins change.
"""
from __future__ import annotations

import os
import subprocess
import sys

STAMP = ".pins"   # the pins a venv was built with, one per line


def clean_env() -> dict:
    """The environment without PYTHONPATH, so the peer's venv sees nothing of this project."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def ensure_venv(venv: str, pins: list[str]) -> str:
    """The python of `venv`, created and given `pins` if it is missing or was built with others."""
    python = os.path.join(venv, "bin", "python")
    stamp = os.path.join(venv, STAMP)
    wanted = "\n".join(pins) + "\n"
    if os.path.exists(python) and os.path.exists(stamp):
        with open(stamp, encoding="utf-8") as fh:
            if fh.read() == wanted:
                return python
    print(f"installing {' '.join(pins)} into {venv} ...", file=sys.stderr, flush=True)
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True, env=clean_env())
    subprocess.run([python, "-m", "pip", "install", "--quiet", *pins], check=True, env=clean_env())
    with open(stamp, "w", encoding="utf-8") as fh:
        fh.write(wanted)
    return python
