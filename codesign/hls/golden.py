"""The numpy integer reference of every HLS kernel, bit for bit (the testbench's golden model).
GEMM/conv, XNOR-popcount GEMM, LUT-exp softmax, LayerNorm, GELU, add, mul, pooling, table activations."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from codesign.hls.types import act_frac_bits

MULT_BITS = 16            # requantisation multiplier, unsigned, per output channel
EXP_FRAC = 15             # exp LUT entries: Q1.15
PHI_FRAC = 15             # GELU's Phi LUT entries: Q1.15
GELU_LUT_MAX = 256        # entries of the Phi LUT before it goes from one per value to one per segment
LN_Z_FRAC = 10            # LayerNorm: fraction bits of the normalised value z
LN_GAMMA_FRAC = 12        # gamma: Q4.12 in 16 bits
LN_BETA_FRAC = LN_Z_FRAC + LN_GAMMA_FRAC   # beta: 32 bits at the product's scale
LN_GAMMA_BITS, LN_BETA_BITS = 16, 32


def value_range(bits: int) -> tuple[int, int]:
    return (-1, 1) if bits == 1 else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def saturate(x, bits: int) -> np.ndarray:
    lo, hi = value_range(bits)
    return np.clip(np.asarray(x, dtype=np.int64), lo, hi)


def max_abs(bits: int) -> int:
    return 1 if bits == 1 else 1 << (bits - 1)


# --- PE array ----------------------------------------------------------------------------------
def gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(batch, m, k) @ (batch, k, n) in integers. float64 is exact here: every partial sum is
    below 2^53 (accumulators are checked to fit accum_bits <= 48 first)."""
    bound = a.shape[-1] * np.abs(a).max(initial=0) * np.abs(b).max(initial=0)
    if bound >= 1 << 53:
        raise ValueError("GEMM partial sums would not be exact in float64")
    return np.rint(np.matmul(a.astype(np.float64), b.astype(np.float64))).astype(np.int64)


def _pack_bits(bits01: np.ndarray) -> np.ndarray:
    """(..., k) of 0/1 -> (..., ceil(k/64)) uint64 words, bit r of word w = element 64 w + r."""
    k = bits01.shape[-1]
    pad = -k % 64
    padded = np.concatenate([bits01, np.zeros(bits01.shape[:-1] + (pad,), bits01.dtype)], axis=-1)
    as_bytes = np.packbits(padded.astype(np.uint8), axis=-1, bitorder="little")
    return as_bytes.view(np.uint64) if as_bytes.shape[-1] else as_bytes.astype(np.uint64)


def _popcount(words: np.ndarray) -> np.ndarray:
    """Set bits per uint64 word (np.bitwise_count needs numpy 2; the byte table works on 1.26)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words)
    as_bytes = words[..., None].view(np.uint8)
    return np.unpackbits(as_bytes, axis=-1).sum(axis=-1, dtype=np.int64)


def xnor_popcount_gemm(a: np.ndarray, a_bits: int, b: np.ndarray) -> np.ndarray:
    """(batch, m, k) @ (batch, k, n) with binary b (+-1), by XNOR-popcount on packed bits, the
    activations taken bit-serially: 2 x = sum_j coef_j s_j - 1 with s_j = 2 p_j - 1. An arithmetic
    path of its own: the PE array's sign-select PEs (cs_pe_array.h) must agree with it bit for bit."""
    k = a.shape[-1]
    w_words = _pack_bits(np.swapaxes(b > 0, -1, -2))             # (batch, n, words)
    raw = a.astype(np.int64) & ((1 << a_bits) - 1) if a_bits > 1 else (a > 0).astype(np.int64)

    def xnor_count(plane):                                        # (batch, m, k) 0/1 -> (batch, m, n)
        p_words = _pack_bits(plane)                               # (batch, m, words)
        diff = _popcount(p_words[:, :, None, :] ^ w_words[:, None, :, :]).sum(-1, dtype=np.int64)
        return k - 2 * diff

    if a_bits == 1:
        return xnor_count(raw)
    twice = np.zeros(a.shape[:2] + (b.shape[-1],), dtype=np.int64)
    for j in range(a_bits):
        coef = -(1 << j) if j == a_bits - 1 else 1 << j
        twice += coef * xnor_count((raw >> j) & 1)
    twice -= 2 * (b > 0).sum(axis=-2, dtype=np.int64)[:, None, :] - k
    return twice >> 1


