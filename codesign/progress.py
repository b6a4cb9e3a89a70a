"""One line of progress on stderr for each step that takes a while (extraction, fidelity, compiling).

Shown only on a terminal and never with `--quiet`, so pipes, `--json` and tests stay clean.
"""
from __future__ import annotations

import contextlib
import sys
import time

_state = {"quiet": False}


def set_quiet(quiet: bool) -> None:
    _state["quiet"] = bool(quiet)


def enabled() -> bool:
    return not _state["quiet"] and sys.stderr.isatty()


@contextlib.contextmanager
def step(label: str):
    """`with step("extracting vit_base"):` prints 'extracting vit_base ... 0.6 s' when enabled."""
    if not enabled():
        yield
        return
    sys.stderr.write(f"{label} ...")
    sys.stderr.flush()
    start = time.perf_counter()
    try:
        yield
    except BaseException:
        sys.stderr.write(" failed\n")
        raise
    sys.stderr.write(f" {time.perf_counter() - start:.1f} s\n")


def progress_bar(iterable, label: str, total: int | None = None):
    """`iterable` wrapped in a tqdm bar on stderr when enabled, else as it is."""
    if not enabled():
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, desc=label, total=total, file=sys.stderr, dynamic_ncols=True, leave=False)
