"""Results rows handed back to us (`pareto`, `emit-hls --from-results`, a resumed sweep): JSON lines
that must be objects, and cells of the type their column holds; errors name the line and the column."""
from __future__ import annotations

import json
import math

from codesign.errors import UserError

# Results files grow by ~300 bytes a point: 1 GiB is ~3.5 million points, above a grid sweep's limit.
MAX_RESULTS_BYTES = 1 << 30
KINDS = ("number", "bool", "text", "scalar")


def json_lines(text: str, label: str) -> list[dict]:
    """The objects of a JSONL text, one per non-empty line."""
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as err:
            reason = getattr(err, "msg", None) or type(err).__name__
            raise UserError(f"{label}: line {number} is not JSON ({reason})") from None
        if not isinstance(row, dict):
            raise UserError(f"{label}: line {number} holds a JSON {type(row).__name__}, not an object "
                            "(one {\"column\": value, ...} per line)")
        rows.append(row)
    return rows


def json_object(text, label: str, where: str) -> dict:
    """A JSON object held in one cell (e.g. a `knobs` column)."""
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        raise UserError(f"{label}: {where} is not valid JSON; write it as {{\"pe_array.rows\": 32, ...}}") from None
    if not isinstance(value, dict):
        raise UserError(f"{label}: {where} holds a JSON {type(value).__name__}, not an object")
    return value


def check_cell(value, kind: str, label: str, where: str):
    """`value` if it is of `kind` (None, an empty cell, is allowed for all): number is finite."""
    if value is None:
        return None
    if kind == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        need = "a finite number"
    elif kind == "bool":
        ok, need = isinstance(value, bool), "true or false"
    elif kind == "text":
        ok, need = isinstance(value, str), "text"
    else:
        ok, need = isinstance(value, (str, int, float, bool)), "a single value"
    if not ok:
        shown = " ".join(repr(value).split())
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise UserError(f"{label}: {where} holds {shown}, not {need}")
    return value


def check_rows(rows: list[dict], columns: list[str], kinds: dict[str, str], label: str, first_line: int) -> None:
    """Every row has exactly `columns`, each cell of its column's kind (default "scalar")."""
    for index, row in enumerate(rows):
        line = first_line + index
        if list(row) != columns:
            missing = [c for c in columns if c not in row]
            extra = [c for c in row if c not in columns]
            what = f"lacks column {missing[0]!r}" if missing else (
                f"has column {extra[0]!r} the first row has not" if extra else "orders its columns differently")
            raise UserError(f"{label}: line {line} {what}")
        for column in columns:
            check_cell(row[column], kinds.get(column, "scalar"), label, f"line {line}, column {column!r}")
