"""Energy per operation: the `EnergyTable` of an accelerator and the published figures behind it.
Each constant carries its source; scaling laws (operand width, SRAM capacity) are stated here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accel_sim.inputs.numbers import check_number

# --- Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, 45 nm ---
HOROWITZ_INT8_MULT_PJ = 0.2          # 8-bit integer multiply
HOROWITZ_INT32_ADD_PJ = 0.1          # 32-bit integer add (the accumulator of an 8-bit MAC)
HOROWITZ_INT32_MULT_PJ = 3.1         # 32-bit integer multiply: ~(32/8)^2 x the 8-bit one
HOROWITZ_FP16_ADD_PJ = 0.4           # 16-bit floating-point add
HOROWITZ_FP16_MULT_PJ = 1.1          # 16-bit floating-point multiply
HOROWITZ_SRAM_8KIB_64BIT_PJ = 10.0   # 64-bit read of an 8 KB SRAM (32 KB: 20 pJ, 1 MB: 100 pJ)
HOROWITZ_DRAM_64BIT_PJ = 1300.0      # 64-bit DRAM access: 1.3-2.6 nJ; the low end -> ~20 pJ/bit

INT8_MAC_PJ = HOROWITZ_INT8_MULT_PJ + HOROWITZ_INT32_ADD_PJ         # 0.3 pJ per 8-bit MAC
# Of a MAC's energy the multiplier takes 0.2 / 0.3 = 2/3 and scales ~ w_bits * a_bits (array
# multiplier: 8- vs 32-bit multiply is 0.2 vs 3.1 pJ, ~16x for 4x the width); the adder/accumulator
# takes the rest and scales ~ linearly in the operand widths (Horowitz: 8- vs 32-bit add 0.03 vs 0.1 pJ).
MAC_MULT_FRACTION = HOROWITZ_INT8_MULT_PJ / INT8_MAC_PJ
FP16_MAC_PJ = HOROWITZ_FP16_MULT_PJ + HOROWITZ_FP16_ADD_PJ          # 1.5 pJ per fp16 multiply-add
SRAM_PJ_PER_BIT_AT_8KIB = HOROWITZ_SRAM_8KIB_64BIT_PJ / 64          # 0.156 pJ/bit at 8 KiB
# Horowitz's three points (8 KB 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ) follow energy ~ capacity^0.5,
# the square-root wire-length scaling that CACTI-style models also give for one bank.
SRAM_SIZE_EXPONENT = 0.5
DRAM_PJ_PER_BIT = HOROWITZ_DRAM_64BIT_PJ / 64                       # ~20 pJ/bit

# --- Eyeriss: Chen, Emer, Sze ISCA 2016 (Table IV) / Chen et al. JSSC 2017, 65 nm, 16-bit ---
# Energy normalised to one MAC: RF 1x, inter-PE NoC 2x, global buffer (108 KB) 6x, DRAM 200x.
EYERISS_RF_X = 1.0
EYERISS_NOC_X = 2.0
EYERISS_GLB_X = 6.0
EYERISS_DRAM_X = 200.0

# --- FPGA overhead: Kuon & Rose, "Measuring the gap between FPGAs and ASICs", IEEE TCAD 2007 ---
# Dynamic power of an FPGA design is ~14x the ASIC one, ~7x when hard DSP/memory blocks are used.
FPGA_HARD_BLOCK_POWER_X = 7.0
FPGA_SOFT_LOGIC_POWER_X = 14.0
# A MAC built from LUTs (the lut_array) against the same MAC in a hard DSP block: 14 / 7 = 2x.
LUT_MAC_ENERGY_X = FPGA_SOFT_LOGIC_POWER_X / FPGA_HARD_BLOCK_POWER_X

# Register / scratchpad accesses per MAC, by dataflow code (ws, os, is, rs): a systolic PE touches
# two operand registers and one accumulator (assumption: pipeline registers, no scratchpad); an
# Eyeriss PE reads ifmap, filter and psum and writes the psum in its scratchpads (Chen et al. ISCA 2016).
RF_ACCESSES_PER_MAC = np.array([3.0, 3.0, 3.0, 4.0])


@dataclass(frozen=True)
class EnergyTable:
    """Energy per event at the array's native operand width.

    `mac_pj` is one MAC at `PEArray.operand_bits` (ob); at other widths its multiplier share
    `mac_mult_fraction` scales by (w_bits * a_bits) / ob^2 and the adder share by
    (w_bits + a_bits) / (2 ob) (Horowitz ISSCC 2014: multiplier ~ quadratic, adder ~ linear in
    width; see MAC_MULT_FRACTION). `rf_access_pj` is one register or
    scratchpad access of one native-width operand. A buffer access costs `buffer_pj_per_bit_ref`
    per bit for a buffer of `buffer_ref_kib`, scaled by (size / ref) ** `buffer_size_exponent`.
    `noc_pj_per_bit` is the wire from a buffer to the PEs (Eyeriss counts it apart; 0 if folded
    into the buffer figure). `vector_op_pj` is one lane-cycle of the vector unit.
    """
    mac_pj: float
    rf_access_pj: float
    buffer_pj_per_bit_ref: float
    buffer_ref_kib: float
    vector_op_pj: float
    buffer_size_exponent: float = SRAM_SIZE_EXPONENT
    noc_pj_per_bit: float = 0.0
    mac_mult_fraction: float = MAC_MULT_FRACTION

    def __post_init__(self):
        for name in ("mac_pj", "rf_access_pj", "buffer_pj_per_bit_ref", "buffer_ref_kib",
                     "vector_op_pj", "buffer_size_exponent", "noc_pj_per_bit", "mac_mult_fraction"):
            zero_ok = name in ("buffer_size_exponent", "noc_pj_per_bit", "mac_mult_fraction")
            fraction = name in ("buffer_size_exponent", "mac_mult_fraction")
            check_number(getattr(self, name), name, minimum=0.0, strict=not zero_ok,
                         maximum=1.0 if fraction else None)

    def buffer_pj_per_bit(self, size_kib: float) -> float:
        """Energy of moving one bit in or out of a buffer of `size_kib` KiB."""
        return self.buffer_pj_per_bit_ref * (size_kib / self.buffer_ref_kib) ** self.buffer_size_exponent

    def mac_energy_pj(self, w_bits, a_bits, operand_bits: int) -> np.ndarray:
        """Energy of one MAC with these operand widths (element-wise over arrays)."""
        w = np.asarray(w_bits, dtype=np.float64)
        a = np.asarray(a_bits, dtype=np.float64)
        ob = float(operand_bits)
        mult = self.mac_mult_fraction
        return self.mac_pj * (mult * (w * a) / (ob * ob) + (1.0 - mult) * (w + a) / (2.0 * ob))


def horowitz_45nm(operand_bits: int = 8, fpga: bool = False) -> EnergyTable:
    """A table from Horowitz's 45 nm figures (8-bit int or fp16 MACs); FPGA overhead optional."""
    mac = INT8_MAC_PJ if operand_bits <= 8 else FP16_MAC_PJ
    scale = FPGA_HARD_BLOCK_POWER_X if fpga else 1.0
    return EnergyTable(mac_pj=mac * scale, rf_access_pj=mac * EYERISS_RF_X * scale,
                       buffer_pj_per_bit_ref=SRAM_PJ_PER_BIT_AT_8KIB * scale, buffer_ref_kib=8.0,
                       vector_op_pj=FP16_MAC_PJ * scale)
