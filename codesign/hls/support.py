"""What the HLS templates can express: op kinds, conv geometry, dataflows, widths, exp impl.
Each check raises a one-line UserError that names the op and says what to change."""
from __future__ import annotations

import math

from accel_sim.config import Accelerator
from codesign.errors import UserError
from codesign.hls.golden import MAX_LUT_BITS, layernorm_fits, max_abs
from codesign.ir import PE_ARRAY_KINDS, ConvAttrs, Op, OpKind, PoolAttrs

# The kernel each op kind the templates support runs (the dispatch family of the generated top
# function), named in the IR's own vocabulary: the op kind's name, except that every PE-array kind
# runs the one GEMM kernel and a spatial mean runs the pooling kernel.
_K = OpKind
SUPPORTED_KINDS = PE_ARRAY_KINDS | {_K.SOFTMAX, _K.LAYERNORM, _K.GELU, _K.RELU, _K.ADD, _K.MUL, _K.POOL, _K.MEAN,
                                    _K.SIGMOID, _K.SILU, _K.HARDSWISH, _K.HARDSIGMOID}
GEMM = "gemm"
FAMILY = {kind: GEMM if kind in PE_ARRAY_KINDS else (_K.POOL if kind is _K.MEAN else kind).value
          for kind in SUPPORTED_KINDS}
LUT_FAMILIES = tuple(k.value for k in (_K.SIGMOID, _K.SILU, _K.HARDSWISH, _K.HARDSIGMOID))   # golden.act_lut tables
HLS_DATAFLOWS = ("ws", "os", "is")
MAX_ACCUM_BITS = 48     # bias elements and the golden model's exact float64 sums
MAX_ROW_LEN = 1 << 16   # softmax row sums of Q1.15 terms stay below 2^32


def unsupported_message(ops: list[Op]) -> str:
    named = ", ".join(f"{op.name!r} ({op.kind.value})" for op in ops[:4])
    more = f" and {len(ops) - 4} more" if len(ops) > 4 else ""
    kinds = ", ".join(sorted(k.value for k in FAMILY))
    return (f"the HLS templates cannot emit {named}{more}: supported op kinds are {kinds}; "
            f"leave them out with --layers GLOB,...")


def fold_batchnorm(graph, ops: list[Op]) -> tuple[list[Op], dict[str, str]]:
    """BatchNorm after a conv or linear among `ops` folds into that producer's per-output-channel
    requantisation (bias and multiplier): the op leaves the layer list; {BN name: producer name}."""
    chosen = {op.name for op in ops}
    folded = {}
    for op in ops:
        preds = list(graph.dag.predecessors(op.name))
        if (op.kind == OpKind.BATCHNORM and len(preds) == 1 and preds[0] in chosen
                and graph.by_name[preds[0]].kind in (OpKind.CONV2D, OpKind.LINEAR)
                and len(list(graph.dag.successors(preds[0]))) == 1):
            folded[op.name] = preds[0]
    return [op for op in ops if op.name not in folded], folded


def check_supported(ops: list[Op]) -> None:
    bad = [op for op in ops if op.kind not in FAMILY]
    if bad:
        raise UserError(unsupported_message(bad))
    for op in ops:
        if isinstance(op.attrs, ConvAttrs) and op.attrs.dilation != (1, 1):
            raise UserError(f"the HLS templates cannot emit {op.name!r}: dilated convolution "
                            f"(dilation {op.attrs.dilation}); leave it out with --layers")
        if op.kind == OpKind.MEAN and not (len(op.inputs[0]) == 4 and tuple(op.output[:2]) == tuple(op.inputs[0][:2])
                                           and math.prod(op.output[2:]) == 1):
            raise UserError(f"the HLS templates cannot emit {op.name!r}: only a mean over the spatial dimensions "
                            f"of an NCHW map (global average pooling); leave it out with --layers")
        if op.kind == OpKind.MUL and not (len(op.inputs) == 2 and _add_shapes_ok(op) and _channel_broadcast(op)):
            raise UserError(f"the HLS templates cannot emit {op.name!r}: mul of shapes {[list(s) for s in op.inputs]} "
                            f"is not an elementwise product with a trailing or per-channel broadcast; leave it out "
                            f"with --layers")
        if op.kind == OpKind.ADD and not (_add_shapes_ok(op) and _channel_broadcast(op)):
            raise UserError(f"the HLS templates cannot emit {op.name!r}: add of shapes "
                            f"{[list(s) for s in op.inputs]} is not an elementwise add with a trailing "
                            f"broadcast; leave it out with --layers")
        if op.kind == OpKind.POOL and (not isinstance(op.attrs, PoolAttrs) or len(op.attrs.kernel) != 2
                                       or len(op.output) != 4):
            raise UserError(f"the HLS templates cannot emit {op.name!r}: only 2-D pooling of NCHW maps; "
                            f"leave it out with --layers")
        if op.kind in (OpKind.SOFTMAX, OpKind.LAYERNORM) and op.output[-1] > MAX_ROW_LEN:
            raise UserError(f"the HLS templates cannot emit {op.name!r}: rows of {op.output[-1]} "
                            f"elements exceed {MAX_ROW_LEN}")


