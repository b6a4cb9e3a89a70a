"""The integer reference of a whole emitted network: trained weights and images (trained.py), or a seeded
input, seeded weights and requantisation calibrated on the way; layers via golden.py, layout ops via layout.py."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codesign.hls import golden, layout
from codesign.hls.descriptors import LayerEntry, LayerTable
from codesign.hls.golden import LN_BETA_FRAC, LN_GAMMA_FRAC
from codesign.hls.pack import pack
from codesign.hls.support import pool_geometry
from codesign.hls.tbdata import ints, requant_params
from codesign.hls.trained import Trained
from codesign.ir import ConvAttrs, OpKind

# Choices of the seeded test data (not model constants): the input image normal with std 0.35 of the
# largest code, as the vector-unit cases of tbdata.py; the position embedding and learned tokens,
# which are added to activations, narrower so that the sums seldom saturate.
INPUT_SPREAD = 0.35
PARAM_SPREAD = 0.2


@dataclass
class NetworkData:
    """The testbench's data of a whole network run on one image or several, one after another: the
    weight arena, the activation regions the host fills (the input per image, learned tokens once),
    the expected activation arena after each image and the logits."""
    wgt_image: bytes
    init: list              # (word_off, words, file name, bytes, per image): per image, the images' words in turn
    expected_image: bytes   # one activation arena per image, in turn
    logits: np.ndarray      # (images, classes)
    outputs: dict           # op name -> logical output of the first image (the reference run, for tests)
    trained: Trained | None = None

    @property
    def images(self) -> int:
        return int(self.logits.shape[0])

    def blobs(self) -> dict[str, bytes]:
        files = {"wgt.bin": self.wgt_image, "expected_act.bin": self.expected_image,
                 "logits.expected.i32": self.logits.astype("<i4").tobytes()}
        files.update({name: data for _, _, name, data, _ in self.init})
        return files


class _Image:
    """An arena as bytes, regions packed in at their word offsets."""

    def __init__(self, words: int, word_bits: int):
        self.word_bytes = word_bits // 8
        self.word_bits = word_bits
        self.data = bytearray(words * self.word_bytes)

    def put(self, region, values, signed: bool = True) -> None:
        values = np.asarray(values).reshape(-1)
        packed = pack(values, region.bits, self.word_bits, signed=signed)
        start = region.word_off * self.word_bytes
        self.data[start:start + len(packed)] = packed


def _gemm(e: LayerEntry, inputs: list, rng, accum_bits: int, params: dict, trained: dict | None):
    """The layer's logical output; its weights and requantisation parameters go to `params` (the
    trained ones when `trained` has them, else seeded weights and calibrated requantisation)."""
    op, v, p = e.op, e.values, e.prec
    batch, m, n, k = v["batch"], v["m"], v["n"], v["k"]
    if isinstance(op.attrs, ConvAttrs):
        nhwc = inputs[0].transpose(0, 2, 3, 1)
        pad = -1 if p.a_bits == 1 else 0
        a = golden.im2col(nhwc, (v["kh"], v["kw"]), (v["stride_h"], v["stride_w"]), (v["pad_h"], v["pad_w"]),
                          batch, (v["out_h"], v["out_w"]), pad)
    elif op.kind == OpKind.ATTN_QK:
        a = inputs[0].reshape(batch, m, k)
        b = inputs[1].reshape(batch, n, k).transpose(0, 2, 1)
    elif op.kind == OpKind.ATTN_AV:
        a = inputs[0].reshape(batch, m, k)
        b = inputs[1].reshape(batch, k, n)
    else:
        a = inputs[0].reshape(batch, m, k)
    if not op.b_is_activation:
        b = trained["b"].transpose(0, 2, 1) if trained else ints(rng, (batch, k, n), p.w_bits)
        params["b"] = b.transpose(0, 2, 1)                       # [b][n][k], as the descriptor strides say
    acc = golden.xnor_popcount_gemm(a, p.a_bits, b) if p.w_bits == 1 else golden.gemm(a, b)
    if trained:
        bias, mult, shift = trained["bias"], trained["mult"], int(trained["shift"][0])
    else:
        bias, mult, shift = requant_params(acc, p.o_bits, accum_bits, bool(v["per_channel"]), rng)
    per = bias.reshape(batch, 1, n) if v["per_channel"] else bias.reshape(1, 1, 1)
    mul = mult.reshape(batch, 1, n) if v["per_channel"] else mult.reshape(1, 1, 1)
    out = golden.requantize(acc, per, mul, shift, p.o_bits)
    params.update(bias=bias, mult=mult, shift=np.array([shift]))
    if isinstance(op.attrs, ConvAttrs):                          # (groups, m, n) -> NCHW, channel = g * n + j
        images, cout, oh, ow = op.output
        return out.transpose(1, 0, 2).reshape(images, oh, ow, cout).transpose(0, 3, 1, 2)
    return out.reshape(op.output)


def _as_stored(x: np.ndarray) -> np.ndarray:
    """An elementwise operand in the order the kernels index it: a 4-D map channel-last."""
    return x.transpose(0, 2, 3, 1).reshape(-1) if x.ndim == 4 else x.reshape(-1)


def _from_stored(flat: np.ndarray, shape) -> np.ndarray:
    if len(shape) == 4:
        n, c, h, w = shape
        return flat.reshape(n, h, w, c).transpose(0, 3, 1, 2)
    return flat.reshape(shape)


def _vector(e: LayerEntry, inputs: list, rng, params: dict, trained: dict | None):
    op, v, bits, family = e.op, e.values, e.prec.a_bits, e.family
    x = inputs[0]
    if family == "softmax":
        return golden.softmax(x.reshape(-1, v["row_len"]), bits).reshape(op.output)
    if family == "layer_norm":
        width = v["row_len"]
        if trained:
            gamma, beta = trained["b"], trained["bias"]
        else:
            gamma = np.rint(rng.uniform(0.5, 1.5, width) * (1 << LN_GAMMA_FRAC)).astype(np.int64)
            beta = np.rint(rng.uniform(-0.5, 0.5, width) * (1 << LN_BETA_FRAC)).astype(np.int64)
        params.update(b=gamma, bias=beta)
        return golden.layernorm(x.reshape(-1, width), gamma, beta, bits).reshape(op.output)
    if family == "gelu":
        return golden.gelu(x, bits).reshape(op.output)
    if family == "relu":
        return golden.relu(x).reshape(op.output)
    if family in golden.LUT_FUNCTIONS:
        return golden.lut_apply(x, family, bits).reshape(op.output)
    if family == "pool":
        kernel, stride, padding, mode, out_hw = pool_geometry(op)
        nhwc = golden.pool(x.transpose(0, 2, 3, 1), kernel, stride, padding, mode, out_hw)
        return nhwc.transpose(0, 3, 1, 2).reshape(op.output)
    if len(inputs) == 2:                                         # add, mul: the larger input is A (cs_vector_unit.h)
        big = 0 if inputs[0].size >= inputs[1].size else 1
        pair = [_as_stored(inputs[big]), _as_stored(inputs[1 - big])]
        out = golden.mul(*pair, bits) if family == "mul" else golden.add(*pair, bits)
        return _from_stored(out, op.output)
    x2 = trained["b"] if trained else ints(rng, (op.params,), bits, spread=PARAM_SPREAD)   # + a parameter (position embedding)
    params["b"] = x2
    return golden.add(x, x2, bits).reshape(op.output)


def reference(table: LayerTable, rng, trained: Trained | None = None) -> NetworkData:
    """Run the emitted network in numpy and lay out everything the testbench needs: on the trained
    network's images one after another, or on one seeded input with seeded weights."""
    word = table.hw.dram_word_bits
    wgt = _Image(table.wgt_words, word)
    runs = [_run(table, rng, wgt, image, trained) for image in (trained.inputs if trained else [None])]
    init = [(off, words, name, b"".join(run[1][i][3] for run in runs) if per_image else data, per_image)
            for i, (off, words, name, data, per_image) in enumerate(runs[0][1])]
    logits = np.stack([run[0][table.entries[-1].op.name].reshape(-1) for run in runs])
    return NetworkData(bytes(wgt.data), init, b"".join(run[2] for run in runs), logits, runs[0][0], trained)


