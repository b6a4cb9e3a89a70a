"""Hardware knobs: what each one is, how its values are checked, and how a choice builds an Accelerator.

Torch-free: sweep workers build every accelerator variant from the base with `dataclasses.replace`.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from accel_sim.config import Accelerator, parse_dataflow
from accel_sim.errors import UserError
from accel_sim.inputs import check_int, check_number


def _int(value, field: str) -> int:
    return check_int(value, field)


def _positive(value, field: str) -> float:
    return float(check_number(value, field))


def _dataflow(value, field: str) -> str:
    return parse_dataflow(value, field).value


def _name(value, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"{field}: {value!r} is not valid; give a name")
    return value.strip()


@dataclass(frozen=True)
class HardwareKnob:
    name: str
    parse: object          # (value, field) -> normalised value
    what: str


HARDWARE_KNOBS = {k.name: k for k in [
    HardwareKnob("base", _name, "the accelerator the others modify: a preset name or YAML file"),
    HardwareKnob("device", _name, "FPGA board or part for the resource estimate (see `codesign devices`)"),
    HardwareKnob("rows", _int, "PE array rows"),
    HardwareKnob("cols", _int, "PE array columns"),
    HardwareKnob("dataflow", _dataflow, "ws, os, is or rs"),
    HardwareKnob("ifmap_kib", _positive, "ifmap buffer size"),
    HardwareKnob("weight_kib", _positive, "weight buffer size"),
    HardwareKnob("ofmap_kib", _positive, "ofmap buffer size"),
    HardwareKnob("dram_bandwidth_gbps", _positive, "off-chip bandwidth"),
    HardwareKnob("clock_mhz", _positive, "clock frequency"),
    HardwareKnob("vector_lanes", _int, "vector unit lanes (else they follow the columns, see scale_ports)"),
]}
DEFAULT_BASE = "zcu102"


def _scaled(value: float, ratio: float) -> int:
    return max(1, int(round(value * ratio)))


# The parts of a variant are memoised: a sweep builds thousands of accelerators from a few dozen
# distinct PE arrays, buffers and vector units, and each part validates itself when built.
@functools.lru_cache(maxsize=4096)
def _scale_buffer(buf, ratio: float):
    return dataclasses.replace(buf, banks=_scaled(buf.banks, ratio),
                               read_bw_words_per_cycle=max(1.0, buf.read_bw_words_per_cycle * ratio),
                               write_bw_words_per_cycle=max(1.0, buf.write_bw_words_per_cycle * ratio))


@functools.lru_cache(maxsize=4096)
def _replace(part, **changes):
    return dataclasses.replace(part, **changes)


def build_accelerator(base: Accelerator, values: dict, scale_ports: bool) -> Accelerator:
    """`base` with the hardware knob `values` applied (knobs absent from `values` keep the base's).

    With `scale_ports`, a resized array keeps being fed as the base was: the ifmap buffer's banks and
    port words follow the rows, the weight and ofmap buffers' and the vector lanes follow the columns,
    in proportion to the base array (the base zcu102 has 64 of each for 64x64).
    """
    pe = base.pe_array
    rows, cols = values.get("rows", pe.rows), values.get("cols", pe.cols)
    bufs = base.buffers
    ifmap, weight, ofmap = bufs.ifmap, bufs.weight, bufs.ofmap
    lanes = base.vector_unit.lanes
    if scale_ports and (rows != pe.rows or cols != pe.cols):
        ifmap = _scale_buffer(ifmap, rows / pe.rows)
        weight = _scale_buffer(weight, cols / pe.cols)
        ofmap = _scale_buffer(ofmap, cols / pe.cols)
        lanes = _scaled(lanes, cols / pe.cols)
    sizes = {"ifmap": ifmap, "weight": weight, "ofmap": ofmap}
    for name in sizes:
        if f"{name}_kib" in values:
            sizes[name] = _replace(sizes[name], size_kib=values[f"{name}_kib"])
    lanes = values.get("vector_lanes", lanes)
    pe = _replace(pe, rows=rows, cols=cols, dataflow=values.get("dataflow", pe.dataflow))
    dram = base.dram
    if "dram_bandwidth_gbps" in values:
        dram = _replace(dram, bandwidth_gbps=values["dram_bandwidth_gbps"])
    return dataclasses.replace(
        base, pe_array=pe, buffers=_replace(bufs, **sizes), dram=dram,
        clock_mhz=values.get("clock_mhz", base.clock_mhz),
        vector_unit=_replace(base.vector_unit, lanes=lanes))
