"""The Pareto front of results rows: the feasible points no other feasible point dominates.

Also writes the front as CSV and JSON and renders it as a readable table.
"""
from __future__ import annotations

import json
import math
import os

from accel_sim.errors import UserError
from codesign.report import table
from codesign.search.metrics import MAXIMIZE, METRICS, metric
from codesign.search.results_io import plain, write_rows

_NOT_KNOBS = {"hash", "precision", "prune_heads"}


def objective_vector(row: dict, objectives) -> tuple[float, ...]:
    """The objective values, maximised ones negated, so that smaller is better throughout."""
    return tuple(-float(row[o]) if METRICS[o].direction == MAXIMIZE else float(row[o]) for o in objectives)


def _finite(value) -> bool:
    """A number a front can rank (a NaN would compare false both ways and always survive)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def dominates(a: tuple, b: tuple) -> bool:
    return all(x <= y for x, y in zip(a, b)) and a != b


def pareto_front(rows: list[dict], objectives) -> list[dict]:
    """Feasible rows (one per point hash) that no other feasible row dominates, by the first objective.

    One pass over the rows in lexicographic order of their objective vectors: a row can only be
    dominated by one that sorts before it, and then by one already on the front.
    """
    for name in objectives:
        metric(name, "objective")
    unique = {}
    for row in rows:
        if row.get("feasible") and all(_finite(row.get(o)) for o in objectives):
            unique.setdefault(row["hash"], row)
    ranked = sorted(unique.values(), key=lambda r: (objective_vector(r, objectives), r["hash"]))
    front, vectors = [], []
    for row in ranked:
        vec = objective_vector(row, objectives)
        if not any(dominates(v, vec) for v in vectors):
            front.append(row)
            vectors.append(vec)
    return front


def knob_columns(columns: list[str]) -> list[str]:
    """The knob columns of a results file: those between the hash and the first metric."""
    end = columns.index("latency_ms") if "latency_ms" in columns else len(columns)
    return [c for c in columns[:end] if c not in _NOT_KNOBS]


def check_objectives(columns: list[str], objectives) -> None:
    for name in objectives:
        metric(name, "objective")
        if name not in columns:
            raise UserError(f"the results have no {name!r} column; objectives available here: "
                            f"{', '.join(c for c in columns if c in METRICS)}")


def write_front(front: list[dict], columns: list[str], objectives, stem: str) -> list[str]:
    """`stem`.csv and `stem`.json; the JSON names the objectives and their directions."""
    csv_path, json_path = f"{stem}.csv", f"{stem}.json"
    try:
        write_rows(csv_path, columns, front)
        tmp = f"{json_path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"objectives": {o: METRICS[o].direction for o in objectives}, "count": len(front),
                       "points": [{c: plain(row.get(c)) for c in columns} for row in front]}, fh, indent=1,
                      allow_nan=False)
        os.replace(tmp, json_path)      # whole or not at all
    except OSError as err:
        raise UserError(f"cannot write the front to {stem!r}: {err.strerror}") from None
    return [csv_path, json_path]


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.3e}"
    return str(value)


def front_table(front: list[dict], columns: list[str], objectives, total: int, feasible: int) -> str:
    """A readable table: hash, objectives, fps, then every knob, best first objective first."""
    arrows = ", ".join(f"{o} ({'max' if METRICS[o].direction == MAXIMIZE else 'min'})" for o in objectives)
    head = (f"Pareto front: {len(front)} point{'s' if len(front) != 1 else ''} of {total:,} "
            f"({feasible:,} feasible); objectives {arrows}")
    if not front:
        return head + "\nno feasible point: relax the constraints or widen the space"
    extra = [c for c in ("fps",) if c in columns and c not in objectives]
    shown = ["hash", *objectives, *extra, *knob_columns(columns)]
    rows = [[_fmt(row.get(c))[:10] if c == "hash" else _fmt(row.get(c)) for c in shown] for row in front]
    return head + "\n\n" + table(shown, rows, right=set(range(1, 1 + len(objectives) + len(extra))))


def front_stem(results_path: str) -> str:
    return os.path.splitext(results_path)[0] + ".front"
