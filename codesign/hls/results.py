"""A design point from one row of a sweep/search result file (CSV, JSONL or a JSON list).
Columns read: model, accel, device, precision, prune_heads, prune_mlp, dataflow, input_size, batch, knobs."""
# Columns (case-insensitive; empty cells and any other column, such as metrics, are ignored):
#   model (required)             timm name or pkg.module:factory
#   accel | accelerator | preset preset name or accelerator YAML (default zcu102); in JSON also a mapping
#   device | board               FPGA board or part (default: the accelerator's name when it is a board)
#   precision, prune_heads, prune_mlp, dataflow, input_size, batch   as on the command line
#   knobs on the accelerator: a dotted path into its YAML (pe_array.rows, buffers.ifmap.size_kib,
#   dram.bandwidth_gbps, clock_mhz, ...), the short names below, or a JSON object column `knobs`
#   holding either form.
from __future__ import annotations

import csv
import json
import os

from accel_sim.config import Accelerator, accelerator_from_dict, load_accelerator
from codesign.errors import UserError

KNOB_ALIASES = {
    "rows": "pe_array.rows", "pe_rows": "pe_array.rows", "cols": "pe_array.cols", "pe_cols": "pe_array.cols",
    "accum_bits": "pe_array.accum_bits", "operand_bits": "pe_array.operand_bits",
    "ifmap_kib": "buffers.ifmap.size_kib", "weight_kib": "buffers.weight.size_kib",
    "ofmap_kib": "buffers.ofmap.size_kib", "bandwidth_gbps": "dram.bandwidth_gbps",
    "dram_bandwidth_gbps": "dram.bandwidth_gbps", "dram_gbps": "dram.bandwidth_gbps",
    "vector_lanes": "vector_unit.lanes", "clock_mhz": "clock_mhz",
}
_FIELDS = {"model": ("model",), "accel": ("accel", "accelerator", "preset"), "device": ("device", "board"),
           "precision": ("precision",), "prune_heads": ("prune_heads",), "prune_mlp": ("prune_mlp",),
           "dataflow": ("dataflow",), "input_size": ("input_size",), "batch": ("batch",)}


def _rows(path: str) -> list[dict]:
    if not os.path.isfile(path):
        raise UserError(f"--from-results {path!r} does not exist")
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read --from-results {path!r}: {exc}") from None
    stripped = text.lstrip()
    try:
        if path.lower().endswith(".json") or stripped.startswith("["):
            data = json.loads(text)
            if isinstance(data, dict):
                lists = [data[k] for k in ("rows", "points", "results", "pareto") if isinstance(data.get(k), list)]
                data = lists[0] if lists else None
            if not isinstance(data, list):
                raise UserError(f"--from-results {path!r}: expected a JSON list of rows (or {{\"rows\": [...]}})")
            return [r for r in data if isinstance(r, dict)]
        if path.lower().endswith(".jsonl") or stripped.startswith("{"):
            return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise UserError(f"--from-results {path!r} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    return list(csv.DictReader(text.splitlines()))


def _value(text):
    """A CSV cell as a number or boolean when it reads as one."""
    if not isinstance(text, str):
        return text
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text.strip()


def _set_path(data: dict, path: str, value, where: str) -> None:
    keys = path.split(".")
    node = data
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            raise UserError(f"{where}: knob {path!r} is not a field of the accelerator description")
        node = node[key]
    if keys[-1] not in node:
        raise UserError(f"{where}: knob {path!r} is not a field of the accelerator description")
    node[keys[-1]] = value


def _accelerator(spec, knobs: dict, where: str, row: int) -> Accelerator:
    if isinstance(spec, dict):
        data = spec
    else:
        data = load_accelerator(spec or "zcu102").to_dict()
    if knobs:
        for path, value in knobs.items():
            _set_path(data, path, _value(value), where)
        data["name"] = f"{data['name']}-row{row}"
    return accelerator_from_dict(data, where)


def design_point_from_row(path: str, row: int) -> dict:
    """emit_hls keyword arguments of row `row` (0-based) of a result file."""
    rows = _rows(path)
    if not rows:
        raise UserError(f"--from-results {path!r} has no rows")
    if not 0 <= row < len(rows):
        raise UserError(f"--row {row} is out of range: {path!r} has rows 0 to {len(rows) - 1}")
    raw = {str(k).strip().lower(): v for k, v in rows[row].items() if k is not None}
    cells = {k: v for k, v in raw.items() if v is not None and v != ""}
    where = f"{os.path.basename(path)} row {row}"
    out = {}
    for name, keys in _FIELDS.items():
        for key in keys:
            if key in cells:
                out[name] = cells[key]
                break
    if "model" not in out:
        raise UserError(f"{where} has no 'model' column; columns: {', '.join(raw) or 'none'}")
    knobs = {}
    nested = cells.get("knobs")
    if isinstance(nested, str) and nested.strip().startswith("{"):
        nested = json.loads(nested)
    for key, value in list(nested.items() if isinstance(nested, dict) else []) + list(cells.items()):
        key = str(key).lower()
        if key in KNOB_ALIASES:
            knobs[KNOB_ALIASES[key]] = value
        elif "." in key and key.split(".")[0] in ("pe_array", "buffers", "dram", "vector_unit", "lut_array", "energy"):
            knobs[key] = value
    out["accel"] = _accelerator(out.get("accel"), knobs, where, row)
    for name in ("batch",):
        if name in out:
            out[name] = int(_value(out[name]))
    for name in ("precision", "prune_heads", "prune_mlp", "dataflow", "input_size", "model", "device"):
        if name in out and not isinstance(out[name], str):
            out[name] = str(out[name])
    return out
