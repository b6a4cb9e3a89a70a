"""Lower an exported torch graph (aten ops with fake-tensor shapes) to an IR `Graph`.

Layout ops are folded but keep their edges; attention, fused or written out, becomes the same
three ops: the QK^T GEMM, the softmax and the A.V GEMM, with the head count recorded.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch.export.graph_signature import InputKind

from codesign.errors import UnsupportedOps
from codesign.frontend.aten_table import COMPUTE_OPS, FUSED_ATTENTION, LAYOUT_OPS, op_name
from codesign.ir import (ATTENTION_KINDS, AttentionAttrs, ConvAttrs, Gemm, Graph, Op, OpKind,
                         PoolAttrs, verify)

_ELTWISE = (OpKind.ADD, OpKind.MUL)


@dataclass
class _Pending:
    """An op under construction; its name is settled once every op of its module is known."""
    module: str
    suffix: str
    kind: OpKind
    inputs: tuple
    output: tuple
    gemm: Gemm | None = None
    params: int = 0
    weight_elems: int = 0
    attrs: object = None
    sources: set = field(default_factory=set)   # indices of producing pending ops


def _shape(node) -> tuple[int, ...] | None:
    val = node.meta.get("val") if hasattr(node, "meta") else None
    if isinstance(val, (list, tuple)):
        val = val[0] if val else None
    if isinstance(val, torch.Tensor):
        return tuple(int(d) for d in val.shape)
    return None


def _module_path(node) -> str:
    stack = node.meta.get("nn_module_stack") or {}
    return list(stack.values())[-1][0] if stack else ""


def _tensor_args(node) -> list:
    found = []

    def visit(a):
        if isinstance(a, torch.fx.Node):
            found.append(a)
        elif isinstance(a, (list, tuple)):
            for b in a:
                visit(b)
    visit(node.args)
    visit(list(node.kwargs.values()))
    return found


def _pair(v, default) -> tuple[int, int]:
    if v is None:
        return (default, default)
    if isinstance(v, int):
        return (v, v)
    v = list(v)
    return (int(v[0]), int(v[-1])) if v else (default, default)


def _arg(node, index: int, name: str, default):
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)


class _Lowering:
    def __init__(self, ep):
        sig = ep.graph_signature
        self.ep = ep
        self.param_names = {s.arg.name for s in sig.input_specs if s.kind is InputKind.PARAMETER}
        self.user_inputs = {s.arg.name for s in sig.input_specs if s.kind is InputKind.USER_INPUT}
        self.producers: dict = {}      # activation node -> frozenset of pending-op indices
        self.params_of: dict = {}      # constant node -> frozenset of parameter placeholder names
        self.numel: dict[str, int] = {}
        self.claimed: set[str] = set()
        self.pending: list[_Pending] = []
        self.unknown: dict[str, str] = {}
        self.attention: dict = {}      # softmax node -> {"qk": idx, "sm": idx, "av": idx}

    # --- helpers -------------------------------------------------------------------------
    def _kind(self, node):
        if node.op != "call_function":
            return None
        name = op_name(node.target)
        return "layout" if name in LAYOUT_OPS else COMPUTE_OPS.get(name)

    def _claim(self, const_args) -> int:
        names = set().union(*(self.params_of.get(a, frozenset()) for a in const_args)) - self.claimed
        self.claimed |= names
        return sum(self.numel[n] for n in names)

    def _add(self, node, pending: _Pending, act_args) -> int:
        for a in act_args:
            pending.sources |= self.producers.get(a, frozenset())
        self.pending.append(pending)
        index = len(self.pending) - 1
        self.producers[node] = frozenset({index})
        return index

    # --- walk ----------------------------------------------------------------------------
    def run(self) -> None:
        for node in self.ep.graph.nodes:
            if node.op == "placeholder":
                if node.name in self.user_inputs:
                    self.producers[node] = frozenset()
                elif node.name in self.param_names:
                    self.params_of[node] = frozenset({node.name})
                    self.numel[node.name] = math.prod(_shape(node) or (0,))
                continue
            if node.op != "call_function":
                continue
            args = _tensor_args(node)
            act = [a for a in args if a in self.producers]
            const = [a for a in args if a not in self.producers]
            if not act:  # depends only on parameters and constants: folded at compile time
                self.params_of[node] = frozenset().union(*(self.params_of.get(a, frozenset()) for a in const))
                continue
            name = op_name(node.target)
            if name == FUSED_ATTENTION:
                self._fused_attention(node, act)
            elif name in LAYOUT_OPS or name not in COMPUTE_OPS:
                if name not in LAYOUT_OPS:
                    self.unknown.setdefault(str(node.target), _module_path(node) or "<root>")
                self.producers[node] = frozenset().union(*(self.producers[a] for a in act))
                self.params_of[node] = frozenset().union(*(self.params_of.get(a, frozenset()) for a in const))
            else:
                self._compute(node, COMPUTE_OPS[name], act, const)

    def _compute(self, node, kind: OpKind, act, const) -> None:
        module, out = _module_path(node), _shape(node)
        ins = tuple(_shape(a) for a in act)
        params = self._claim(const)
        if kind is OpKind.CONV2D:
            pending = self._conv(node, module, out, ins, params)
        elif kind is OpKind.LINEAR or (kind is OpKind.MATMUL and const):
            weight = next((_shape(a) for a in const if _shape(a) and len(_shape(a)) == 2), None)
            if weight is None:
                self.unknown.setdefault(f"{node.target} (no 2-D weight)", module or "<root>")
                weight = (ins[0][-1], out[-1])
            k = ins[0][-1]
            n = out[-1]
            pending = _Pending(module, "linear", OpKind.LINEAR, ins, out,
                               Gemm(m=math.prod(ins[0][:-1]), n=n, k=k), params, n * k)
        elif kind is OpKind.MATMUL:
            pending = self._matmul(node, module, out, ins)
        else:
            attrs = self._pool_attrs(node, ins[0], out) if kind is OpKind.POOL else None
            pending = _Pending(module, kind.value, kind, ins, out, None, params, params, attrs)
        index = self._add(node, pending, act)
        if kind is OpKind.SOFTMAX and node in self.attention:
            self.attention[node]["sm"] = index
        if pending.kind is OpKind.ATTN_QK:
            self.attention.setdefault(self._softmax_after(node), {})["qk"] = index
        if pending.kind is OpKind.ATTN_AV:
            self.attention.setdefault(self._softmax_before(node.args[0]), {})["av"] = index

    def _conv(self, node, module, out, ins, params) -> _Pending:
        weight = _shape(node.args[1])
        cout, cin_g, kh, kw = weight
        groups = int(_arg(node, 8 if op_name(node.target) == "convolution" else 6, "groups", 1))
        stride = _pair(_arg(node, 3, "stride", 1), 1)
        padding = _arg(node, 4, "padding", 0)
        dilation = _pair(_arg(node, 5, "dilation", 1), 1)
        if isinstance(padding, str):  # 'same' / 'valid': recover it from the shapes
            padding = tuple(max(0, ((o - 1) * s + (k - 1) * d + 1 - i) // 2)
                            for o, s, k, d, i in zip(out[2:], stride, (kh, kw), dilation, ins[0][2:]))
        attrs = ConvAttrs(kernel=(kh, kw), stride=stride, padding=_pair(padding, 0), dilation=dilation,
                          groups=groups, in_channels=cin_g * groups, out_channels=cout)
        gemm = Gemm(m=out[0] * out[2] * out[3], n=cout // groups, k=cin_g * kh * kw, batch=groups)
        return _Pending(module, "conv2d", OpKind.CONV2D, ins, out, gemm, params, math.prod(weight), attrs)

    def _matmul(self, node, module, out, ins) -> _Pending:
        a, b = ins[0], ins[1]
        m = a[-2] if len(a) > 1 else 1
        k = a[-1]
        n = b[-1] if len(b) > 1 else 1
        batch = math.prod(out[:-2]) if len(out) > 2 else 1
        gemm = Gemm(m=m, n=n, k=k, batch=batch)
        if self._softmax_after(node) is not None:
            kind, suffix = OpKind.ATTN_QK, "qk"
        elif self._softmax_before(node.args[0]) is not None:
            kind, suffix = OpKind.ATTN_AV, "av"
        else:
            kind, suffix = OpKind.MATMUL, "matmul"
        return _Pending(module, suffix, kind, ins, out, gemm, 0, math.prod(b))

    def _softmax_after(self, node):
        """The softmax this matmul's scores reach through layout and element-wise ops, if any."""
        frontier, seen = list(node.users), set()
        while frontier:
            user = frontier.pop()
            if user in seen:
                continue
            seen.add(user)
            kind = self._kind(user)
            if kind is OpKind.SOFTMAX:
                return user
            if kind == "layout" or kind in _ELTWISE:
                frontier.extend(user.users)
        return None

    def _softmax_before(self, node):
        """The softmax that feeds this operand through layout ops (dropout included), if any."""
        while isinstance(node, torch.fx.Node):
            kind = self._kind(node)
            if kind is OpKind.SOFTMAX:
                return node
            if kind != "layout":
                return None
            acts = [a for a in _tensor_args(node) if a in self.producers]
            node = acts[0] if acts else None
        return None

    def _fused_attention(self, node, act) -> None:
        q, k, v = node.args[0], node.args[1], node.args[2]
        qs, ks, vs, out = _shape(q), _shape(k), _shape(v), _shape(node)
        lead = qs[:-2]
        batch_heads = math.prod(lead)
        scores = (*lead, qs[-2], ks[-2])
        attrs = _attention_attrs(scores, head_dim=qs[-1], value_dim=vs[-1], fused=True)
        module = _module_path(node)
        qk = _Pending(module, "qk", OpKind.ATTN_QK, (qs, ks), scores,
                      Gemm(m=qs[-2], n=ks[-2], k=qs[-1], batch=batch_heads), 0, math.prod(ks), attrs)
        for a in (q, k):
            qk.sources |= self.producers.get(a, frozenset())
        self.pending.append(qk)
        sm = _Pending(module, "softmax", OpKind.SOFTMAX, (scores,), scores, None, 0, 0, attrs,
                      sources={len(self.pending) - 1})
        self.pending.append(sm)
        av = _Pending(module, "av", OpKind.ATTN_AV, (scores, vs), out,
                      Gemm(m=qs[-2], n=vs[-1], k=ks[-2], batch=batch_heads), 0, math.prod(vs), attrs,
                      sources={len(self.pending) - 1} | set(self.producers.get(v, frozenset())))
        self._add(node, av, [])

    def _pool_attrs(self, node, inp, out) -> PoolAttrs:
        name = op_name(node.target)
        mode = "max" if "max" in name else "avg"
        if name.startswith("adaptive"):
            kernel = tuple(-(-i // o) for i, o in zip(inp[2:], out[2:]))
            return PoolAttrs(kernel=kernel, stride=kernel, mode=mode)
        kernel = _pair(_arg(node, 1, "kernel_size", 1), 1)
        stride = _arg(node, 2, "stride", None)
        padding = _pair(_arg(node, 3, "padding", 0), 0)
        return PoolAttrs(kernel=kernel, stride=_pair(stride, kernel[0]) if stride else kernel, mode=mode,
                         padding=padding)

    # --- finish --------------------------------------------------------------------------
    def settle_attention(self) -> None:
        """Give the three ops of each written-out attention one set of attrs (heads, dims)."""
        for group in self.attention.values():
            if "qk" not in group:
                continue
            qk = self.pending[group["qk"]]
            av = self.pending[group["av"]] if "av" in group else None
            attrs = _attention_attrs(qk.output, head_dim=qk.gemm.k,
                                     value_dim=av.gemm.n if av else qk.gemm.k, fused=False)
            for key in ("qk", "sm", "av"):
                if key in group:
                    self.pending[group[key]].attrs = attrs

    def names(self) -> list[str]:
        per_module: dict[str, int] = {}
        for p in self.pending:
            per_module[p.module] = per_module.get(p.module, 0) + 1
        used: dict[str, int] = {}
        names = []
        for p in self.pending:
            if per_module[p.module] == 1 and p.module:
                base = p.module
            else:
                base = f"{p.module}.{p.suffix}" if p.module else p.suffix
            count = used.get(base, 0)
            used[base] = count + 1
            names.append(base if count == 0 else f"{base}_{count}")
        return names


def _attention_attrs(scores: tuple, head_dim: int, value_dim: int, fused: bool) -> AttentionAttrs:
    heads = scores[-3] if len(scores) >= 4 else 1
    batch = math.prod(scores[:-3]) if len(scores) >= 4 else (scores[0] if len(scores) == 3 else 1)
    return AttentionAttrs(heads=heads, head_dim=head_dim, value_dim=value_dim, seq_q=scores[-2],
                          seq_k=scores[-1], batch=batch, fused=fused)


def lower(ep, model: str, input_shape: tuple, param_count: int) -> Graph:
    """The IR of an `ExportedProgram`; raise UnsupportedOps naming any op the IR does not know."""
    lowering = _Lowering(ep)
    lowering.run()
    if lowering.unknown:
        listed = ", ".join(f"{t} (in {m})" for t, m in sorted(lowering.unknown.items()))
        raise UnsupportedOps(f"{model}: ops the IR does not know yet: {listed}")
    lowering.settle_attention()
    names = lowering.names()
    order = {name: i for i, name in enumerate(names)}
    ops, edges = [], set()
    for index, (name, p) in enumerate(zip(names, lowering.pending)):
        if p.kind in ATTENTION_KINDS and p.attrs is None:
            p.kind, p.suffix = OpKind.MATMUL, "matmul"
        ops.append(Op(name=name, kind=p.kind, inputs=p.inputs, output=p.output, gemm=p.gemm,
                      params=p.params, weight_elems=p.weight_elems, attrs=p.attrs))
        edges |= {(names[s], name) for s in p.sources}
    graph = Graph(model=model, input_shape=tuple(input_shape), ops=tuple(ops),
                  edges=tuple(sorted(edges, key=lambda e: (order[e[1]], order[e[0]]))),
                  param_count=param_count)
    verify(graph)
    return graph