def _channel_broadcast(op: Op) -> bool:
    """A smaller operand of a 4-D (NCHW, stored NHWC) product or sum must be one value per channel."""
    if len(op.inputs) < 2 or len(op.output) != 4:
        return True
    small = min(op.inputs, key=math.prod)
    return math.prod(small) == math.prod(op.output) or (len(small) == 4 and small[0] == 1 and small[2:] == (1, 1)
                                                         and small[1] == op.output[1] and op.output[0] == 1)


def pool_geometry(op: Op) -> tuple:
    """(kernel, stride, padding, mode, out_hw) of a pooling or spatial-mean op over an NCHW map."""
    if isinstance(op.attrs, PoolAttrs):
        a = op.attrs
        return tuple(a.kernel), tuple(a.stride), tuple(a.padding), a.mode, tuple(op.output[2:4])
    height, width = op.inputs[0][2:4]                  # MEAN over H, W: one window of the whole map
    return (height, width), (height, width), (0, 0), "avg", (1, 1)


def _add_shapes_ok(op: Op) -> bool:
    out = math.prod(op.output)
    sizes = [math.prod(s) for s in op.inputs]
    if len(sizes) == 1:
        return sizes[0] == out and op.params > 0 and out % op.params == 0
    return max(sizes) == out and out % min(sizes) == 0


def accumulator_bits_needed(k: int, w_bits: int, a_bits: int) -> int:
    """Signed bits that hold any sum of k products of such operands."""
    return (k * max_abs(w_bits) * max_abs(a_bits)).bit_length() + 1


def check_precision(op: Op, accel: Accelerator) -> None:
    """A width combination the templates cannot build on this accelerator raises."""
    accum = accel.pe_array.accum_bits
    if op.on_pe_array:
        if accum > MAX_ACCUM_BITS:
            raise UserError(f"pe_array.accum_bits={accum}: the HLS templates support accumulators up to "
                            f"{MAX_ACCUM_BITS} bits")
        b_bits = op.a_bits if op.b_is_activation else op.w_bits
        need = accumulator_bits_needed(op.gemm.k, b_bits, op.a_bits)
        if need > accum:
            raise UserError(
                f"precision w{op.w_bits}a{op.a_bits} of {op.name!r} cannot be expressed: sums of K={op.gemm.k} "
                f"products of {b_bits}-bit x {op.a_bits}-bit operands need a {need}-bit accumulator and "
                f"the accelerator's pe_array.accum_bits is {accum}; use narrower widths (--precision) or "
                f"wider accumulators")
        return
    if op.a_bits < 2:
        raise UserError(f"precision of {op.name!r} cannot be expressed: the vector unit has no binary "
                        f"({op.a_bits}-bit) activations")
    if FAMILY.get(op.kind) in LUT_FAMILIES and op.a_bits > MAX_LUT_BITS:
        raise UserError(f"precision a{op.a_bits} of {op.name!r} cannot be expressed: the vector unit takes "
                        f"{op.kind.value} from a table of 2^bits entries, up to {MAX_LUT_BITS}-bit activations")
    if op.kind == OpKind.LAYERNORM and not layernorm_fits(op.output[-1], op.a_bits):
        raise UserError(f"precision a{op.a_bits} of {op.name!r} cannot be expressed: the 64-bit variance of "
                        f"{op.output[-1]}-wide rows would overflow; use at most 8-bit activations here")


def check_dataflow(op: Op, dataflow: str) -> None:
    if dataflow not in HLS_DATAFLOWS:
        raise UserError(f"dataflow {dataflow} of {op.name!r} cannot be emitted: the HLS PE array "
                        f"implements {', '.join(HLS_DATAFLOWS)} (pass --dataflow ws, or --layer-dataflow)")


def check_exp_impl(accel: Accelerator, ops: list[Op]) -> None:
    if accel.vector_unit.exp_impl != "lut" and any(op.kind == OpKind.SOFTMAX for op in ops):
        raise UserError(f"vector_unit.exp_impl={accel.vector_unit.exp_impl!r} cannot be emitted: the HLS "
                        f"vector unit builds exp from LUTs (exp_impl: lut)")
