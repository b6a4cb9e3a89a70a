"""Read SCALE-Sim's files as they are: a .cfg becomes an Accelerator, a topology CSV a Workload.
Malformed files raise UserError naming the file, the line and the column.
"""
from __future__ import annotations

import math
import os
import re

from accel_sim.config import (Accelerator, Buffer, Buffers, Dram, PEArray, VectorCycles, VectorUnit,
                              parse_dataflow)
from accel_sim.energy import DRAM_PJ_PER_BIT, horowitz_45nm
from accel_sim.errors import UserError
from accel_sim.inputs import parse_float, parse_int, read_ini, read_text
from accel_sim.inputs.numbers import check_macs
from accel_sim.workload import Layer, LayerKind, Workload

SCALESIM_CLOCK_MHZ = 1000      # assumption: SCALE-Sim counts cycles only; 1 GHz -> 1 cycle = 1 ns
SCALESIM_WORD_BITS = 8         # SCALE-Sim's memory model uses 1-byte words (single_layer_sim.py)
SCALESIM_DEFAULT_BANDWIDTH = 10  # words/cycle, SCALE-Sim's example configuration
CALC_WORDS_PER_CYCLE = 1e6      # stands for "as fast as needed": far above any array's demand
# Vector-unit cycles per element (SCALE-Sim has none). Assumption: a LUT-based exp; softmax takes
# max, exp-and-sum and normalise passes, layernorm mean, variance and scale passes.
DEFAULT_VECTOR_CYCLES = VectorCycles(exp_softmax=4, layernorm=3, gelu=2, activation=1, eltwise=1,
                                     pooling=1)

_CFG_KEYS = ("ArrayHeight", "ArrayWidth", "IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB", "Dataflow")
_GEMM_HEADER = ("m", "n", "k")
_CONV_FIELDS = ("IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels",
                "Num Filter", "Stride Height", "Stride Width")


def _where(text: str, key: str) -> tuple[int, int]:
    """(line, column) of the value of `key` in a cfg text, 1-based; (0, 0) if absent."""
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.match(rf"\s*{re.escape(key)}\s*[:=]\s*", line, flags=re.IGNORECASE)
        if match:
            return number, match.end() + 1
    return 0, 0


def read_scalesim_cfg(path) -> Accelerator:
    """An Accelerator from a SCALE-Sim .cfg ([architecture_presets]); bandwidth in words/cycle."""
    path = os.fspath(path)
    label = os.path.basename(path)
    parser, text = read_ini(path, "SCALE-Sim config", label)
    section = "architecture_presets"
    if not parser.has_section(section):
        raise UserError(f"{label}: missing section [{section}]")
    arch = parser[section]
    values = {}
    for key in _CFG_KEYS:
        if key not in arch:
            raise UserError(f"{label}: missing key {key} in [{section}]")
        raw = arch[key].strip()
        line, col = _where(text, key)
        if key == "Dataflow":
            if raw.lower() not in ("os", "ws", "is"):
                raise UserError(f"{label}: line {line}, column {col}: Dataflow must be one of "
                                f"os, ws, is; got {raw!r}")
            values[key] = parse_dataflow(raw.lower(), key)
            continue
        field = {"ArrayHeight": "rows", "ArrayWidth": "cols"}.get(key, "size_kib")
        values[key] = _at(label, line, col, parse_int, raw, key, field)
    bandwidth = SCALESIM_DEFAULT_BANDWIDTH
    if "Bandwidth" in arch:
        raw = arch["Bandwidth"].strip()
        line, col = _where(text, "Bandwidth")
        bandwidth = _at(label, line, col, parse_float, raw.split(",")[0], "Bandwidth", "read_bw_words_per_cycle")
    # SCALE-Sim's [run_presets] InterfaceBandwidth: CALC (its default) sizes the DRAM interface to
    # whatever each layer needs, so nothing stalls on DRAM; USER uses `Bandwidth`. We do the same.
    mode = parser.get("run_presets", "InterfaceBandwidth", fallback="CALC").strip().upper()
    if mode not in ("CALC", "USER"):
        line, col = _where(text, "InterfaceBandwidth")
        raise UserError(f"{label}: line {line}, column {col}: InterfaceBandwidth must be CALC or USER, "
                        f"got {mode!r}")
    if mode == "CALC":
        bandwidth = CALC_WORDS_PER_CYCLE
    rows, cols = values["ArrayHeight"], values["ArrayWidth"]
    port = float(max(rows, cols))   # SCALE-Sim's SRAMs never starve the array
    buffers = Buffers(*(Buffer(size_kib=values[key], word_bits=SCALESIM_WORD_BITS, banks=1,
                               read_bw_words_per_cycle=port, write_bw_words_per_cycle=port,
                               double_buffered=True)
                        for key in ("IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB")))
    name = parser.get("general", "run_name", fallback=os.path.splitext(label)[0]).strip()
    gbps = bandwidth * SCALESIM_WORD_BITS / 8 * SCALESIM_CLOCK_MHZ * 1e6 / 1e9
    return Accelerator(
        name=name or "scalesim", clock_mhz=SCALESIM_CLOCK_MHZ,
        pe_array=PEArray(rows, cols, values["Dataflow"], operand_bits=SCALESIM_WORD_BITS),
        buffers=buffers, register_file=None,
        dram=Dram(bandwidth_gbps=gbps, energy_pj_per_bit=DRAM_PJ_PER_BIT),
        vector_unit=VectorUnit(lanes=cols, cycles_per_element=DEFAULT_VECTOR_CYCLES),
        energy=horowitz_45nm(SCALESIM_WORD_BITS),
        description=f"SCALE-Sim config {label}: {rows}x{cols} {values['Dataflow'].value}, "
                    + ("DRAM as fast as needed (InterfaceBandwidth CALC)" if mode == "CALC"
                       else f"{bandwidth:g} words/cycle"))


