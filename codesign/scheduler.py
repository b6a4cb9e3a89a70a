"""Lower every op of an IR Graph onto an accelerator: PE-array GEMMs/convs and vector-unit ops.

Picks each op's dataflow (the accelerator's default, a global override, or per-op overrides by
glob); the engine then tiles every layer to fit the buffers and simulates the tile pipeline.
"""
from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass

from accel_sim.config import parse_dataflow
from accel_sim.errors import UserError
from accel_sim.workload import Layer, LayerKind, Workload
from codesign.ir import ConvAttrs, Graph, Op, OpKind


def op_to_layer(op: Op) -> Layer:
    """One IR op as an engine layer. Operand element counts are per GEMM batch element."""
    if not op.on_pe_array:
        elems = op.in_elems if op.kind in (OpKind.POOL, OpKind.MEAN) else op.out_elems
        return Layer(name=op.name, kind=LayerKind.VECTOR, vector_family=op.vector_family,
                     elems=elems, a_elems=op.in_elems, b_elems=op.weight_elems, o_elems=op.out_elems,
                     w_bits=op.w_bits, a_bits=op.a_bits, label=op.kind.value)
    g = op.gemm
    if isinstance(op.attrs, ConvAttrs):
        a = op.attrs
        batch_images, _, out_h, out_w = op.output
        ifmap = math.prod(op.inputs[0]) // a.groups  # the real ifmap, smaller than its im2col view
        return Layer(name=op.name, kind=LayerKind.CONV, m=g.m, n=g.n, k=g.k, batch=g.batch,
                     a_elems=ifmap, kh=a.kernel[0], kw=a.kernel[1], stride=a.stride[0],
                     oh=out_h * batch_images, ow=out_w, w_bits=op.w_bits, a_bits=op.a_bits,
                     label=op.kind.value)
    return Layer(name=op.name, kind=LayerKind.GEMM, m=g.m, n=g.n, k=g.k, batch=g.batch,
                 b_is_activation=op.b_is_activation, w_bits=op.w_bits, a_bits=op.a_bits,
                 label=op.kind.value)


@dataclass(frozen=True)
class Schedule:
    """The mapping: the workload the engine runs and each layer's dataflow (None = default)."""
    workload: Workload
    dataflow: str | None
    layer_dataflows: tuple[str | None, ...]


def schedule(graph: Graph, dataflow: str | None = None, overrides: dict[str, str] | None = None) -> Schedule:
    """Map `graph` with one dataflow for all layers and optional per-op overrides {glob: dataflow}."""
    if dataflow is not None:
        dataflow = parse_dataflow(dataflow, "--dataflow").value
    per_op: list[str | None] = [None] * len(graph.ops)
    for pattern, df in (overrides or {}).items():
        df = parse_dataflow(df, f"dataflow override {pattern!r}").value
        hits = [i for i, op in enumerate(graph.ops) if op.on_pe_array and fnmatch.fnmatchcase(op.name, pattern)]
        if not hits:
            raise UserError(f"dataflow override {pattern!r} matches no PE-array op of {graph.model}")
        for i in hits:
            per_op[i] = df
    workload = Workload.from_layers(op_to_layer(op) for op in graph.ops)
    return Schedule(workload, dataflow, tuple(per_op))


def parse_overrides(text: str | None) -> dict[str, str]:
    """'blocks.*.attn.qk=os,head=ws' -> {'blocks.*.attn.qk': 'os', 'head': 'ws'}."""
    if not text:
        return {}
    out = {}
    for item in text.split(","):
        pattern, sep, df = item.partition("=")
        if not sep or not pattern.strip() or not df.strip():
            raise UserError(f"--layer-dataflow item {item!r} is not PATTERN=DATAFLOW (e.g. 'blocks.*.attn.qk=os')")
        out[pattern.strip()] = df.strip()
    return out
