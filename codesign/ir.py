"""The graph IR: immutable ops with shapes, a GEMM view, MACs, parameters and bit widths.

Frontends produce a `Graph`; transforms return new Graphs; the scheduler lowers its ops.
"""
from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property

import networkx as nx

from accel_sim.workload import VectorFamily

Shape = tuple[int, ...]


class OpKind(str, Enum):
    """Every op the IR keeps. Layout-only ops (view, permute, cat, ...) are folded away."""
    CONV2D = "conv2d"          # grouped and depthwise included (attrs.groups)
    LINEAR = "linear"
    MATMUL = "matmul"          # activation x activation, outside attention
    ATTN_QK = "attn_qk"        # Q @ K^T of attention: both operands activations
    ATTN_AV = "attn_av"        # softmax(A) @ V of attention: both operands activations
    SOFTMAX = "softmax"
    LAYERNORM = "layer_norm"
    BATCHNORM = "batch_norm"
    GROUPNORM = "group_norm"
    GELU = "gelu"
    RELU = "relu"
    SILU = "silu"
    HARDSWISH = "hardswish"
    HARDSIGMOID = "hardsigmoid"
    SIGMOID = "sigmoid"
    TANH = "tanh"
    ADD = "add"                # add and sub
    MUL = "mul"                # mul and div
    POOL = "pool"              # max / average / adaptive pooling
    MEAN = "mean"
    UPSAMPLE = "upsample"


PE_ARRAY_KINDS = frozenset({OpKind.CONV2D, OpKind.LINEAR, OpKind.MATMUL, OpKind.ATTN_QK, OpKind.ATTN_AV})
ATTENTION_KINDS = frozenset({OpKind.ATTN_QK, OpKind.ATTN_AV})
ACTIVATION_OPERAND_KINDS = frozenset({OpKind.MATMUL, OpKind.ATTN_QK, OpKind.ATTN_AV})
VECTOR_KINDS = frozenset(OpKind) - PE_ARRAY_KINDS

# The vector unit's op family of every op kind off the PE array (accel_sim's one vocabulary).
_F = VectorFamily
VECTOR_FAMILY = {
    OpKind.SOFTMAX: _F.EXP_SOFTMAX,
    OpKind.LAYERNORM: _F.LAYERNORM, OpKind.BATCHNORM: _F.LAYERNORM, OpKind.GROUPNORM: _F.LAYERNORM,
    OpKind.GELU: _F.GELU,
    OpKind.RELU: _F.ACTIVATION, OpKind.SILU: _F.ACTIVATION, OpKind.HARDSWISH: _F.ACTIVATION,
    OpKind.HARDSIGMOID: _F.ACTIVATION, OpKind.SIGMOID: _F.ACTIVATION, OpKind.TANH: _F.ACTIVATION,
    OpKind.ADD: _F.ELTWISE, OpKind.MUL: _F.ELTWISE,
    OpKind.POOL: _F.POOLING, OpKind.MEAN: _F.POOLING, OpKind.UPSAMPLE: _F.POOLING,
}

DEFAULT_BITS = 16
SUPPORTED_BITS = (16, 8, 6, 4, 2, 1)


@dataclass(frozen=True)
class Gemm:
    """The op as `batch` independent (m x k) @ (k x n) products."""
    m: int
    n: int
    k: int
    batch: int = 1

    @property
    def macs(self) -> int:
        return self.m * self.n * self.k * self.batch


@dataclass(frozen=True)
class ConvAttrs:
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int
    in_channels: int
    out_channels: int

    @property
    def depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.in_channels


@dataclass(frozen=True)
class AttentionAttrs:
    """Shared by the QK^T GEMM, the softmax and the A.V GEMM of one attention."""
    heads: int
    head_dim: int          # d of Q and K
    value_dim: int         # d of V
    seq_q: int
    seq_k: int
    batch: int             # batch dims outside the heads (B, or B x windows for Swin)
    fused: bool            # came from scaled_dot_product_attention


@dataclass(frozen=True)
class PoolAttrs:
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    mode: str = "avg"                       # "max" or "avg"
    padding: tuple[int, ...] = (0, 0)


Attrs = ConvAttrs | AttentionAttrs | PoolAttrs | None


