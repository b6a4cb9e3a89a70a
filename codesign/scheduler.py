"""Lower every op of an IR Graph to engine layers: PE-array GEMMs/convs and vector-unit ops, with
the graph around each (producer, consumers, foldable BatchNorm) that the mapper fuses by.
"""
# Per-op dataflows come from the accelerator's default, a global override, or per-op overrides by
# glob; the mapper (accel_sim/mapper.py) then searches tilings and decides fusion and residency.
from __future__ import annotations

import fnmatch
import math
from accel_sim.config import parse_dataflow
from accel_sim.loading import load_accelerator
from accel_sim.mapper import map_workload
from accel_sim.schedule import Schedule
from accel_sim.errors import UserError
from accel_sim.workload import Layer, LayerKind, Workload
from codesign.ir import ConvAttrs, Graph, Op, OpKind


FOLDS_INTO = frozenset({OpKind.CONV2D, OpKind.LINEAR})   # BatchNorm after these folds into weights


def op_to_layer(op: Op, producer: int = -1, consumers: int = 1, foldable: bool = False) -> Layer:
    """One IR op as an engine layer. Operand element counts are per GEMM batch element."""
    graph = {"producer": producer, "consumers": consumers}
    if not op.on_pe_array:
        elems = op.in_elems if op.kind in (OpKind.POOL, OpKind.MEAN) else op.out_elems
        return Layer(name=op.name, kind=LayerKind.VECTOR, vector_family=op.vector_family,
                     elems=elems, a_elems=op.in_elems, b_elems=op.weight_elems, o_elems=op.out_elems,
                     w_bits=op.w_bits, a_bits=op.a_bits, label=op.kind.value, foldable=foldable, **graph)
    g = op.gemm
    if isinstance(op.attrs, ConvAttrs):
        a = op.attrs
        batch_images, _, out_h, out_w = op.output
        ifmap = math.prod(op.inputs[0]) // a.groups  # the real ifmap, smaller than its im2col view
        return Layer(name=op.name, kind=LayerKind.CONV, m=g.m, n=g.n, k=g.k, batch=g.batch,
                     a_elems=ifmap, kh=a.kernel[0], kw=a.kernel[1], stride=a.stride[0],
                     oh=out_h * batch_images, ow=out_w, iw=op.inputs[0][-1], w_bits=op.w_bits,
                     a_bits=op.a_bits, label=op.kind.value, depthwise=a.depthwise and g.n == 1, **graph)
    return Layer(name=op.name, kind=LayerKind.GEMM, m=g.m, n=g.n, k=g.k, batch=g.batch,
                 b_is_activation=op.b_is_activation, w_bits=op.w_bits, a_bits=op.a_bits,
                 label=op.kind.value, **graph)


def lower(graph: Graph) -> Workload:
    """Every op of `graph` as an engine layer, in order, with its main producer (the latest op
    it reads from), its consumer count, and whether it is a BatchNorm that folds into its producer."""
    index = {op.name: i for i, op in enumerate(graph.ops)}
    dag = graph.dag
    layers = []
    for i, op in enumerate(graph.ops):
        preds = [index[p] for p in dag.predecessors(op.name)]
        producer = max(preds) if preds else -1
        consumers = dag.out_degree(op.name)
        foldable = (op.kind == OpKind.BATCHNORM and len(preds) == 1
                    and graph.ops[producer].kind in FOLDS_INTO and dag.out_degree(graph.ops[producer].name) == 1)
        layers.append(op_to_layer(op, producer, consumers, foldable))
    return Workload.from_layers(layers)


def dataflow_per_layer(graph: Graph, overrides: dict[str, str] | None = None) -> tuple[str | None, ...]:
    """Per-op dataflow overrides {glob: dataflow} as one entry per op (None: the default)."""
    per_op: list[str | None] = [None] * len(graph.ops)
    for pattern, df in (overrides or {}).items():
        df = parse_dataflow(df, f"dataflow override {pattern!r}").value
        hits = [i for i, op in enumerate(graph.ops) if op.on_pe_array and fnmatch.fnmatchcase(op.name, pattern)]
        if not hits:
            raise UserError(f"dataflow override {pattern!r} matches no PE-array op of {graph.model}")
        for i in hits:
            per_op[i] = df
    return tuple(per_op)


def schedule(graph: Graph, accel, dataflow: str | None = None, overrides: dict[str, str] | None = None,
             mapping: str = "searched", objective: str = "latency") -> Schedule:
    """The Schedule of `graph` on `accel`: one dataflow for all layers with optional per-op
    overrides {glob: dataflow}, tiled, fused and kept on chip by the named mapping."""
    if dataflow is not None:
        dataflow = parse_dataflow(dataflow, "--dataflow").value
    return map_workload(lower(graph), load_accelerator(accel), dataflow=dataflow,
                        dataflow_per_layer=dataflow_per_layer(graph, overrides), mapping=mapping, objective=objective)


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
