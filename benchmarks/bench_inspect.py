"""How long `codesign inspect` takes: cold command-line start, and extraction alone after imports.

Targets (issue 2): cold `codesign inspect vit_base_patch16_224` < 5 s; extraction alone < 1.5 s.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time

MODEL = sys.argv[1] if len(sys.argv) > 1 else "vit_base_patch16_224"


def cold_cli(runs: int = 3) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "codesign.cli", "inspect", MODEL, "--summary"],
                       check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def in_process(runs: int = 5) -> tuple[float, float, list[float]]:
    start = time.perf_counter()
    from codesign.frontend import extract
    from codesign.frontend.torchvision_compat import import_timm
    import_timm()
    imports = time.perf_counter() - start
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        extract(MODEL)
        times.append(time.perf_counter() - start)
    return imports, times[0], times[1:]


if __name__ == "__main__":
    cli = cold_cli()
    imports, first, rest = in_process()
    print(f"model: {MODEL}")
    print(f"cold `codesign inspect` (new process, 3 runs): median {statistics.median(cli):.2f} s  "
          f"(target < 5 s, {5 / statistics.median(cli):.1f}x headroom)")
    print(f"imports (torch, timm):                        {imports:.2f} s")
    print(f"first extraction after imports:               {first:.2f} s  (target < 1.5 s)")
    print(f"later extractions (fresh model each):         median {statistics.median(rest):.2f} s")