@dataclass(frozen=True)
class Op:
    """One compute op. `name` is the module path (plus a suffix when a module runs several ops)."""
    name: str
    kind: OpKind
    inputs: tuple[Shape, ...]      # activation inputs (parameters are not listed)
    output: Shape
    gemm: Gemm | None = None
    params: int = 0                # parameters owned by this op (weight + bias)
    weight_elems: int = 0          # B operand of a GEMM (weights; K or V for attention); params of others
    attrs: Attrs = None
    w_bits: int = DEFAULT_BITS
    a_bits: int = DEFAULT_BITS

    def __post_init__(self):
        if (self.kind in PE_ARRAY_KINDS) != (self.gemm is not None):
            raise ValueError(f"op {self.name}: PE-array ops need a GEMM view, other ops must not have one")
        for bits in (self.w_bits, self.a_bits):
            if bits not in SUPPORTED_BITS:
                raise ValueError(f"op {self.name}: bit width {bits} not in {SUPPORTED_BITS}")

    @property
    def macs(self) -> int:
        return self.gemm.macs if self.gemm is not None else 0

    @property
    def in_elems(self) -> int:
        return sum(math.prod(s) for s in self.inputs)

    @property
    def out_elems(self) -> int:
        return math.prod(self.output)

    @property
    def on_pe_array(self) -> bool:
        return self.kind in PE_ARRAY_KINDS

    @property
    def b_is_activation(self) -> bool:
        """Both GEMM operands are activations (QK^T, A.V, plain matmul): nothing to preload."""
        return self.kind in ACTIVATION_OPERAND_KINDS

    @property
    def vector_family(self) -> VectorFamily | None:
        return VECTOR_FAMILY.get(self.kind)

    @property
    def block(self) -> str:
        return block_of(self.name)

    def replace(self, **changes) -> Op:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        out = {"name": self.name, "kind": self.kind.value, "block": self.block,
               "inputs": [list(s) for s in self.inputs], "output": list(self.output),
               "macs": self.macs, "params": self.params, "weight_elems": self.weight_elems,
               "in_elems": self.in_elems, "out_elems": self.out_elems,
               "w_bits": self.w_bits, "a_bits": self.a_bits,
               "gemm": dataclasses.asdict(self.gemm) if self.gemm else None,
               "attrs": dataclasses.asdict(self.attrs) if self.attrs else None}
        if isinstance(self.attrs, AttentionAttrs):
            out["heads"] = self.attrs.heads
        return out


_INDEX = re.compile(r"^\d+$")


def block_of(name: str) -> str:
    """The repeated unit an op belongs to: the longest prefix ending in an index ('blocks.3')."""
    parts = name.split(".")
    for end in range(len(parts) - 1, 0, -1):
        if _INDEX.match(parts[end - 1]):
            return ".".join(parts[:end])
    return parts[0]


@dataclass(frozen=True)
class Totals:
    ops: int
    macs: int
    params: int
    pe_array_ops: int
    vector_ops: int
    vector_elems: int
    weight_elems: int
    activation_elems: int
    macs_by_kind: dict = field(default_factory=dict)
    ops_by_kind: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Graph:
    """Ops in topological order plus the data edges between them (through folded layout ops)."""
    model: str
    input_shape: Shape
    ops: tuple[Op, ...]
    edges: tuple[tuple[str, str], ...]
    param_count: int               # every parameter of the model, counted once

    @cached_property
    def by_name(self) -> dict[str, Op]:
        return {op.name: op for op in self.ops}

    @cached_property
    def dag(self) -> nx.DiGraph:
        g = nx.DiGraph()
        for op in self.ops:
            g.add_node(op.name, op=op)
        g.add_edges_from(self.edges)
        return g

    def totals(self) -> Totals:
        macs_by_kind: Counter = Counter()
        ops_by_kind: Counter = Counter()
        for op in self.ops:
            ops_by_kind[op.kind.value] += 1
            if op.macs:
                macs_by_kind[op.kind.value] += op.macs
        pe = [op for op in self.ops if op.on_pe_array]
        vec = [op for op in self.ops if not op.on_pe_array]
        return Totals(ops=len(self.ops), macs=sum(op.macs for op in pe), params=self.param_count,
                      pe_array_ops=len(pe), vector_ops=len(vec),
                      vector_elems=sum(op.out_elems for op in vec),
                      weight_elems=sum(op.weight_elems for op in pe if not op.b_is_activation),
                      activation_elems=sum(op.out_elems for op in self.ops),
                      macs_by_kind=dict(macs_by_kind), ops_by_kind=dict(ops_by_kind))

    def by_block(self) -> dict[str, list[Op]]:
        blocks: dict[str, list[Op]] = {}
        for op in self.ops:
            blocks.setdefault(op.block, []).append(op)
        return blocks

    def replace_ops(self, ops) -> Graph:
        """A new Graph with `ops` (same names, so edges still hold)."""
        return dataclasses.replace(self, ops=tuple(ops))

    def to_dict(self) -> dict:
        return {"model": self.model, "input_shape": list(self.input_shape),
                "totals": self.totals().to_dict(), "ops": [op.to_dict() for op in self.ops],
                "edges": [list(e) for e in self.edges]}


