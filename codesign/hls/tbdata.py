"""Testbench data: generated integer inputs of chosen layers, packed as DRAM words, and the
golden model's outputs (plus the exact math for the vector unit) for the C++ testbench to compare."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from codesign.hls import golden
from codesign.hls.descriptors import OPCODES, LayerEntry, LayerTable
from codesign.hls.golden import LN_BETA_FRAC, LN_GAMMA_FRAC, MULT_BITS
from codesign.hls.pack import pack
from codesign.hls.types import act_frac_bits
from codesign.ir import ConvAttrs


@dataclass
class TbCase:
    """One layer the testbench runs: where its inputs go, what it must write."""
    entry: LayerEntry
    inputs: list            # (role, Region, file name)
    expected_file: str      # int32 little-endian, one per output element (the golden model)
    exact_file: str | None  # float64: the exact math on the same inputs (vector unit), or None
    out_frac: int
    tol_lsb_exact: float | None

    def to_dict(self) -> dict:
        e = self.entry
        o = e.regions["o"]
        return {"layer": e.index, "name": e.op.name, "ident": e.ident, "kind": e.op.kind.value,
                "out_elems": o.elems, "out_bits": o.bits, "out_frac": self.out_frac,
                "tol_lsb_vs_golden": 0, "tol_lsb_vs_exact": self.tol_lsb_exact,
                "expected": self.expected_file, "exact": self.exact_file, "output": f"{e.ident}.out.i32",
                "inputs": [{"role": role, "arena": r.arena, "word_off": r.word_off, "words": r.words,
                            "file": name} for role, r, name in self.inputs]}


def ints(rng, shape, bits: int, spread: float | None = None) -> np.ndarray:
    """Random activations: uniform over the whole range, or normal with std spread * max."""
    if bits == 1:
        return rng.choice(np.array([-1, 1], dtype=np.int64), size=shape)
    lo, hi = golden.value_range(bits)
    if spread is None:
        return rng.integers(lo, hi + 1, size=shape, dtype=np.int64)
    return np.clip(np.rint(rng.normal(0.0, spread * hi, size=shape)), lo, hi).astype(np.int64)


def requant_params(acc: np.ndarray, o_bits: int, accum_bits: int, per_channel: bool, rng):
    """Bias, multipliers and shift that map the accumulators' spread (RMS) onto about a third of
    the output range (what calibration would do); acc is (batch, m, n)."""
    batch, m, n = acc.shape
    rms = np.sqrt(np.mean(acc.astype(np.float64) ** 2))
    if per_channel:       # per output channel over the rows; with few rows, the layer's spread
        cols = np.sqrt(np.mean(acc.astype(np.float64) ** 2, axis=1)).reshape(batch * n)
        std = cols if m >= 16 else np.full(batch * n, rms)
    else:
        std = np.array([rms])
    std = np.maximum(std, 1.0)
    limit = (1 << (accum_bits - 2)) - 1
    bias = np.clip(np.rint(rng.normal(0.0, 0.25 * std)), -limit, limit).astype(np.int64)
    if o_bits == 1:
        return bias, np.ones_like(bias), 0
    scale = ((1 << (o_bits - 1)) / 3.0) / std
    shift = int(np.clip(math.floor(math.log2(((1 << MULT_BITS) - 1) / scale.max())), 0, accum_bits + 16))
    mult = np.clip(np.rint(scale * (1 << shift)), 1, (1 << MULT_BITS) - 1).astype(np.int64)
    return bias, mult, shift


def _gemm_case(e: LayerEntry, rng, accum_bits: int):
    v, p, op = e.values, e.prec, e.op
    batch, m, n, k = v["batch"], v["m"], v["n"], v["k"]
    files = {}
    if isinstance(op.attrs, ConvAttrs):
        x = ints(rng, (v["images"], v["in_h"], v["in_w"], v["in_c"]), p.a_bits)
        pad = -1 if p.a_bits == 1 else 0                        # raw 0 on the ifmap: -1 when binary
        a = golden.im2col(x, (v["kh"], v["kw"]), (v["stride_h"], v["stride_w"]), (v["pad_h"], v["pad_w"]),
                          batch, (v["out_h"], v["out_w"]), pad)
        files["a"] = x
    else:
        a = ints(rng, (batch, m, k), p.a_bits)
        files["a"] = a
    b = ints(rng, (batch, k, n), p.w_bits)
    files["b"] = b.transpose(0, 2, 1) if v["b_nstride"] == k else b      # [b][n][k] or [b][k][n]
    acc = golden.xnor_popcount_gemm(a, p.a_bits, b) if p.w_bits == 1 else golden.gemm(a, b)
    bias, mult, shift = requant_params(acc, p.o_bits, accum_bits, bool(v["per_channel"]), rng)
    per = bias.reshape(batch, 1, n) if v["per_channel"] else bias.reshape(1, 1, 1)
    mul = mult.reshape(batch, 1, n) if v["per_channel"] else mult.reshape(1, 1, 1)
    out = golden.requantize(acc, per, mul, shift, p.o_bits)
    if v["kind"] == 1:                                          # conv: NHWC, channel = group * n + j
        out = out.transpose(1, 0, 2).reshape(m, batch * n)
    files.update(bias=bias, mult=mult, shift=np.array([shift]))
    return files, out.reshape(-1), None


def _vector_case(e: LayerEntry, rng):
    bits, v, family = e.prec.a_bits, e.values, e.family
    scale = 2.0 ** -act_frac_bits(bits)
    files = {}
    if family == "softmax":
        x = ints(rng, (v["rows"], v["row_len"]), bits, spread=0.3)
        out = golden.softmax(x, bits)
        exact = golden.softmax_float(x * scale)
    elif family == "layer_norm":
        x = ints(rng, (v["rows"], v["row_len"]), bits, spread=0.35)
        gamma = np.rint(rng.uniform(0.5, 1.5, v["row_len"]) * (1 << LN_GAMMA_FRAC)).astype(np.int64)
        beta = np.rint(rng.uniform(-0.5, 0.5, v["row_len"]) * (1 << LN_BETA_FRAC)).astype(np.int64)
        out = golden.layernorm(x, gamma, beta, bits)
        exact = golden.layernorm_float(x * scale, gamma / (1 << LN_GAMMA_FRAC), beta / (1 << LN_BETA_FRAC))
        files.update(b=gamma, bias=beta)
    elif family == "gelu":
        x = ints(rng, (v["elems"],), bits, spread=0.45)
        out = golden.gelu(x, bits)
        exact = golden.gelu_float(x * scale)
    elif family == "relu":
        x = ints(rng, (v["elems"],), bits)
        out, exact = golden.relu(x), np.maximum(x * scale, 0.0)
    elif family in golden.LUT_FUNCTIONS:
        x = ints(rng, (v["elems"],), bits)
        out = golden.lut_apply(x, family, bits)
        exact = np.array([golden.LUT_FUNCTIONS[family](t) for t in x * scale])
    elif family == "pool":                                      # NHWC in and out
        x = ints(rng, (v["images"], v["in_h"], v["in_w"], v["in_c"]), bits)
        geometry = ((v["kh"], v["kw"]), (v["stride_h"], v["stride_w"]), (v["pad_h"], v["pad_w"]),
                    "max" if v["kind"] == OPCODES["pool_max"] else "avg", (v["out_h"], v["out_w"]))
        out = golden.pool(x, *geometry)
        exact = golden.pool(x, *geometry, rounded=False) * scale
    else:                                                       # add, mul
        x = ints(rng, (v["elems"],), bits)
        x2 = ints(rng, (v["in2_elems"],), bits)
        broadcast = x2[np.arange(len(x)) % len(x2)]
        if family == "mul":
            out, exact = golden.mul(x, x2, bits), x * broadcast * scale * scale
        else:
            out, exact = golden.add(x, x2, bits), (x + broadcast) * scale
        files["b"] = x2
    files["a"] = x
    return files, out.reshape(-1), exact.reshape(-1)


def make_case(table: LayerTable, entry: LayerEntry, rng) -> tuple[TbCase, dict[str, bytes]]:
    """The case of one layer and the data files (name -> bytes) it needs."""
    word = table.hw.dram_word_bits
    if entry.op.on_pe_array:
        values, out, exact = _gemm_case(entry, rng, table.hw.accum_bits)
    else:
        values, out, exact = _vector_case(entry, rng)
    blobs, inputs = {}, []
    for role, data in values.items():
        region = entry.regions[role]
        name = f"{entry.ident}.{role}.bin"
        signed = role != "mult"
        blobs[name] = pack(np.asarray(data).reshape(-1), region.bits, word, signed=signed)
        inputs.append((role, region, name))
    blobs[f"{entry.ident}.expected.i32"] = out.astype("<i4").tobytes()
    exact_file = None
    out_frac = entry.values["out_frac"]
    tol = None
    if exact is not None:
        exact_file = f"{entry.ident}.exact.f64"
        blobs[exact_file] = np.asarray(exact, dtype="<f8").tobytes()
        tol = golden.tolerance_lsb(entry.op.kind.value, entry.prec.a_bits, max(1, entry.values["row_len"]))
    return TbCase(entry, inputs, f"{entry.ident}.expected.i32", exact_file, out_frac, tol), blobs
