"""Which aten op becomes which IR op kind, and which ops are layout-only (folded away).

An op in neither table is reported by name: the frontend never drops one silently.
"""
from __future__ import annotations

from codesign.ir import OpKind

# Ops that only move, view or select data (or are no-ops in eval): folded, their edges kept.
LAYOUT_OPS = frozenset({
    "view", "reshape", "reshape_as", "_unsafe_view", "permute", "transpose", "t", "contiguous",
    "flatten", "unflatten", "expand", "expand_as", "getitem", "dropout", "feature_dropout",
    "alpha_dropout", "alias", "clone", "detach", "lift_fresh_copy", "cat", "concat", "stack",
    "split", "split_with_sizes", "unbind", "chunk", "select", "slice", "narrow", "squeeze",
    "unsqueeze", "index", "index_select", "roll", "pad", "constant_pad_nd", "to", "_to_copy",
    "type_as", "repeat", "tile", "flip", "movedim", "pixel_shuffle", "pixel_unshuffle",
    "channel_shuffle", "zeros", "ones", "full", "empty", "arange", "zeros_like", "ones_like",
    "new_zeros", "new_ones", "new_empty", "_assert_tensor_metadata", "_assert_scalar",
    "sym_size", "sym_numel", "identity",
})

COMPUTE_OPS = {
    "conv2d": OpKind.CONV2D, "convolution": OpKind.CONV2D,
    "linear": OpKind.LINEAR, "addmm": OpKind.LINEAR,
    "matmul": OpKind.MATMUL, "mm": OpKind.MATMUL, "bmm": OpKind.MATMUL,
    "softmax": OpKind.SOFTMAX, "_softmax": OpKind.SOFTMAX, "log_softmax": OpKind.SOFTMAX,
    "layer_norm": OpKind.LAYERNORM, "native_layer_norm": OpKind.LAYERNORM, "rms_norm": OpKind.LAYERNORM,
    "batch_norm": OpKind.BATCHNORM, "_native_batch_norm_legit_no_training": OpKind.BATCHNORM,
    "native_batch_norm": OpKind.BATCHNORM, "group_norm": OpKind.GROUPNORM,
    "native_group_norm": OpKind.GROUPNORM,
    "gelu": OpKind.GELU,
    "relu": OpKind.RELU, "relu6": OpKind.RELU, "leaky_relu": OpKind.RELU, "hardtanh": OpKind.RELU,
    "elu": OpKind.RELU, "clamp": OpKind.RELU, "clamp_min": OpKind.RELU, "clamp_max": OpKind.RELU,
    "silu": OpKind.SILU, "mish": OpKind.SILU,
    "hardswish": OpKind.HARDSWISH, "hardsigmoid": OpKind.HARDSIGMOID,
    "sigmoid": OpKind.SIGMOID, "tanh": OpKind.TANH,
    "add": OpKind.ADD, "sub": OpKind.ADD, "rsub": OpKind.ADD,
    "mul": OpKind.MUL, "div": OpKind.MUL,
    "max_pool2d": OpKind.POOL, "max_pool2d_with_indices": OpKind.POOL, "avg_pool2d": OpKind.POOL,
    "adaptive_avg_pool2d": OpKind.POOL, "adaptive_max_pool2d": OpKind.POOL,
    "avg_pool1d": OpKind.POOL, "max_pool1d": OpKind.POOL, "adaptive_avg_pool1d": OpKind.POOL,
    "mean": OpKind.MEAN, "sum": OpKind.MEAN, "amax": OpKind.MEAN,
    "upsample_bilinear2d": OpKind.UPSAMPLE, "upsample_nearest2d": OpKind.UPSAMPLE,
    "upsample_bicubic2d": OpKind.UPSAMPLE,
}

# Expanded by the lowering into ATTN_QK, SOFTMAX and ATTN_AV.
FUSED_ATTENTION = "scaled_dot_product_attention"


def op_name(target) -> str:
    """'aten.relu_.default' -> 'relu' (in-place variants normalise to their plain op)."""
    name = getattr(target, "_opname", None) or getattr(target, "__name__", None) or str(target)
    if name.endswith("_") and not name.endswith("__") and not name.startswith("_"):
        name = name[:-1]
    return name