def verify(graph: Graph) -> None:
    """Check the IR invariants; raise ValueError naming the first broken one: unique names, edges in
    topological order, positive shapes, and every GEMM view consistent with its op's shapes
    (outputs = m x n x batch, MACs = outputs x k, a conv's k = its channels per group x kernel,
    weights = k x n per group)."""
    seen: dict[str, int] = {}
    for i, op in enumerate(graph.ops):
        if op.name in seen:
            raise ValueError(f"duplicate op name {op.name!r}")
        seen[op.name] = i
        for shape in (*op.inputs, op.output):
            if not all(isinstance(d, int) and d > 0 for d in shape):
                raise ValueError(f"op {op.name}: shape {shape} has a dimension that is not a positive integer")
        if op.gemm is not None:
            _verify_gemm(op)
    for src, dst in graph.edges:
        if src not in seen or dst not in seen:
            raise ValueError(f"edge {src} -> {dst} names an op that is not in the graph")
        if seen[src] >= seen[dst]:
            raise ValueError(f"edge {src} -> {dst} goes against the topological order")


def _verify_gemm(op: Op) -> None:
    g = op.gemm
    if min(g.m, g.n, g.k, g.batch) <= 0:
        raise ValueError(f"op {op.name}: empty GEMM {g}")
    if op.out_elems != g.m * g.n * g.batch:
        raise ValueError(f"op {op.name}: output {op.output} has {op.out_elems} elements, its GEMM {g} "
                         f"m x n x batch = {g.m * g.n * g.batch}")
    if op.macs != op.out_elems * g.k:
        raise ValueError(f"op {op.name}: {op.macs} MACs, not outputs x k = {op.out_elems * g.k}")
    conv = op.attrs if isinstance(op.attrs, ConvAttrs) else None
    if conv is not None and g.k != conv.in_channels // conv.groups * conv.kernel[0] * conv.kernel[1]:
        raise ValueError(f"op {op.name}: GEMM k {g.k} is not channels per group x kernel of {conv}")
    if not op.b_is_activation:
        groups = g.batch if conv is not None and conv.groups > 1 else 1
        if op.weight_elems != g.k * g.n * groups:
            raise ValueError(f"op {op.name}: {op.weight_elems} weights, not k x n x groups = {g.k * g.n * groups}")


def verify_pass(before: Graph, after: Graph, name: str) -> None:
    """`after` (the result of pass `name` on `before`) meets the IR invariants and keeps what the pass
    must keep: the same ops in the same order; precision changes bit widths only; pruning never
    adds MACs, parameters or weights to an op."""
    try:
        verify(after)
        if [op.name for op in before.ops] != [op.name for op in after.ops] or before.edges != after.edges:
            raise ValueError("the ops or edges changed")
        for old, new in zip(before.ops, after.ops):
            if name == "precision":
                if dataclasses.replace(new, w_bits=old.w_bits, a_bits=old.a_bits) != old:
                    raise ValueError(f"op {old.name}: more than its bit widths changed")
            elif new.macs > old.macs or new.params > old.params or new.weight_elems > old.weight_elems:
                raise ValueError(f"op {old.name}: MACs, parameters or weights grew")
        if after.totals().macs > before.totals().macs:
            raise ValueError("the MAC total grew")
    except ValueError as err:
        raise ValueError(f"IR after the {name} pass: {err}") from None