def requantize(acc, bias, mult, shift: int, o_bits: int) -> np.ndarray:
    """round((acc + bias) * mult / 2^shift) saturated to o_bits; o_bits == 1: sign (+1 when >= 0)."""
    biased = np.asarray(acc, dtype=np.int64) + np.asarray(bias, dtype=np.int64)
    if o_bits == 1:
        return np.where(biased >= 0, 1, -1).astype(np.int64)
    prod = biased * np.asarray(mult, dtype=np.int64)
    if shift > 0:
        prod = (prod + (1 << (shift - 1))) >> shift
    return saturate(prod, o_bits)


def im2col(x: np.ndarray, kernel, stride, padding, groups: int, out_hw, pad_value: int = 0) -> np.ndarray:
    """NHWC ifmap -> (groups, images*oh*ow, kh*kw*cin_g): the A operand of a convolution, with
    rows (image, oy, ox) and columns (ky, kx, ci) as cs_buffers.h gathers them."""
    images, height, width, channels = x.shape
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = kernel, stride, padding, out_hw
    padded = np.full((images, height + 2 * ph + sh, width + 2 * pw + sw, channels), pad_value, dtype=np.int64)
    padded[:, ph:ph + height, pw:pw + width] = x
    cols = np.empty((images, oh, ow, kh, kw, channels), dtype=np.int64)
    for ky in range(kh):
        for kx in range(kw):
            cols[:, :, :, ky, kx, :] = padded[:, ky:ky + sh * oh:sh, kx:kx + sw * ow:sw, :]
    cg = channels // groups
    cols = cols.reshape(images * oh * ow, kh, kw, groups, cg)
    return cols.transpose(3, 0, 1, 2, 4).reshape(groups, images * oh * ow, kh * kw * cg)


# --- vector unit: softmax --------------------------------------------------------------------------
@dataclass(frozen=True)
class ExpTables:
    """exp(-d / 2^frac) = HI[d >> split] * LO[d & (2^split - 1)] (Q1.15 each) for d < cut, else 0."""
    bits: int
    frac: int
    split: int
    cut: int
    hi: tuple[int, ...]
    lo: tuple[int, ...]


def _round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


