"""Figures checked before they are printed or written: finite, not negative, utilisation within [0, 1].

Inputs are bounded so that this holds; a violation is a bug of ours, reported naming the layer and figure.
"""
from __future__ import annotations

import math

_NON_NEGATIVE = ("cycles", "_pj", "_mj", "bytes", "latency_ms", "fps", "macs", "_s")


class FigureError(RuntimeError):
    """A computed figure is NaN, infinite or out of range (not the user's fault: a bug to report)."""


def _bad(key: str, value) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "not finite"
    if key.endswith(_NON_NEGATIVE) and value < 0:
        return "negative"
    if key == "utilization" and not -1e-9 <= value <= 1 + 1e-9:
        return "outside [0, 1]"
    return None


def figure_problem(data, where: str = "") -> str | None:
    """The first figure of a nested result (dicts and lists) that is out of range, described; else None."""
    stack = [(where, None, data)]
    while stack:
        path, key, value = stack.pop()
        if isinstance(value, dict):
            name = value.get("name") if isinstance(value.get("name"), str) else None
            prefix = f"{path} ({name})" if name else path
            stack.extend((f"{prefix}.{k}", k, v) for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{path}[{i}]", key, v) for i, v in enumerate(value))
        elif key is not None:
            why = _bad(str(key), value)
            if why:
                return f"{path.lstrip('.')} = {value!r} is {why}"
    return None


def check_figures(data, what: str) -> None:
    """Raise FigureError naming the first bad figure of `data` (the result of `what`)."""
    problem = figure_problem(data)
    if problem:
        raise FigureError(f"{what}: {problem}; the simulator went out of range for these inputs")
