"""Translate our Accelerator and IR ops into ZigZag 3.9 inputs (hardware, workload, mapping as dicts).
Pure Python, no ZigZag import: bench_vs_zigzag.py writes these as YAML for the ZigZag venv to read.
"""
# What the translation mirrors exactly: the array (R x C PEs, WS: the reduction dimension C on the
# rows D1, output channels K on the columns D2, both systolic), the three operand buffers (size,
# double buffering as ZigZag's `force_double_buffering`, array-side and fill-side bandwidth), the
# DRAM (bandwidth in bits per cycle), operand and partial-sum widths, and the energy of every event
# from our EnergyTable: a MAC plus its register accesses (folded into ZigZag's `unit_energy`, since
# our systolic dataflows charge `rf_accesses_per_mac` register accesses per MAC whatever the mapping),
# a buffer bit at that buffer's size-scaled cost, a DRAM bit. ZigZag costs a memory access of
# `bandwidth_max` bits at `r_cost`/`w_cost`, so each cost is our per-bit energy x that width, and
# `bandwidth_min` is one word so small transfers are not rounded up to a whole port.
# What it cannot: see the comment block of bench_vs_zigzag.py.
from __future__ import annotations

import math

import dataflows
from accel_sim.config import Accelerator
from accel_sim.errors import UserError
from codesign.ir import ConvAttrs, Op

DRAM_BITS = 1 << 40        # ZigZag needs a DRAM size; any size larger than a network's tensors
MEMORY_LATENCY = 1         # ZigZag's per-access latency in cycles; accel_sim has none (pipelined)
LINKS = {"O": "O", "W": "I2", "I": "I1"}   # layer operand -> ZigZag memory operand


def _port(name: str, kind: str, bits: int, word_bits: int, allocation: list[str]) -> dict:
    return {"name": name, "type": kind, "bandwidth_min": min(word_bits, bits), "bandwidth_max": bits,
            "allocation": allocation}


def _memory(size_bits: int, pj_per_bit: float, read_bits: int, write_bits: int, word_bits: int,
            operand: str, served: list[str], double: bool) -> dict:
    """One ZigZag memory holding one operand, with a read port and a write port."""
    if operand == "O":   # partial sums go down to the array and up to DRAM, and come back from both
        reads, writes = ["O, tl", "O, th"], ["O, fh", "O, fl"]
    else:
        reads, writes = [f"{operand}, tl"], [f"{operand}, fh"]
    return {"size": int(size_bits), "r_cost": pj_per_bit * read_bits, "w_cost": pj_per_bit * write_bits,
            "area": 0.0, "latency": MEMORY_LATENCY, "operands": [operand],
            "ports": [_port("r_port_1", "read", read_bits, word_bits, reads),
                      _port("w_port_1", "write", write_bits, word_bits, writes)],
            "served_dimensions": served, "force_double_buffering": double}


def _check_translatable(accel: Accelerator) -> None:
    pe = accel.pe_array
    if pe.dataflow is not dataflows.Dataflow.WS:
        raise UserError(f"the ZigZag translation covers weight-stationary arrays; {accel.name!r} is "
                        f"{pe.dataflow.value}")
    if accel.register_file is not None or accel.lut_array is not None:
        raise UserError(f"{accel.name!r}: scratchpads and a LUT array have no ZigZag counterpart here")
    if pe.modes != ((pe.operand_bits, pe.operand_bits, 1.0),):
        raise UserError(f"{accel.name!r}: packed MAC modes (macs_per_cycle) have no ZigZag counterpart")


def mac_with_registers_pj(accel: Accelerator) -> float:
    """Energy of one native-width MAC and the register accesses our dataflow charges to it."""
    pe = accel.pe_array
    plan = dataflows.plan(pe.dataflow, dataflows.Dims.gemm(1, 1, 1), accel.array_shape())
    mac = float(accel.energy.mac_energy_pj(pe.operand_bits, pe.operand_bits, pe.operand_bits))
    return mac + plan.rf_accesses_per_mac * accel.energy.rf_access_pj


