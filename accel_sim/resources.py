"""FPGA resources an Accelerator needs on a Device: DSP slices, BRAM18K / URAM, LUTs and FFs.
`estimate_resources(accel, device)` gives a frozen ResourceEstimate: used, available, fit.
"""
# The model, component by component (each figure is a datasheet rule, a cited model or a stated
# assumption):
# - PE array -> DSP slices. The array must deliver every rate its `macs_per_cycle` table promises:
#   DSPs = ceil(max over the table's modes of PEs x MACs per PE per cycle / MACs per DSP slice at
#   that width), the slice packing of accel_sim/packing.py (UG579, WP486 INT8 x2, WP521 INT4 x4).
#   For tables derived from DSP packing every mode gives the same count. Operand forwarding uses the
#   DSP48's own A/B/P pipeline registers (UG579): no fabric is counted for DSP PEs (assumption).
# - Buffers -> BRAM18K or URAM. Each buffer is `banks` independent memories of size/banks bytes
#   whose port is word_bits x ceil(words per cycle / banks) wide (the wider of read and write),
#   in simple dual-port mode. A BRAM18K is 16K x 1, 8K x 2, 4K x 4, 2K x 9, 1K x 18 or 512 x 36
#   (UG573; the 512 x 72 SDP RAMB36 is two of the 512 x 36); a bank takes the cheapest aspect
#   ratio, tiling width and depth. A URAM is 4K x 72 (288 Kb, UG573). A double-buffered buffer's
#   size_kib already holds both halves, so the full size is counted. Placement: largest buffer
#   first, into URAM when the device has enough left and the buffer takes a smaller share of the
#   device's URAM than it would of its BRAM18K; otherwise BRAM.
# - LUT array -> LUTs (rows x cols x luts_per_pe, from the description) plus FINN's fixed 300 LUTs
#   per MVAU (FINN-R cost model, below); FFs: one register per operand bit of every lane and the
#   accumulator, Q x (1 + a_bits) + accum_bits per PE (assumption).
# - Vector unit, per lane (assumption, not a published figure): 2 DSP48 (a multiply-add for
#   LayerNorm scale/shift and the exp/GELU polynomial, one for reciprocal and rsqrt by
#   Newton-Raphson), 800 LUTs and 1,200 FFs (16-bit datapath, max/sum trees, exp table in LUTRAM).
# - Control and AXI (assumption): three AXI4 DMA read/write masters (one per buffer), an AXI4-Lite
#   control slave and the sequencer: 12,000 LUTs and 18,000 FFs, FIFOs in LUTRAM (no BRAM), of
#   the order of Xilinx's AXI DMA IP (PG021) per master.
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from accel_sim.config import Accelerator, Buffer
from accel_sim.devices import RESOURCE_ORDER, Device, get_device
from accel_sim.packing import dsp_macs_per_slice

BRAM18K_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36))  # (depth, width)
URAM_SHAPE = (4096, 72)
# Assumptions, not datasheet figures (no published per-lane cost fits every vector unit): one lane
# of the vector unit = a multiplier and a multiply-add (2 DSP) plus LUT-exp/compare/normalise logic
# (~800 LUT, ~1,200 FF); control, descriptor fetch and the AXI masters ~12k LUT and ~18k FF for the
# whole accelerator, no BRAM. docs/fpga_resources.md lists them as assumptions.
VECTOR_LANE = {"dsp": 2, "lut": 800, "ff": 1200}
CONTROL = {"lut": 12_000, "ff": 18_000}
# FINN-R (Blott et al., ACM TRETS 2018) LUT model of a matrix-vector unit, as coded in FINN's
# MVAU.lut_estimation: per PE c1 x (Q x LUT multiplier + adder tree + accumulator), c0 per unit.
FINN_R_C0_LUTS = 300
FINN_R_C1 = 1.1


def finn_r_luts_per_pe(simd: int, w_bits: int, a_bits: int, acc_bits: int) -> float:
    """FINN-R LUTs of one PE with `simd` lanes: multipliers (2 ceil((W+A)/6) - 1)(W+A) per lane,
    an adder tree (W+A)(2 Q - 1) and an accumulator of acc_bits; for `luts_per_pe` in YAML."""
    width = w_bits + a_bits
    mult = simd * (2 * math.ceil(width / 6) - 1) * width
    return FINN_R_C1 * (mult + width * (2 * simd - 1) + acc_bits)