def _run(table: LayerTable, rng, wgt: _Image, image, trained: Trained | None):
    """One image through the network: the outputs, the host's regions and the expected activation arena."""
    word = table.hw.dram_word_bits
    expected = _Image(table.act_words, word)
    by_name = {e.op.name: e for e in table.entries}
    outputs, tokens, init, nhwc = {}, {}, [], {}
    for e in table.entries:
        inputs = []
        for index, (src, seen) in enumerate(e.links):
            if src is None:                                      # the model's input, filled by the host
                x = image if image is not None else ints(rng, tuple(e.op.inputs[index]), e.prec.a_bits,
                                                         spread=INPUT_SPREAD)
                x = x.reshape(e.op.inputs[index])
                region = e.regions["a"]
                flat = x.transpose(0, 2, 3, 1).reshape(-1) if isinstance(e.op.attrs, ConvAttrs) else x.reshape(-1)
                init.append((region.word_off, region.words, f"input_{e.ident}.bin", pack(flat, region.bits, word), 1))
                expected.put(region, flat)
                inputs.append(x)
                continue
            producer = by_name[src].op
            inputs.append(layout.consumer_input(outputs[src], seen.kind, producer, e.op, index, tokens.get(src)))
        params: dict = {}
        own = trained.params.get(e.op.name) if trained else None
        if e.op.on_pe_array:
            out = _gemm(e, inputs, rng, table.hw.accum_bits, params, own)
        else:
            out = _vector(e, inputs, rng, params, own)
        for role, values in params.items():
            wgt.put(e.regions[role], values, signed=role != "mult")
        where = e.stored
        if where.tokens:                                         # learned tokens in front (cls_token)
            tokens[e.op.name] = trained.tokens[e.op.name] if trained else ints(
                rng, (where.tokens * where.width,), e.prec.o_bits, spread=PARAM_SPREAD)
            region = e.regions["o"]
            data = pack(tokens[e.op.name], region.bits, word)
            init.append((region.word_off, len(data) // (word // 8), f"tokens_{e.ident}.bin", data, 0))
        outputs[e.op.name] = out
        first = e.links[0][0] if e.links else None
        nhwc[e.op.name] = e.op.kind in (OpKind.CONV2D, OpKind.POOL, OpKind.MEAN) or (
            not e.op.on_pe_array and e.family not in ("softmax", "layer_norm") and nhwc.get(first, False))
        expected.put(e.regions["o"], layout.stored_values(out, nhwc[e.op.name], where, tokens.get(e.op.name)))
    return outputs, init, bytes(expected.data)
