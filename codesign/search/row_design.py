"""The DesignPoint of one row of a sweep/search results file (CSV, JSONL or a JSON list): what
`emit-hls --from-results` emits. A row the sweep or search wrote gives back the point it evaluated."""
# Columns (case-insensitive; empty cells and any other column, such as metrics, are ignored):
#   model (required)             timm name or pkg.module:factory
#   accel | accelerator | preset | base   preset name or accelerator YAML (default zcu102); JSON: a mapping
#   device | board               FPGA board or part (default: the accelerator's name when it is a board)
#   precision, prune_heads, prune_mlp (or mlp_keep_ratio), input_size, batch   as on the command line
#   scale_ports                  as in a design space (default true): buffer ports follow the array size
#   knobs on the accelerator: a dotted path into its YAML (pe_array.rows, buffers.ifmap.size_kib,
#   dram.bandwidth_gbps, clock_mhz, ...), the short names below, or a JSON object column `knobs`
#   holding either form.
from __future__ import annotations

import csv
import json
import os

from accel_sim.config import Accelerator, accelerator_from_dict
from accel_sim.inputs import parse_int, read_text
from accel_sim.loading import load_accelerator
from codesign.boundary.rows import json_object
from codesign.design import DesignPoint
from codesign.errors import UserError
from codesign.search.knobs import HARDWARE_KNOBS, build_accelerator
from codesign.transforms import Compression

# Short knob names as a sweep/search writes them (and a few aliases) -> the search's knob names;
# they are applied with the search's own `build_accelerator`, so the emitted design is the one evaluated.
SEARCH_KNOBS = {
    "rows": "rows", "pe_rows": "rows", "cols": "cols", "pe_cols": "cols", "dataflow": "dataflow",
    "ifmap_kib": "ifmap_kib", "weight_kib": "weight_kib", "ofmap_kib": "ofmap_kib",
    "bandwidth_gbps": "dram_bandwidth_gbps", "dram_bandwidth_gbps": "dram_bandwidth_gbps",
    "dram_gbps": "dram_bandwidth_gbps", "vector_lanes": "vector_lanes", "clock_mhz": "clock_mhz",
}
_FIELDS = {"model": ("model",), "accel": ("accel", "accelerator", "preset", "base"), "device": ("device", "board"),
           "precision": ("precision",), "prune_heads": ("prune_heads",), "prune_mlp": ("prune_mlp", "mlp_keep_ratio"),
           "input_size": ("input_size",), "batch": ("batch",)}


def _rows(path: str) -> list[dict]:
    from codesign.boundary.rows import MAX_RESULTS_BYTES, json_lines

    if not os.path.isfile(path):
        raise UserError(f"--from-results {path!r} does not exist")
    label = f"--from-results {path!r}"
    text = read_text(path, "--from-results file", path, limit=MAX_RESULTS_BYTES)
    stripped = text.lstrip()
    if path.lower().endswith(".json") or stripped.startswith("["):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise UserError(f"{label} is not valid JSON: {getattr(exc, 'msg', type(exc).__name__)}") from None
        if isinstance(data, dict):
            lists = [data[k] for k in ("rows", "points", "results", "pareto") if isinstance(data.get(k), list)]
            data = lists[0] if lists else None
        if not isinstance(data, list):
            raise UserError(f"{label}: expected a JSON list of rows (or {{\"rows\": [...]}})")
        for index, item in enumerate(data):
            if not isinstance(item, dict):
                raise UserError(f"{label}: row {index} is a JSON {type(item).__name__}, not an object")
        return data
    if path.lower().endswith(".jsonl") or stripped.startswith("{"):
        return json_lines(text, label)
    try:
        return list(csv.DictReader(text.splitlines()))
    except csv.Error as exc:
        raise UserError(f"{label} is not CSV ({exc})") from None


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


def _accelerator(spec, short: dict, scale_ports: bool, knobs: dict, where: str) -> Accelerator:
    short = {k: HARDWARE_KNOBS[k].parse(v, f"{where}: {k}") for k, v in short.items()}
    base = accelerator_from_dict(spec, where) if isinstance(spec, dict) else load_accelerator(spec or "zcu102")
    accel = build_accelerator(base, short, scale_ports) if short else base
    if not knobs:
        return accel
    data = accel.to_dict()
    for path, value in knobs.items():
        _set_path(data, path, _value(value), where)
    return accelerator_from_dict(data, where)


def design_from_row(path: str, row: int) -> DesignPoint:
    """The DesignPoint of row `row` (0-based) of a results file."""
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
                out[name] = cells[key] if isinstance(cells[key], (dict, str)) else str(cells[key])
                break
    if "model" not in out:
        raise UserError(f"{where} has no 'model' column; columns: {', '.join(raw) or 'none'}")
    knobs, short = {}, {}
    nested = cells.get("knobs")
    if nested is not None:
        nested = json_object(nested, os.path.basename(path), f"row {row}, column 'knobs'")
    for key, value in list(nested.items() if isinstance(nested, dict) else []) + list(cells.items()):
        key = str(key).lower()
        if key in SEARCH_KNOBS:
            short[SEARCH_KNOBS[key]] = value if key == "dataflow" else _value(value)
        elif "." in key and key.split(".")[0] in ("pe_array", "buffers", "dram", "vector_unit", "lut_array", "energy"):
            knobs[key] = value
    scale_ports = str(cells.get("scale_ports", True)).lower() not in ("false", "0", "no")
    return DesignPoint(model=out["model"], accelerator=_accelerator(out.get("accel"), short, scale_ports, knobs, where),
                       compression=Compression.of(out.get("precision"), out.get("prune_heads"), out.get("prune_mlp")),
                       device=out.get("device"), input_size=out.get("input_size"),
                       batch=parse_int(out["batch"], f"{where}: batch") if "batch" in out else 1)