def _at(label: str, line: int, col: int, parse, raw: str, name: str, field: str):
    """`parse(raw)` with the bounds of `field`; a UserError names the file, line, column and `name`."""
    try:
        return parse(raw, field)
    except UserError as err:
        reason = str(err).split(" must ", 1)[1]
        raise UserError(f"{label}: line {line}, column {col}: {name} must {reason}") from None


def _cells(line: str) -> list[str]:
    cells = [c.strip() for c in line.split(",")]
    while cells and cells[-1] == "":
        cells.pop()
    return cells


def read_topology_layers(path, *, bits: int = SCALESIM_WORD_BITS) -> list[Layer]:
    """Layers of a SCALE-Sim topology CSV, conv form or GEMM form (told apart by the header)."""
    path = os.fspath(path)
    label = os.path.basename(path)
    lines = read_text(path, "topology", label).splitlines()
    numbered = [(i, _cells(x)) for i, x in enumerate(lines, start=1) if x.strip()]
    if not numbered:
        raise UserError(f"{label}: empty topology file")
    head_line, header = numbered[0]
    lowered = [h.lower() for h in header]
    if tuple(lowered[1:4]) == _GEMM_HEADER:
        gemm, fields = True, ("M", "N", "K")
    elif len(lowered) > 1 and "ifmap" in lowered[1]:
        gemm, fields = False, _CONV_FIELDS
    else:
        raise UserError(f"{label}: line {head_line}: unknown header; expected 'Layer, M, N, K,' "
                        f"or 'Layer name, IFMAP Height, IFMAP Width, Filter Height, ...'")
    layers = []
    for line, cells in numbered[1:]:
        need = 4 if gemm else 8
        if len(cells) < need:
            raise UserError(f"{label}: line {line}, column {len(cells) + 1}: expected {need} "
                            f"values (name, {', '.join(fields[:need - 1])}), found {len(cells)}")
        name = cells[0] or f"layer{len(layers)}"
        nums = []
        for col, (field, raw) in enumerate(zip(fields, cells[1:len(fields) + 1]), start=2):
            nums.append(_at(label, line, col, parse_int, raw, field, "dim"))
        check_macs(math.prod(nums[:3]) if gemm else math.prod(nums[:6]), f"{label}: line {line}")
        if gemm:
            m, n, k = nums
            layers.append(Layer(name, LayerKind.GEMM, m=m, n=n, k=k, w_bits=bits, a_bits=bits,
                                label="gemm"))
            continue
        h, w, fh, fw, ch, nf, sh = nums[:7]
        sw = nums[7] if len(nums) > 7 else sh
        if fh > h or fw > w:
            col = 4 if fh > h else 5
            raise UserError(f"{label}: line {line}, column {col}: the filter ({fh}x{fw}) is larger "
                            f"than the IFMAP ({h}x{w})")
        # SCALE-Sim sizes the ofmap as ceil((H - R + S) / S): a partial last window counts when the
        # stride does not divide H - R (PyTorch floors). Its files are read with its definition.
        oh, ow = -(-(h - fh + sh) // sh), -(-(w - fw + sw) // sw)
        if "DP" in name:   # SCALE-Sim's depthwise rows: one single-channel layer per channel
            layers.append(Layer(name, LayerKind.CONV, m=oh * ow, n=nf, k=fh * fw, batch=ch,
                                a_elems=h * w, kh=fh, kw=fw, stride=sh, oh=oh, ow=ow,
                                w_bits=bits, a_bits=bits, label="conv_dw"))
        else:
            layers.append(Layer(name, LayerKind.CONV, m=oh * ow, n=nf, k=fh * fw * ch,
                                a_elems=h * w * ch, kh=fh, kw=fw, stride=sh, oh=oh, ow=ow,
                                w_bits=bits, a_bits=bits, label="conv"))
    if not layers:
        raise UserError(f"{label}: no layers after the header")
    return layers


def read_topology(path, *, bits: int = SCALESIM_WORD_BITS) -> Workload:
    """A Workload from a SCALE-Sim topology CSV (IFMAP sizes are taken as already padded)."""
    return Workload.from_layers(read_topology_layers(path, bits=bits))
