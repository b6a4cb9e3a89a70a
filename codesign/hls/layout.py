"""The layout ops the IR folded out (flatten, token concat, head split and merge, class-token pick):
where each op's output sits in its region, how a consumer addresses it, and the same ops in numpy."""
# The emitted design moves no data for them: a producer writes its output where the consumer reads
# it (a conv's NHWC rows after the learned tokens; attention heads merged), and a consumer reads a
# producer's region through element strides (q, k, v of the qkv output; the class token's row).
# The integer reference network applies the ops to logical tensors with numpy (`consumer_input`),
# so a wrong stride shows as a mismatch. Patterns follow timm's VisionTransformer
# (timm/models/vision_transformer.py: PatchEmbed flatten(2).transpose(1, 2), `_pos_embed` cat of
# cls_token, Attention qkv.reshape(B, N, 3, H, D).permute(2, 0, 3, 1, 4), x.transpose(1, 2).reshape,
# `forward_head` x[:, 0]) and torch's flatten of (N, C, 1, 1) pooled maps.
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from codesign.errors import UserError
from codesign.ir import Graph, Op, OpKind

QKV_SLOT = {(OpKind.ATTN_QK, 0): 0, (OpKind.ATTN_QK, 1): 1, (OpKind.ATTN_AV, 1): 2}   # q, k, v


@dataclass(frozen=True)
class Stored:
    """An op's output region: `shape` is the logical shape consumers match against, `elems` the
    region's size, `tokens` learned rows of `width` in front (placed by the host with the weights),
    `merged` heads stored (B, N, H*D); `strides` are the producer's o_* descriptor overrides."""
    shape: tuple
    elems: int
    tokens: int = 0
    width: int = 0
    merged: bool = False
    strides: dict = field(default_factory=dict)


@dataclass(frozen=True)
class View:
    """How a consumer's input i reads a producer's region: an element base and stride overrides by
    role-free name (bstride, mstride for A; bstride, nstride, kstride for B); `kind` names the op."""
    kind: str
    base: int = 0
    strides: dict = field(default_factory=dict)


def _consumer_shapes(graph: Graph, op: Op) -> list[tuple]:
    return [tuple(s) for c in graph.dag.successors(op.name) for s in graph.by_name[c].inputs]


def stored(graph: Graph, op: Op) -> Stored:
    """Where `op` writes its output (decided by what its consumers read)."""
    out = tuple(op.output)
    consumers = _consumer_shapes(graph, op)
    if op.kind == OpKind.CONV2D and len(out) == 4:
        images, channels, height, width = out
        for shape in consumers:
            if len(shape) == 3 and shape[0] == images and shape[2] == channels and shape[1] > height * width:
                tokens = shape[1] - height * width
                if images != 1:
                    raise UserError(f"the HLS templates cannot emit the token concat after {op.name!r} for a "
                                    f"batch of {images} images; use --batch 1")
                return Stored(shape, math.prod(shape), tokens, channels, strides={"o_base": tokens * channels})
    if op.kind == OpKind.ATTN_AV and len(out) == 4:
        batch, heads, tokens, dim = out
        merged = (batch, tokens, heads * dim)
        if merged in consumers:
            return Stored(merged, op.out_elems, merged=True, strides={"o_bstride": dim, "o_mstride": heads * dim})
    return Stored(out, op.out_elems)


def view(producer: Op, where: Stored, consumer: Op, index: int) -> View | None:
    """How input `index` of `consumer` reads `producer`'s region, or None when it cannot."""
    want = tuple(consumer.inputs[index])
    have = where.shape
    if want == have:
        return View("token_concat" if where.tokens else "head_merge" if where.merged else "identity")
    if math.prod(want) == math.prod(have) and len(have) == 4 and have[2:] == (1, 1) and want == have[:2]:
        return View("flatten")                        # (N, C, 1, 1) -> (N, C): NHWC is the same order
    if (producer.kind == OpKind.CONV2D and len(have) == 4 and len(want) == 3 and want[0] == have[0]
            and want[1] == have[2] * have[3] and want[2] == have[1]):
        return View("flatten")                        # (N, C, H, W) -> (N, H*W, C): NHWC rows are tokens
    slot = QKV_SLOT.get((consumer.kind, index))
    if slot is not None and len(have) == 3 and len(want) == 4:
        batch, heads, tokens, dim = want
        if have == (batch, tokens, 3 * heads * dim):
            if batch != 1:
                raise UserError(f"the HLS templates cannot emit the head split into {consumer.name!r} for a "
                                f"batch of {batch}; use --batch 1")
            row = 3 * heads * dim                     # element (h, t, d) at t * row + slot * H * D + h * D + d
            if slot == 2:                             # V as B of A.V: [b][k = token][n = d]
                strides = {"bstride": dim, "kstride": row, "nstride": 1}
            elif slot == 1:                           # K as B of Q.K^T: [b][n = token][k = d]
                strides = {"bstride": dim, "nstride": row, "kstride": 1}
            else:                                     # Q as A: [b][m = token][k = d]
                strides = {"bstride": dim, "mstride": row}
            return View("head_split", slot * heads * dim, strides)
    if len(have) == 3 and len(want) == 2 and want == (have[0], have[2]) and consumer.on_pe_array:
        return View("class_token", 0, {"mstride": have[1] * have[2]})     # x[:, 0]: row 0 of each image
    return None


# --- the same ops on logical tensors (the integer reference network) --------------------------------
def consumer_input(value: np.ndarray, kind: str, producer: Op, consumer: Op, index: int, tokens=None) -> np.ndarray:
    """The logical input `index` of `consumer` from `producer`'s logical output `value`."""
    want = tuple(consumer.inputs[index])
    if kind == "identity":
        return value
    if kind in ("flatten", "token_concat") and value.ndim == 4 and len(want) == 3:
        flat = value.reshape(value.shape[0], value.shape[1], -1).transpose(0, 2, 1)      # flatten(2).transpose(1, 2)
        if kind == "token_concat":
            flat = np.concatenate([tokens.reshape(1, -1, value.shape[1]), flat], axis=1)  # cat((cls, x), 1)
        return flat
    if kind == "flatten":
        return value.reshape(want)
    if kind == "head_merge":                          # x.transpose(1, 2).reshape(B, N, H * D)
        return value.transpose(0, 2, 1, 3).reshape(want)
    if kind == "head_split":
        batch, heads, n_tok, dim = want
        return value.reshape(batch, n_tok, 3, heads, dim).transpose(2, 0, 3, 1, 4)[QKV_SLOT[(consumer.kind, index)]]
    if kind == "class_token":
        return value[:, 0]
    raise ValueError(f"no layout op {kind!r}")


def stored_values(value: np.ndarray, nhwc: bool, where: Stored, tokens=None) -> np.ndarray:
    """An op's logical output as its region holds it, flattened; `nhwc`: a feature map (from a
    conv or pool, or elementwise after one), which the kernels keep channel-last."""
    if nhwc and value.ndim == 4:
        flat = value.transpose(0, 2, 3, 1).reshape(-1)
        if where.tokens:
            flat = np.concatenate([np.asarray(tokens).reshape(-1), flat])
        return flat
    if where.merged:
        return value.transpose(0, 2, 1, 3).reshape(-1)
    return value.reshape(-1)