def exp_tables(bits: int) -> ExpTables:
    frac = act_frac_bits(bits)
    # below exp(-16 ln 2) = 2^-16 an entry rounds to 0 at Q1.15; distances are < 2^bits anyway
    cut = min(math.ceil(16 * math.log(2) * (1 << frac)), 1 << bits)
    split = ((cut - 1).bit_length() + 1) // 2
    lo = tuple(_round_half_up(math.exp(-j / (1 << frac)) * (1 << EXP_FRAC)) for j in range(1 << split))
    hi = tuple(_round_half_up(math.exp(-(i << split) / (1 << frac)) * (1 << EXP_FRAC))
               for i in range(-(-cut // (1 << split))))
    return ExpTables(bits, frac, split, cut, hi, lo)


def softmax(x: np.ndarray, bits: int) -> np.ndarray:
    """Rows of x (rows, L), input format Q(bits, act_frac) -> probabilities Q1.(bits-1)."""
    t = exp_tables(bits)
    x = np.asarray(x, dtype=np.int64)
    dist = x.max(axis=1, keepdims=True) - x
    d = np.minimum(dist, t.cut - 1)
    e = (np.asarray(t.hi, dtype=np.int64)[d >> t.split] * np.asarray(t.lo, dtype=np.int64)[d & ((1 << t.split) - 1)]
         + (1 << 14)) >> 15
    e = np.where(dist < t.cut, e, 0)
    total = e.sum(axis=1)
    p = np.array([int(v).bit_length() + 16 for v in total], dtype=np.int64)[:, None]
    recip = np.array([(1 << int(pp)) // int(v) for pp, v in zip(p[:, 0], total)], dtype=np.int64)[:, None]
    out_shift = p - (bits - 1)
    y = (e * recip + (np.int64(1) << (out_shift - 1))) >> out_shift
    return np.minimum(y, (1 << (bits - 1)) - 1)


# --- vector unit: LayerNorm --------------------------------------------------------------------------
def layernorm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bits: int) -> np.ndarray:
    """Rows of x (rows, D) in Q(bits, act_frac); gamma Q4.12 and beta at 2^-22, one per column."""
    x = np.asarray(x, dtype=np.int64)
    width = x.shape[1]
    c = width * x - x.sum(axis=1, keepdims=True)
    sq = (c * c).sum(axis=1)
    r = np.array([math.isqrt(int(v) // width + 1) for v in sq], dtype=np.int64)[:, None]
    p = np.array([int(v).bit_length() + 15 for v in r[:, 0]], dtype=np.int64)[:, None]
    rec = np.array([(1 << int(pp)) // int(rr) for pp, rr in zip(p[:, 0], r[:, 0])], dtype=np.int64)[:, None]
    z_shift = p - LN_Z_FRAC
    z = (c * rec + (np.int64(1) << (z_shift - 1))) >> z_shift
    y_shift = LN_Z_FRAC + LN_GAMMA_FRAC - act_frac_bits(bits)
    y = (z * np.asarray(gamma, dtype=np.int64)[None, :] + np.asarray(beta, dtype=np.int64)[None, :]
         + (1 << (y_shift - 1))) >> y_shift
    return saturate(y, bits)


def layernorm_fits(width: int, bits: int) -> bool:
    """The integer variance sum(c^2), |c| < width 2^bits, must stay below 2^63."""
    return width ** 3 * (1 << (2 * bits)) < 1 << 63


# --- vector unit: GELU, ReLU, add ---------------------------------------------------------------------
@dataclass(frozen=True)
class PhiTable:
    """Phi(t) over t in [-4, 4): entry (x + hi) >> shift, hi = 4 * 2^frac; Q1.15."""
    bits: int
    frac: int
    shift: int
    hi: int
    table: tuple[int, ...]


def _phi(t: float) -> float:
    return 0.5 * (1.0 + math.erf(t / math.sqrt(2.0)))


def phi_table(bits: int) -> PhiTable:
    frac = act_frac_bits(bits)
    hi = 4 << frac
    if 2 * hi <= GELU_LUT_MAX:          # one entry per representable input
        shift, points = 0, [(j - hi) / (1 << frac) for j in range(2 * hi)]
    else:                               # GELU_LUT_MAX segments, sampled at their midpoints
        shift = (2 * hi // GELU_LUT_MAX).bit_length() - 1
        step = 8.0 / GELU_LUT_MAX
        points = [-4.0 + (j + 0.5) * step for j in range(GELU_LUT_MAX)]
    table = tuple(_round_half_up(_phi(t) * (1 << PHI_FRAC)) for t in points)
    return PhiTable(bits, frac, shift, hi, table)


def gelu(x: np.ndarray, bits: int) -> np.ndarray:
    t = phi_table(bits)
    x = np.asarray(x, dtype=np.int64)
    idx = (np.clip(x, -t.hi, t.hi - 1) + t.hi) >> t.shift
    y = (x * np.asarray(t.table, dtype=np.int64)[idx] + (1 << (PHI_FRAC - 1))) >> PHI_FRAC
    y = np.where(x >= t.hi, x, np.where(x < -t.hi, 0, y))
    return saturate(y, bits)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(np.asarray(x, dtype=np.int64), 0)


def mul(x1: np.ndarray, x2: np.ndarray, bits: int) -> np.ndarray:
    """x1 * x2 (x2 broadcast as in `add`), both Q(bits, act_frac): the product's extra fraction
    bits dropped with rounding half up, saturated."""
    frac = act_frac_bits(bits)
    x1 = np.asarray(x1, dtype=np.int64).reshape(-1)
    x2 = np.asarray(x2, dtype=np.int64).reshape(-1)
    prod = x1 * x2[np.arange(len(x1)) % len(x2)]
    return saturate((prod + (1 << (frac - 1))) >> frac if frac else prod, bits)


def add(x1: np.ndarray, x2: np.ndarray, bits: int) -> np.ndarray:
    x1 = np.asarray(x1, dtype=np.int64).reshape(-1)
    x2 = np.asarray(x2, dtype=np.int64).reshape(-1)
    return saturate(x1 + x2[np.arange(len(x1)) % len(x2)], bits)


# --- the exact math and how far the integer kernels may be from it ------------------------------------
def softmax_float(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def layernorm_float(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    mu = x.mean(axis=1, keepdims=True)
    return (x - mu) / np.sqrt(x.var(axis=1, keepdims=True) + eps) * gamma[None, :] + beta[None, :]


def gelu_float(x: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def tolerance_lsb(kind: str, bits: int, row_len: int = 1) -> float:
    """Largest |integer kernel - exact math| in LSBs of the output format (the exact value clipped
    to the format's range first), for the vector-unit kernels; PE-array outputs are exact (0).

    - softmax (LSB 2^-(bits-1)): 0.5 for the output rounding, plus, in probability units, the
      exp terms' error over the row sum S >= 2^15 (units of 2^-15): each term is off by at most
      1.5 (two Q1.15 LUT entries rounded, their product rounded; a term cut to 0 was < 0.5), so
      |dp| <= 1.5 (1 + row_len) 2^-15 + 2^-16 (the normalised reciprocal). A worst-case bound:
      1.7 LSB for 8-bit rows of 197, 0.6 for 4-bit; measured errors stay near 0.5.
    - layer_norm (LSB 2^-frac): 0.5 for the output rounding, z rounded to 2^-10 times |gamma| <= 1.5
      (1.5 * 2^(frac - 11) LSB <= 0.19 for frac <= 8), the floor square root (relative < 1/r, r =
      D sigma 2^frac, in the hundreds for any row that is not constant): 1 LSB.
    - gelu (LSB 2^-frac): 0.5 for the output rounding, Phi rounded to Q1.15 (|x| 2^-16 <= 2^-14),
      beyond +-4 the identity or 0 (|x| (1 - Phi(|x|)) < 1.3e-4): 1 LSB; a segment table (inputs
      with frac > 5) adds its sampling error |x| max|Phi'| step / 2 = 4 * 0.4 * step / 2.
    """
    if kind == "softmax":
        dp = 1.5 * (1 + row_len) * 2.0 ** -15 + 2.0 ** -16
        return 0.5 + dp * 2.0 ** (bits - 1)
    if kind == "layer_norm":
        return 1.0
    if kind in LUT_FUNCTIONS or kind in ("pool", "mean", "mul"):
        return 0.5                      # the function rounded once (a table entry, or the window mean)
    if kind == "gelu":
        t = phi_table(bits)
        if t.shift == 0:
            return 1.0
        step = 8.0 / GELU_LUT_MAX
        return 1.0 + 4 * 0.4 * step / 2 * (1 << act_frac_bits(bits))
    return 0.0


# --- vector unit: pooling and LUT activations -----------------------------------------------------
def pool(x: np.ndarray, kernel, stride, padding, mode: str, out_hw, rounded: bool = True) -> np.ndarray:
    """NHWC x -> NHWC pooled: max over the window's inputs (padding never wins), or the window's sum
    over kh * kw (padding counts as 0, torch's count_include_pad) rounded half up (floor division);
    `rounded=False`: the exact mean."""
    images, height, width, channels = x.shape
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = kernel, stride, padding, out_hw
    x = np.asarray(x, dtype=np.int64)
    fill = np.iinfo(np.int64).min if mode == "max" else 0
    padded = np.full((images, height + 2 * ph + kh, width + 2 * pw + kw, channels), fill, dtype=np.int64)
    padded[:, ph:ph + height, pw:pw + width] = x
    windows = np.stack([padded[:, ky:ky + sh * oh:sh, kx:kx + sw * ow:sw, :][:, :oh, :ow]
                        for ky in range(kh) for kx in range(kw)])
    if mode == "max":
        return windows.max(axis=0)
    count = kh * kw
    if not rounded:
        return windows.sum(axis=0) / count
    return (2 * windows.sum(axis=0) + count) // (2 * count)


LUT_FUNCTIONS = {      # the activations the vector unit takes from a table indexed by the input code
    "sigmoid": lambda t: 1.0 / (1.0 + math.exp(-t)),
    "silu": lambda t: t / (1.0 + math.exp(-t)),
    "hardswish": lambda t: t * min(max(t + 3.0, 0.0), 6.0) / 6.0,     # torch.nn.Hardswish
    "hardsigmoid": lambda t: min(max(t + 3.0, 0.0), 6.0) / 6.0,       # torch.nn.Hardsigmoid
}
MAX_LUT_BITS = 8        # a table of 2^bits output codes: 256 entries at most


def act_lut(function: str, bits: int) -> tuple[int, ...]:
    """Output codes of `function` for every input code 0 .. 2^bits - 1 (two's complement), in the
    activation format Q(bits, act_frac), rounded half up and saturated: the exact function, rounded."""
    frac = act_frac_bits(bits)
    lo, hi = value_range(bits)
    f = LUT_FUNCTIONS[function]
    table = []
    for raw in range(1 << bits):
        x = raw - (1 << bits) if raw >= 1 << (bits - 1) else raw
        table.append(int(min(max(_round_half_up(f(x / (1 << frac)) * (1 << frac)), lo), hi)))
    return tuple(table)


def lut_apply(x: np.ndarray, function: str, bits: int) -> np.ndarray:
    table = np.asarray(act_lut(function, bits), dtype=np.int64)
    return table[np.asarray(x, dtype=np.int64) & ((1 << bits) - 1)]
