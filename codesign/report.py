"""Plain-text tables and CSV rows shared by every command that prints results.

Numbers are printed with engineering suffixes in tables and exactly in CSV and JSON.
"""
from __future__ import annotations

import csv
import io


def human(value: float, unit: str = "") -> str:
    """12_345_678 -> '12.35M'; exact below a thousand."""
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.2f}{suffix}{unit}"
    return f"{value:g}{unit}" if isinstance(value, float) else f"{value}{unit}"


def table(headers: list[str], rows: list[list], right: set[int] | None = None) -> str:
    """A fixed-width table; columns listed in `right` (default: all but the first two) align right."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    right = set(range(2, len(headers))) if right is None else right

    def line(row):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule] + [line(r) for r in cells])


def to_csv(headers: list[str], rows: list[list]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue()
