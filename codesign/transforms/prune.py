"""Attention-head and MLP-width pruning on the IR: a `PrunePlan` and `apply_pruning(graph, plan)`.

The QKV and output projections of each attention are found through the graph edges, not by name.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from codesign.errors import UserError
from codesign.ir import AttentionAttrs, Gemm, Graph, Op, OpKind
from accel_sim.workload import VectorFamily
from codesign.transforms.precision import split_entries

_ACTIVATION_FAMILIES = (VectorFamily.GELU, VectorFamily.ACTIVATION)
HeadValue = int | tuple[int, ...]   # a kept-head count, or the indices of the heads to keep
IMPORTANCE_SCORES = ("l1", "taylor")  # weight L1 norm; first-order Taylor on labelled calibration data


def _round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5 + 1e-9))


def _check_ratio(ratio: float, what: str) -> float:
    if not 0.0 < ratio <= 1.0:
        raise UserError(f"{what} {ratio:g} is not valid: give the fraction to KEEP, in (0, 1] (e.g. 0.5)")
    return float(ratio)


@dataclass(frozen=True)
class PrunePlan:
    """What to keep. Heads are given in at most one of three forms:

    `keep_ratio` (the same fraction of heads in every attention, rounded half up, e.g. 0.5 keeps 6
    of 12); `keep_counts` (one kept-head count per attention, in graph order); or `per_block`
    (block or attention name -> kept-head count or the indices of the heads to keep; the other
    attentions keep all heads). Which heads a count keeps is decided by importance (see
    `most_important`); the IR needs only the counts. `mlp_keep_ratio` keeps that fraction of the MLP
    hidden units of every transformer block. `importance` says how heads and units are ranked on the
    real model (one of IMPORTANCE_SCORES; None: Taylor when labelled data is there, else L1).
    """
    keep_ratio: float | None = None
    keep_counts: tuple[int, ...] | None = None
    per_block: tuple[tuple[str, HeadValue], ...] = ()
    mlp_keep_ratio: float | None = None
    importance: str | None = None

    def __post_init__(self):
        if self.importance is not None and self.importance not in IMPORTANCE_SCORES:
            raise UserError(f"--prune-importance {self.importance!r} is not valid; "
                            f"give one of {', '.join(IMPORTANCE_SCORES)}")
        forms = (self.keep_ratio is not None) + (self.keep_counts is not None) + bool(self.per_block)
        if forms > 1:
            raise UserError("--prune-heads: give one form: a ratio, a list of counts, or BLOCK=COUNT entries")
        if self.keep_ratio is not None:
            _check_ratio(self.keep_ratio, "--prune-heads ratio")
        if self.mlp_keep_ratio is not None:
            _check_ratio(self.mlp_keep_ratio, "--prune-mlp ratio")
        for count in self.keep_counts or ():
            if count < 1:
                raise UserError(f"--prune-heads count {count} would prune every head; keep at least 1")
        keys = [key for key, _ in self.per_block]
        for key, value in self.per_block:
            if keys.count(key) > 1:
                raise UserError(f"--prune-heads: {key!r} is given twice")
            if isinstance(value, tuple):
                if not value or len(set(value)) != len(value) or min(value) < 0:
                    raise UserError(f"--prune-heads {key}={list(value)}: give distinct head indices "
                                    "(from 0), at least one")
            elif value < 1:
                raise UserError(f"--prune-heads {key}={value} would prune every head; keep at least 1")

    @property
    def prunes_heads(self) -> bool:
        return self.keep_ratio is not None or self.keep_counts is not None or bool(self.per_block)

    @property
    def heads_spec(self) -> str | None:
        """The canonical `--prune-heads` text (parses back to the same plan), or None."""
        if self.keep_ratio is not None:
            return repr(float(self.keep_ratio))
        if self.keep_counts is not None:
            return ",".join(map(str, self.keep_counts))
        if self.per_block:
            return ",".join(f"{k}=[{','.join(map(str, v))}]" if isinstance(v, tuple) else f"{k}={v}"
                            for k, v in self.per_block)
        return None

    def to_dict(self) -> dict:
        out = {"prune_heads": self.heads_spec, "mlp_keep_ratio": self.mlp_keep_ratio}
        if self.importance is not None:
            out["prune_importance"] = self.importance
        return out


def parse_prune(heads: str | float | None = None, mlp: str | float | None = None) -> PrunePlan:
    """A plan from `--prune-heads` ('0.5', '6,6,4,...', 'blocks.0=6,blocks.1=[0,2,5]') and `--prune-mlp`.

    A ratio has a decimal point ('1.0', not '1'); bare integers are kept-head counts.
    """
    mlp_ratio = None if mlp is None else _parse_ratio(str(mlp), "--prune-mlp")
    if heads is None:
        return PrunePlan(mlp_keep_ratio=mlp_ratio)
    text = str(heads).strip()
    entries = split_entries(text)
    if not text or not all(entries):
        raise UserError(f"--prune-heads {text!r}: empty entry; give a ratio (0.5), counts (6,6,4) "
                        "or BLOCK=COUNT / BLOCK=[i,j] entries")
    if any("=" in e for e in entries):
        return PrunePlan(per_block=tuple(_block_entry(e, text) for e in entries), mlp_keep_ratio=mlp_ratio)
    if len(entries) == 1 and "." in entries[0]:
        return PrunePlan(keep_ratio=_parse_ratio(entries[0], "--prune-heads"), mlp_keep_ratio=mlp_ratio)
    return PrunePlan(keep_counts=tuple(_count(e, text) for e in entries), mlp_keep_ratio=mlp_ratio)


def _parse_ratio(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UserError(f"{what} {text!r} is not a number: give the fraction to keep, in (0, 1]") from None
    return _check_ratio(value, f"{what} ratio")


def _count(text: str, spec: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise UserError(f"--prune-heads {spec!r}: {text!r} is not a head count; give a ratio with a "
                        "decimal point (0.5), integer counts (6,6,4) or BLOCK=COUNT entries") from None


def _block_entry(entry: str, spec: str) -> tuple[str, HeadValue]:
    key, _, value = (part.strip() for part in entry.partition("="))
    if not key or "=" in value:
        raise UserError(f"--prune-heads {spec!r}: {entry!r} is not BLOCK=COUNT or BLOCK=[i,j,...]")
    if value.startswith("[") and value.endswith("]"):
        items = [v for v in split_entries(value[1:-1]) if v]
        return key, tuple(_count(v, spec) for v in items)
    return key, _count(value, spec)


# --- where the attentions and MLPs are ---------------------------------------------------------

@dataclass(frozen=True)
class Attention:
    """One attention of the graph: `name` is its module path, `qk` its QK^T op."""
    name: str
    block: str
    heads: int
    head_dim: int
    value_dim: int
    qk: str


@dataclass(frozen=True)
class AttentionLayout:
    """The ops head pruning changes: projections feeding Q/K/V, the ops in between, the output projection."""
    attention: Attention
    sources: tuple[str, ...]     # linears whose outputs are Q, K and V (one fused QKV, or several)
    interior: tuple[str, ...]    # ops with a head dimension: QK^T, scaling, bias, softmax, A.V, ...
    proj: str                    # the linear that reads the concatenated heads


@dataclass(frozen=True)
class HeadChoice:
    attention: Attention
    keep: int
    indices: tuple[int, ...] | None = None   # given explicitly; else chosen by importance

    @property
    def pruned(self) -> bool:
        return self.keep < self.attention.heads


@dataclass(frozen=True)
class MlpChoice:
    block: str
    fc1: str
    act: str
    fc2: str
    hidden: int
    keep: int


def attentions(graph: Graph) -> tuple[Attention, ...]:
    found = []
    for op in graph.ops:
        if op.kind is OpKind.ATTN_QK and isinstance(op.attrs, AttentionAttrs):
            found.append(Attention(name=op.name.rpartition(".")[0] or op.name, block=op.block,
                                   heads=op.attrs.heads, head_dim=op.attrs.head_dim,
                                   value_dim=op.attrs.value_dim, qk=op.name))
    return tuple(found)


def attention_layout(graph: Graph, att: Attention) -> AttentionLayout:
    """Trace the projections of `att` through the edges; UserError naming the block if not understood."""
    dag, ops, heads = graph.dag, graph.by_name, att.heads

    def refuse(why: str) -> UserError:
        return UserError(f"cannot prune heads of {att.block}: attention layout not understood ({why})")

    def head_shaped(op: Op) -> bool:
        return all(len(s) >= 3 and s[-3] == heads for s in (*op.inputs, op.output))

    if att.head_dim != att.value_dim:
        raise refuse(f"q/k width {att.head_dim} differs from v width {att.value_dim}")
    # downstream of QK^T: element-wise ops and the softmax up to the A.V GEMM
    scores, av, frontier = set(), None, list(dag.successors(att.qk))
    while frontier:
        op = ops[frontier.pop()]
        if op.kind is OpKind.ATTN_AV:
            av = op
        elif not op.on_pe_array and head_shaped(op):
            if op.name not in scores:
                scores.add(op.name)
                frontier.extend(dag.successors(op.name))
        else:
            raise refuse(f"{op.name} ({op.kind.value}) reads the attention scores")
    if av is None:
        raise refuse("no A.V product follows the softmax")
    sources, inputs = set(), set()

    def walk_up(start: str, stop: set) -> None:
        frontier = [p for p in dag.predecessors(start) if p not in stop]
        while frontier:
            op = ops[frontier.pop()]
            if op.kind is OpKind.LINEAR:
                sources.add(op.name)
            elif not op.on_pe_array and head_shaped(op):
                if op.name not in inputs:
                    inputs.add(op.name)
                    frontier.extend(p for p in dag.predecessors(op.name) if p not in stop)
            else:
                raise refuse(f"{op.name} ({op.kind.value}) feeds Q, K or V")
    walk_up(att.qk, set())
    walk_up(av.name, scores | {att.qk})
    interior = {att.qk, av.name} | scores | inputs
    width = sum(ops[s].gemm.n for s in sources)
    if width != heads * (2 * att.head_dim + att.value_dim) or any(
            ops[s].gemm.n % (heads * att.head_dim) for s in sources):
        raise refuse(f"projections {', '.join(sorted(sources))} give {width} channels for {heads} heads "
                     f"of q/k/v width {att.head_dim}")
    for name in sorted(interior - {av.name}) + sorted(sources):
        outside = set(dag.successors(name)) - interior
        if outside:
            raise refuse(f"{name} also feeds {sorted(outside)[0]}")
    after = list(dag.successors(av.name))
    proj = ops[after[0]] if len(after) == 1 else None
    if proj is None or proj.kind is not OpKind.LINEAR or list(dag.predecessors(proj.name)) != [av.name] \
            or proj.gemm.k != heads * att.value_dim:
        raise refuse(f"{av.name} is not read by exactly one output projection of "
                     f"{heads * att.value_dim} inputs")
    order = {op.name: i for i, op in enumerate(graph.ops)}
    return AttentionLayout(attention=att, sources=tuple(sorted(sources, key=order.get)),
                           interior=tuple(sorted(interior, key=order.get)), proj=proj.name)


def head_choices(graph: Graph, plan: PrunePlan) -> tuple[HeadChoice, ...]:
    """One choice per attention (in graph order); UserError for counts or names that do not fit."""
    atts = attentions(graph)
    if plan.prunes_heads and not atts:
        raise UserError(f"--prune-heads: {graph.model} has no attention to prune")
    if plan.keep_counts is not None and len(plan.keep_counts) != len(atts):
        raise UserError(f"--prune-heads gives {len(plan.keep_counts)} counts but {graph.model} has "
                        f"{len(atts)} attention blocks; give one count per block, or a ratio")
    given = dict(plan.per_block)
    known = {a.block for a in atts} | {a.name for a in atts}
    for key in given:
        if key not in known:
            blocks = [a.block for a in atts]
            listed = ", ".join(blocks[:3]) + (f", ..., {blocks[-1]}" if len(blocks) > 3 else "")
            raise UserError(f"--prune-heads: {key!r} is not an attention block of {graph.model}; "
                            f"blocks with attention: {listed}")
    choices = []
    for index, att in enumerate(atts):
        value: HeadValue = att.heads
        if plan.keep_ratio is not None:
            value = _round_half_up(plan.keep_ratio * att.heads)
        elif plan.keep_counts is not None:
            value = plan.keep_counts[index]
        elif att.name in given or att.block in given:
            value = given.get(att.name, given.get(att.block))
        indices = value if isinstance(value, tuple) else None
        keep = len(indices) if indices is not None else value
        if keep < 1:
            raise UserError(f"--prune-heads keeps no head of {att.block} ({att.heads} heads); "
                            "raise the ratio or keep at least 1")
        if keep > att.heads or (indices and max(indices) >= att.heads):
            what = f"head {max(indices)}" if indices and keep <= att.heads else f"{keep} heads"
            raise UserError(f"--prune-heads: {att.block} has {att.heads} heads (0..{att.heads - 1}); "
                            f"cannot keep {what}")
        choices.append(HeadChoice(att, keep, tuple(sorted(indices)) if indices else None))
    return tuple(choices)


def most_important(importance, keep: int) -> tuple[int, ...]:
    """The indices of the `keep` largest scores (ties: the lower index first), in ascending order."""
    order = sorted(range(len(importance)), key=lambda h: (-float(importance[h]), h))
    return tuple(sorted(order[:keep]))


def mlp_choices(graph: Graph, plan: PrunePlan) -> tuple[MlpChoice, ...]:
    """One linear -> activation -> linear chain per block with attention; UserError if not found."""
    if plan.mlp_keep_ratio is None:
        return ()
    blocks = list(dict.fromkeys(a.block for a in attentions(graph)))
    if not blocks:
        raise UserError(f"--prune-mlp: {graph.model} has no transformer block (no attention)")
    dag, ops, choices = graph.dag, graph.by_name, []
    for block in blocks:
        chains = []
        for fc1 in (op for op in graph.ops if op.block == block and op.kind is OpKind.LINEAR):
            after = list(dag.successors(fc1.name))
            if len(after) != 1 or ops[after[0]].vector_family not in _ACTIVATION_FAMILIES:
                continue
            act = ops[after[0]]
            nxt = list(dag.successors(act.name))
            if (len(nxt) == 1 and ops[nxt[0]].kind is OpKind.LINEAR and ops[nxt[0]].gemm.k == fc1.gemm.n
                    and list(dag.predecessors(nxt[0])) == [act.name] and act.output[-1] == fc1.gemm.n):
                chains.append((fc1, act, ops[nxt[0]]))
        if len(chains) != 1:
            raise UserError(f"cannot prune the MLP of {block}: expected one linear -> activation -> "
                            f"linear chain, found {len(chains)}")
        fc1, act, fc2 = chains[0]
        keep = _round_half_up(plan.mlp_keep_ratio * fc1.gemm.n)
        if keep < 1:
            raise UserError(f"--prune-mlp {plan.mlp_keep_ratio:g} keeps no hidden unit of {block}")
        choices.append(MlpChoice(block, fc1.name, act.name, fc2.name, fc1.gemm.n, keep))
    return tuple(choices)


# --- rewriting the ops -------------------------------------------------------------------------

def _resize_linear(op: Op, n: int | None = None, k: int | None = None) -> Op:
    """`op` with n output and/or k input features; weights shrink, the bias follows n."""
    g = op.gemm
    n, k = n or g.n, k or g.k
    bias = max(0, op.params - op.weight_elems)
    params = n * k + bias * n // g.n if op.params else 0
    inputs = ((*op.inputs[0][:-1], k), *op.inputs[1:])
    return op.replace(gemm=Gemm(m=g.m, n=n, k=k, batch=g.batch), inputs=inputs,
                      output=(*op.output[:-1], n), weight_elems=n * k, params=params)


def _with_heads(op: Op, heads: int, keep: int) -> Op:
    """`op` of the attention interior with `keep` heads instead of `heads` (the dim at -3)."""
    def shape(s):
        return (*s[:-3], keep, *s[-2:])
    changes = {"inputs": tuple(shape(s) for s in op.inputs), "output": shape(op.output)}
    if op.gemm is not None:
        g = op.gemm
        changes["gemm"] = Gemm(m=g.m, n=g.n, k=g.k, batch=g.batch // heads * keep)
        changes["weight_elems"] = op.weight_elems // heads * keep
    if isinstance(op.attrs, AttentionAttrs):
        changes["attrs"] = dataclasses.replace(op.attrs, heads=keep)
    return op.replace(**changes)


def apply_pruning(graph: Graph, plan: PrunePlan) -> Graph:
    """A Graph without the plan's pruned heads and MLP units: smaller GEMMs, fewer softmax rows and params.

    Parameters of vector ops inside an attention (e.g. Swin's per-head relative-position table)
    are counted unchanged: whether they are per head cannot be told from the graph.
    """
    new = dict(graph.by_name)
    for choice in head_choices(graph, plan):
        if not choice.pruned:
            continue
        layout, heads, keep = attention_layout(graph, choice.attention), choice.attention.heads, choice.keep
        for name in layout.interior:
            new[name] = _with_heads(new[name], heads, keep)
        for name in layout.sources:
            new[name] = _resize_linear(new[name], n=new[name].gemm.n // heads * keep)
        new[layout.proj] = _resize_linear(new[layout.proj], k=keep * choice.attention.value_dim)
    for mlp in mlp_choices(graph, plan):
        new[mlp.fc1] = _resize_linear(new[mlp.fc1], n=mlp.keep)
        act = new[mlp.act]
        new[mlp.act] = act.replace(inputs=tuple((*s[:-1], mlp.keep) for s in act.inputs),
                                   output=(*act.output[:-1], mlp.keep))
        new[mlp.fc2] = _resize_linear(new[mlp.fc2], k=mlp.keep)
    removed = sum(op.params - new[op.name].params for op in graph.ops)
    return dataclasses.replace(graph, ops=tuple(new[op.name] for op in graph.ops),
                               param_count=graph.param_count - removed)
