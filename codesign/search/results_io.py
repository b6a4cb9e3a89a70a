"""Results files: one row per design point, CSV or JSONL (by extension), flushed row by row.

Re-opening a file resumes it: the hashes already there are skipped; a torn last line is dropped.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
import warnings

from accel_sim.errors import UserError
from accel_sim.inputs import read_text

FORMATS = (".csv", ".jsonl")
STRING_COLUMNS = frozenset({"hash", "model", "error", "objectives", "first_overflow", "precision", "prune_heads",
                            "fidelity_metric"})


def results_format(path: str) -> str:
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in FORMATS:
        raise UserError(f"results file {path!r}: give a name ending in .csv or .jsonl")
    return ext


def plain(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)      # str(float) is its shortest exact repr: CSV and JSONL hold the same numbers


def _parse_cell(column: str, text: str):
    if text == "":
        return None
    if column in STRING_COLUMNS:
        return text
    if text in ("true", "false", "True", "False"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _drop_torn_tail(path: str) -> None:
    """A process killed mid-write leaves a last line without its newline: cut it off, and say so."""
    with open(path, "rb+") as fh:
        data = fh.read()
        if data and not data.endswith(b"\n"):
            fh.truncate(data.rfind(b"\n") + 1)
            warnings.warn(f"results file {path!r}: dropped a truncated last line (a run was stopped mid-write); "
                          "its point is evaluated again", stacklevel=3)


def column_kinds(columns) -> dict[str, str]:
    """What each column of a results file holds: number, bool or text (knobs: any single value)."""
    from codesign.search.metrics import DEVICE_COLUMNS, FIDELITY_COLUMNS, HARDWARE_METRICS, METRICS

    numbers = {*METRICS, *HARDWARE_METRICS, *FIDELITY_COLUMNS, "violation",
               *(c for c in DEVICE_COLUMNS if c.endswith(("_used", "_util")))}
    kinds = {c: "number" for c in numbers}
    kinds.update({c: "text" for c in STRING_COLUMNS})
    kinds.update({"feasible": "bool", "fits": "bool"})
    return {c: kinds.get(c, "scalar") for c in columns}


def read_results(path: str) -> tuple[list[str], list[dict]]:
    """(columns, rows) of a results file, values typed back (numbers, booleans, None for empty);
    every cell is checked against its column's kind, so that what follows can trust the rows."""
    from codesign.boundary.rows import MAX_RESULTS_BYTES, check_rows, json_lines

    fmt = results_format(path)
    label = f"results file {path!r}"
    text = read_text(path, "results file", path, limit=MAX_RESULTS_BYTES)
    if not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
    if fmt == ".csv":
        reader = csv.reader(io.StringIO(text))
        try:
            columns = next(reader, [])
            rows = []
            for line in reader:
                if not line:
                    continue
                if len(line) != len(columns):
                    raise UserError(f"{label}: line {reader.line_num} has {len(line)} cells, the header "
                                    f"{len(columns)}")
                rows.append({c: _parse_cell(c, v) for c, v in zip(columns, line)})
        except csv.Error as err:
            raise UserError(f"{label}: line {reader.line_num} is not CSV ({err})") from None
    else:
        rows = json_lines(text, label)
        columns = list(rows[0]) if rows else []
    if rows and "hash" not in columns:
        raise UserError(f"{label} has no hash column; is it a codesign sweep or search result?")
    check_rows(rows, columns, column_kinds(columns), label, 2 if fmt == ".csv" else 1)
    for number, row in enumerate(rows, 2 if fmt == ".csv" else 1):
        if not isinstance(row["hash"], str) or not row["hash"]:
            raise UserError(f"{label}: line {number} has no hash")
    return columns, rows


class ResultsWriter:
    """Appends rows to `path`; `done` holds the hashes already in the file (resumed or written)."""

    def __init__(self, path: str, columns: list[str]):
        self.path, self.columns, self.format = path, list(columns), results_format(path)
        self.done: set[str] = set()
        resumed = os.path.exists(path) and os.path.getsize(path) > 0
        if resumed:
            found, rows = read_results(path)       # the file is checked before anything in it is cut
            if found and found != self.columns:
                raise UserError(f"results file {path!r} was written for another space (its columns differ); "
                                "give another file name or delete it")
            _drop_torn_tail(path)
            self.done = {row["hash"] for row in rows}
            resumed = bool(found)
        folder = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(folder, exist_ok=True)
            self._fh = open(path, "a", encoding="utf-8", newline="")
        except OSError as err:
            raise UserError(f"cannot write results file {path!r}: {err.strerror}") from None
        self._csv = csv.writer(self._fh, lineterminator="\n") if self.format == ".csv" else None
        if self._csv is not None and not resumed:
            self._csv.writerow(self.columns)
            self._fh.flush()

    def write(self, row: dict) -> None:
        if self._csv is not None:
            self._csv.writerow([_cell(row.get(c)) for c in self.columns])
        else:
            self._fh.write(json.dumps({c: plain(row.get(c)) for c in self.columns}, allow_nan=False) + "\n")
        self._fh.flush()
        self.done.add(row["hash"])

    def close(self) -> None:
        self._fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_rows(path: str, columns: list[str], rows: list[dict]) -> None:
    """Write a whole file (an exported study, a front) under a temporary name, then rename it over
    `path`: an interrupted write never leaves half a file for the next run to trip over."""
    folder, name = os.path.split(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=results_format(path), dir=folder)
    except OSError as err:
        raise UserError(f"cannot write results file {path!r}: {err.strerror or err}") from None
    os.close(fd)
    try:
        with ResultsWriter(tmp, columns) as writer:
            for row in rows:
                writer.write(row)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