def bram18k_blocks(width_bits: int, depth: int) -> int:
    """BRAM18K blocks for one width x depth memory at its cheapest aspect ratio."""
    return min(-(-width_bits // w) * -(-depth // d) for d, w in BRAM18K_SHAPES)


def uram_blocks(width_bits: int, depth: int) -> int:
    depth_per, width_per = URAM_SHAPE
    return -(-width_bits // width_per) * -(-depth // depth_per)


def buffer_blocks(buf: Buffer) -> tuple[int, int, int, int]:
    """(BRAM18K blocks, URAM blocks, bank width bits, bank depth) of one buffer, all banks."""
    words = max(buf.read_bw_words_per_cycle, buf.write_bw_words_per_cycle)
    width = buf.word_bits * max(1, math.ceil(words / buf.banks - 1e-9))
    depth = max(1, math.ceil(buf.size_bytes * 8 / buf.banks / width - 1e-9))
    return buf.banks * bram18k_blocks(width, depth), buf.banks * uram_blocks(width, depth), width, depth


@dataclass(frozen=True, eq=False)
class ResourceEstimate:
    """What a design uses on a device, per resource (dsp, bram18k, uram, lut, ff) and per part."""
    accelerator: str
    device: Device
    used: dict                    # resource -> count
    breakdown: dict               # component -> {resource: count}
    placement: dict = field(default_factory=dict)   # buffer -> "bram18k" | "uram"

    @property
    def available(self) -> dict:
        return self.device.available()

    @property
    def utilization(self) -> dict:
        """used / available per resource (inf when the device has none of a resource in use)."""
        out = {}
        for name, have in self.available.items():
            need = self.used[name]
            out[name] = need / have if have else (math.inf if need else 0.0)
        return out

    @property
    def first_overflow(self) -> str | None:
        """The first resource (in RESOURCE_ORDER: dsp, bram18k, uram, lut, ff) that does not fit."""
        return next((name for name in RESOURCE_ORDER if self.used[name] > self.available[name]), None)

    @property
    def fits(self) -> bool:
        return self.first_overflow is None

    def to_dict(self) -> dict:
        util = self.utilization
        return {"device": self.device.name, "part": self.device.part, "accelerator": self.accelerator,
                "used": dict(self.used), "available": self.available,
                "utilization": {k: (v if math.isfinite(v) else None) for k, v in util.items()},
                "fits": self.fits, "first_overflow": self.first_overflow,
                "breakdown": {k: dict(v) for k, v in self.breakdown.items()},
                "buffer_placement": dict(self.placement), "order": list(RESOURCE_ORDER)}


def _pe_array_dsps(accel: Accelerator, dsp_type: str) -> int:
    pe = accel.pe_array
    need = max(pe.pes * Fraction(r).limit_denominator(1 << 20) / dsp_macs_per_slice(dsp_type, w, a)
               for w, a, r in pe.modes)
    return math.ceil(need)


def _place_buffers(accel: Accelerator, device: Device) -> tuple[dict, dict]:
    """(placement per buffer, {buffer: {resource: blocks}}), largest buffer first."""
    placement, usage = {}, {}
    uram_left = device.uram
    for name, buf in sorted(accel.buffers.items(), key=lambda item: -item[1].size_kib):
        bram, uram, _, _ = buffer_blocks(buf)
        share_bram = bram / device.bram18k if device.bram18k else math.inf
        share_uram = uram / device.uram if device.uram else math.inf
        if uram <= uram_left and share_uram < share_bram:
            placement[name], usage[name] = "uram", {"uram": uram}
            uram_left -= uram
        else:
            placement[name], usage[name] = "bram18k", {"bram18k": bram}
    order = [name for name, _ in accel.buffers.items()]
    return {n: placement[n] for n in order}, {n: usage[n] for n in order}


def resource_inputs(accel: Accelerator) -> tuple:
    """What of `accel` its resource estimate depends on (not its clock or DRAM): a memo key."""
    return (accel.pe_array, accel.buffers, accel.lut_array, accel.vector_unit)


def estimate_resources(accel, device) -> ResourceEstimate:
    """Resources of `accel` (an Accelerator: accel_sim.load_accelerator reads one) on `device` (a
    Device, board or part name)."""
    if not isinstance(accel, Accelerator):
        raise TypeError("estimate_resources() takes an Accelerator; read one with accel_sim.load_accelerator")
    device = get_device(device)
    lanes = accel.vector_unit.lanes
    breakdown = {"pe_array": {"dsp": _pe_array_dsps(accel, device.dsp_type)}}
    placement, buffers = _place_buffers(accel, device)
    for name, use in buffers.items():
        breakdown[f"buffers.{name}"] = use
    lut = accel.lut_array
    if lut is not None:
        ffs = lut.macs_per_pe_per_cycle * (1 + lut.a_bits) + accel.pe_array.accum_bits
        breakdown["lut_array"] = {"lut": math.ceil(lut.pes * lut.luts_per_pe) + FINN_R_C0_LUTS,
                                  "ff": lut.pes * ffs}
    breakdown["vector_unit"] = {k: lanes * v for k, v in VECTOR_LANE.items()}
    breakdown["control"] = dict(CONTROL)
    used = {name: sum(part.get(name, 0) for part in breakdown.values()) for name in RESOURCE_ORDER}
    return ResourceEstimate(accel.name, device, used, breakdown, placement)
