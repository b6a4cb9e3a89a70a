"""Operand width on the hardware: MACs per PE per cycle at each (weight, activation) width.
The `macs_per_cycle` table of a PE array, the rule that serves any width from it, and DSP packing.
"""
# The rule. A PE array lists the modes its PEs run in, e.g. {w16a16: 0.5, w8a8: 1, w4a4: 2}: one PE
# completes that many MACs per cycle on operands up to that width. A value >= 1 is an integer
# (MACs packed side by side in one PE); a value < 1 is 1/n (one MAC every n cycles). A layer of
# widths (w, a) runs in whichever mode is fastest for it: a mode (W, A, r) serves it at
# r / (ceil(w/W) * ceil(a/A)) - the narrower operands sign-extend, wider ones take extra passes.
# With no table the array has one mode, w{operand_bits}a{operand_bits}: 1 - the pass model the
# engine always had (narrower operands are not faster, wider ones take ceil(w/op)*ceil(a/op) passes),
# so existing YAML and SCALE-Sim .cfg files behave exactly as before.
from __future__ import annotations

import functools
import math
import re
from fractions import Fraction

from accel_sim.errors import UserError

MAX_BITS = 32   # widest operand a description may state (a 32-bit integer datapath); the workload checks it too
# Bounds of a MACs-per-cycle figure: 4 INT4 MACs per DSP48E2 is the densest packing published (WP521),
# 64 is far above; a bit-serial PE takes 64 cycles for an 8 x 8 MAC (Stripes, Judd et al. MICRO 2016).
MAX_PACKED, MAX_PASSES = 64, 64
_KEY = re.compile(r"^w(\d+)a(\d+)$")

# --- MACs per DSP slice, by operand width ----------------------------------------------------
# DSP48E2 (UltraScale / UltraScale+, UG579): one 27 x 18 multiplier plus a 48-bit accumulator.
#   16-bit (up to 27 x 18): one MAC per slice (UG579).
#   8-bit: two MACs per slice sharing one operand: two INT8 weights packed into the 27-bit port,
#          the activation on the 18-bit port (Xilinx WP486, "Deep Learning with INT8 Optimization
#          on Xilinx Devices", 2017).
#   4-bit: four MACs per slice (Xilinx WP521, "Convolutional Neural Network with INT4
#          Optimization on Xilinx Devices", 2020).
#   6-bit: still two MACs per slice. Packing n products of w x a bits side by side needs about
#          w + a bits between them: the 27-bit port holds floor((27 - w) / (w + a)) + 1 = 2 six-bit
#          weights, as for INT8 (Sommer et al., "DSP-Packing: Squeezing Low-precision Arithmetic into
#          FPGA DSP Blocks", FPL 2022, generalises WP486/WP521 to any width with that spacing), and
#          four 6 x 6 products (2 x 2, as WP521 does at 4 bits) would need 6 + 24 = 30 > 27 bits.
#          So w6a6 runs at the INT8 rate on DSP48E2; it moves 25 % fewer bytes.
# DSP48E1 (7 series, UG479): a 25 x 18 multiplier; no packing assumed (WP486 relies on the
# DSP48E2's wider pre-adder and multiplier), so one MAC per slice up to 25 x 18.
# Operands wider than the multiplier take ceil(wider/27) * ceil(narrower/18) slices per MAC (the
# wider operand goes on the 27-bit port).
DSP_MULTIPLIER_BITS = {"DSP48E2": (27, 18), "DSP48E1": (25, 18)}
DSP48E2_PACKING = ((4, 4, 4), (8, 8, 2))     # (max weight bits, max activation bits, MACs per slice)


def width_key(w_bits: int, a_bits: int) -> str:
    return f"w{w_bits}a{a_bits}"


def parse_width_key(key, field: str) -> tuple[int, int]:
    """'w8a4' -> (8, 4); UserError naming `field` otherwise."""
    match = _KEY.match(key) if isinstance(key, str) else None
    if not match or not all(1 <= int(g) <= MAX_BITS for g in match.groups()):
        raise UserError(f"{field} keys must look like w8a8 (weight and activation bits, 1-{MAX_BITS}); "
                        f"got {key!r}")
    return int(match.group(1)), int(match.group(2))


def parse_rate(value, field: str) -> Fraction:
    """A MACs-per-cycle figure: an integer >= 1, or 1/n for one MAC every n cycles."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if ok and 1 <= value <= MAX_PACKED and float(value).is_integer():
        return Fraction(int(value))
    if ok and value < 1:
        n = round(1 / value)
        if abs(1 / value - n) < 1e-9 and n <= MAX_PASSES:
            return Fraction(1, n)
    raise UserError(f"{field} must be an integer in [1, {MAX_PACKED}] (MACs packed per PE) or 1/n with n <= "
                    f"{MAX_PASSES}, such as 0.5 or 0.25 (one MAC every n cycles); got {str(value)[:40]}")


def normalise_table(table, field: str) -> tuple[tuple[int, int, float], ...]:
    """A {'w8a8': 1, ...} mapping (or its tuple form) as sorted (w_bits, a_bits, macs) triples."""
    if isinstance(table, dict):
        items = [(*parse_width_key(k, field), v, f"{field}.{k}") for k, v in table.items()]
    elif isinstance(table, (tuple, list)):
        try:
            items = [(w, a, v, f"{field}.{width_key(w, a)}") for w, a, v in table]
        except (TypeError, ValueError):
            raise UserError(f"{field} must map width keys such as w8a8 to MACs per cycle") from None
    else:
        raise UserError(f"{field} must map width keys such as w8a8 to MACs per cycle, got {table!r}")
    out = {}
    for w, a, value, where in items:
        if not all(isinstance(x, int) and 1 <= x <= MAX_BITS for x in (w, a)):
            raise UserError(f"{field} widths must be integers 1-{MAX_BITS}, got {(w, a)!r}")
        out[(w, a)] = float(parse_rate(value, where))
    return tuple((w, a, r) for (w, a), r in sorted(out.items()))


@functools.lru_cache(maxsize=4096)
def best_rate(modes: tuple, w_bits: int, a_bits: int) -> Fraction:
    """MACs per PE per cycle for (w_bits, a_bits): the fastest mode, with passes for wider operands."""
    best = Fraction(0)
    for w, a, r in modes:
        passes = -(-int(w_bits) // w) * -(-int(a_bits) // a)
        rate = Fraction(r).limit_denominator(1 << 20) / passes
        if rate > best:
            best = rate
    return best


def dsp_macs_per_slice(dsp_type: str, w_bits: int, a_bits: int) -> Fraction:
    """MACs one DSP slice completes per cycle at these widths (the table above)."""
    if dsp_type == "DSP48E2":
        for w_max, a_max, macs in DSP48E2_PACKING:
            if w_bits <= w_max and a_bits <= a_max:
                return Fraction(macs)
    wide, narrow = DSP_MULTIPLIER_BITS[dsp_type]
    big, small = max(w_bits, a_bits), min(w_bits, a_bits)
    return Fraction(1, -(-big // wide) * -(-small // narrow))