def zigzag_hardware(accel: Accelerator) -> dict:
    """The ZigZag accelerator description of `accel` (a weight-stationary array, no scratchpads)."""
    _check_translatable(accel)
    pe, energy = accel.pe_array, accel.energy
    ob = pe.operand_bits
    # the stationary weight of each PE; its access energy is in unit_energy (mac_with_registers_pj).
    # No per-PE accumulator: partial sums flow down the columns into the output buffer, where they
    # accumulate across folds, as in our WS model (a PE register holding a psum over time would let
    # ZigZag map the array output-stationary in time).
    # With pipelined folds the register holds the next fold's weight too (double-buffered PE).
    double = pe.pipelined_folds
    memories = {"w_reg": _memory(ob * (2 if double else 1), 0.0, ob, ob, ob, "I2", [], double)}
    for name, operand in (("ifmap", "I1"), ("weight", "I2"), ("ofmap", "O")):
        buf = getattr(accel.buffers, name)
        memories[f"{name}_buffer"] = _memory(
            buf.size_bytes * 8, energy.buffer_pj_per_bit(buf.size_kib),
            int(buf.read_bw_words_per_cycle * buf.word_bits), int(buf.write_bw_words_per_cycle * buf.word_bits),
            buf.word_bits, operand, ["D1", "D2"], buf.double_buffered)
    dram_bits = int(math.floor(accel.dram_bytes_per_cycle * 8))
    alloc = [f"{op}, {d}" for op in ("I1", "I2") for d in ("fh", "tl")] + [f"O, {d}" for d in ("fh", "tl", "fl", "th")]
    memories["dram"] = {"size": DRAM_BITS, "r_cost": accel.dram.energy_pj_per_bit * dram_bits,
                        "w_cost": accel.dram.energy_pj_per_bit * dram_bits, "area": 0.0,
                        "latency": MEMORY_LATENCY, "operands": ["I1", "I2", "O"],
                        "ports": [_port("rw_port_1", "read_write", dram_bits, 8, alloc)],
                        "served_dimensions": ["D1", "D2"]}
    return {"name": accel.name, "memories": memories,
            "operational_array": {"unit_energy": mac_with_registers_pj(accel), "unit_area": 1.0,
                                  "dimensions": ["D1", "D2"], "sizes": [pe.rows, pe.cols],
                                  "systolic_dimensions": ["D1", "D2"]}}


def _precision(op: Op, accel: Accelerator) -> dict:
    b_bits = op.a_bits if op.b_is_activation else op.w_bits
    return {"W": b_bits, "I": op.a_bits, "O": accel.pe_array.accum_bits, "O_final": op.a_bits}


def zigzag_layer(op: Op, layer_id: int, accel: Accelerator) -> dict:
    """One PE-array op as a ZigZag layer. Both operands are its own (`operand_source` = itself), so
    every layer reads its inputs from DRAM and writes its output back, as accel_sim does."""
    if not op.on_pe_array:
        raise UserError(f"op {op.name!r} runs on the vector unit; ZigZag models the PE array only")
    common = {"id": layer_id, "name": op.name, "operand_precision": _precision(op, accel),
              "operand_source": {"I": layer_id, "W": layer_id}}
    if isinstance(op.attrs, ConvAttrs):
        a = op.attrs
        if a.groups != 1 or a.dilation != (1, 1):
            raise UserError(f"op {op.name!r}: grouped or dilated convs are not translated")
        images, _, out_h, out_w = op.output
        (fy, fx), (sy, sx), (py, px) = a.kernel, a.stride, a.padding
        return {**common, "operator_type": "Conv",
                "equation": "O[b][k][oy][ox]+=W[k][c][fy][fx]*I[b][c][iy][ix]",
                "dimension_relations": [f"ix={sx}*ox+1*fx", f"iy={sy}*oy+1*fy"],
                "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
                "loop_sizes": [images, a.out_channels, a.in_channels, out_h, out_w, fy, fx],
                "pr_loop_dims": ["IY", "IX"], "padding": [[py, py], [px, px]]}
    g = op.gemm
    if g.batch == 1:
        return {**common, "operator_type": "Gemm", "equation": "O[b][k]+=I[b][c]*W[c][k]",
                "loop_dims": ["B", "C", "K"], "loop_sizes": [g.m, g.k, g.n]}
    # independent products (attention heads): G is ZigZag's group dimension
    return {**common, "operator_type": "Gemm", "equation": "O[g][b][k]+=I[g][b][c]*W[g][c][k]",
            "loop_dims": ["G", "B", "C", "K"], "loop_sizes": [g.batch, g.m, g.k, g.n]}


def zigzag_workload(ops: list[Op], accel: Accelerator) -> list[dict]:
    return [zigzag_layer(op, i, accel) for i, op in enumerate(ops)]


def zigzag_mapping(ops: list[Op], accel: Accelerator) -> list[dict]:
    """Spatial mapping fixed to ours: reduction on the rows, output channels on the columns. A conv
    with fewer input channels than rows also unrolls kernel rows on D1, the nearest ZigZag gets to
    our im2col rows (c x fy x fx flattened)."""
    rows, cols = accel.pe_array.rows, accel.pe_array.cols
    default = {"name": "default", "spatial_mapping": {"D1": [f"C, {rows}"], "D2": [f"K, {cols}"]},
               "memory_operand_links": dict(LINKS)}
    out = [default]
    for op in ops:
        if isinstance(op.attrs, ConvAttrs) and op.attrs.in_channels < rows and op.attrs.kernel[0] > 1:
            c, fy = op.attrs.in_channels, op.attrs.kernel[0]
            d1 = [f"C, {c}", f"FY, {min(fy, rows // c)}"]
            out.append({"name": op.name, "spatial_mapping": {"D1": d1, "D2": [f"K, {cols}"]},
                        "memory_operand_links": dict(LINKS)})
    return out
