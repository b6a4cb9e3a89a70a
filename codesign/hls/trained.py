"""Trained weights for the emitted network: the torch fake-quantised model's weights and calibrated
ranges turned into the HLS's integers (codes, requantisation multiplier and shift), and its logits."""
# Every tensor between layers is a signed code times a scale. The vector-unit kernels fix some
# scales (hls_templates/lib/cs_vector_unit.h): softmax reads Q(b, act_frac) and writes Q1.(b-1),
# GELU and the table activations read and write Q(b, act_frac); ReLU, pooling and add keep their
# input's scale. The rest are free: a GEMM's output scale is its requantisation, a LayerNorm's is
# folded into gamma and beta. A free scale is the range torch calibrated for that tensor (the
# widest of the quantisers that read it: a Linear/Conv2d input, Q, K or V, a LayerNorm output),
# clip / (2^(b-1) - 1) on the signed codes the kernels use; a tensor torch leaves in float (the
# residual stream, the logits) gets a range chosen the same way on the calibration split.
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from codesign.errors import UserError
from codesign.hls.descriptors import LayerTable
from codesign.hls.golden import LN_GAMMA_BITS, LN_GAMMA_FRAC, LN_Z_FRAC, MULT_BITS
from codesign.hls.layout import QKV_SLOT
from codesign.hls.support import LUT_FAMILIES
from codesign.hls.types import act_frac_bits
from codesign.ir import ConvAttrs, Graph, OpKind

DEFAULT_IMAGES = 8          # test images the testbench runs when none are asked for: a handful, seconds of csim
INPUT = "<input>"           # the model input's tensor
LOGIT_RANGES = "max"        # the logits' range is their observed max: argmax must not see saturated ties


@dataclass
class Trained:
    """The integer data of the trained network and what torch makes of the same images."""
    params: dict            # op name -> role (b, bias, mult, shift; a LayerNorm's b = gamma, bias = beta) -> codes
    tokens: dict            # op name -> codes of the learned tokens written in front of its output
    inputs: np.ndarray      # (images, C, H, W) codes of the model input
    labels: list | None     # the images' labels (None: no labelled data)
    indices: list | None    # the images' indices in the test split
    torch_logits: np.ndarray    # (images, classes): the torch fake-quantised model
    logit_scale: float      # the real value of one code of the emitted logits
    scales: dict            # tensor -> scale of one code (a list per channel for a split qkv output)
    source: dict            # weights, data set, range method

    @property
    def torch_top1(self) -> list[int]:
        return [int(i) for i in self.torch_logits.argmax(axis=1)]


class _Scales:
    """Union-find over tensors whose codes must share one scale, with forced scales and candidates."""

    def __init__(self):
        self.parent: dict = {}
        self.forced: dict = {}
        self.quants: dict = {}
        self.bits: dict = {}
        self.split: set = set()         # ops whose output is read as q, k and v (a scale per slot)

    def find(self, node):
        self.parent.setdefault(node, node)
        while self.parent[node] != node:
            self.parent[node] = self.parent[self.parent[node]]
            node = self.parent[node]
        return node

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra
            self.forced.setdefault(ra, set()).update(self.forced.pop(rb, set()))
            self.quants.setdefault(ra, []).extend(self.quants.pop(rb, []))

    def force(self, node, scale: float, why: str) -> None:
        self.forced.setdefault(self.find(node), set()).add((scale, why))

    def candidate(self, node, quant) -> None:
        if quant is not None:
            self.quants.setdefault(self.find(node), []).append(quant)

    def groups(self) -> dict:
        out: dict = {}
        for node in list(self.parent):
            out.setdefault(self.find(node), []).append(node)
        return out


def _levels(bits: int) -> int:
    return (1 << (bits - 1)) - 1


def _fixed(bits: int) -> float:
    return 2.0 ** -act_frac_bits(bits)


def _clip(quant) -> float:
    return max(abs(quant.low), abs(quant.high), 1e-12)


def _node(src, seen, consumer, index: int):
    """The tensor input `index` of `consumer` reads: the model input, a producer's output, or one of
    q, k and v of a fused qkv output (each with its own scale, as torch quantises them)."""
    if src is None:
        return INPUT
    if seen is not None and seen.kind == "head_split":
        return (src, QKV_SLOT[(consumer.kind, index)])
    return src


def _constraints(table: LayerTable, sites: dict, scales: _Scales) -> None:
    for e in table.entries:
        op, family, bits = e.op, e.family, e.prec.a_bits
        ins = [_node(src, seen, op, i) for i, (src, seen) in enumerate(e.links)]
        scales.split.update(node[0] for node in ins if isinstance(node, tuple))
        out = op.name
        scales.find(out)
        scales.bits[out] = e.regions["o"].bits
        for node in ins:
            scales.bits.setdefault(node, bits)
        if family == "gemm":
            if op.kind in (OpKind.LINEAR, OpKind.CONV2D):
                scales.candidate(ins[0], sites.get(("input", op.name)))
            attention = op.name.rpartition(".")[0]
            if op.kind == OpKind.ATTN_QK:
                scales.candidate(ins[0], sites.get(("q", attention)))
                scales.candidate(ins[1], sites.get(("k", attention)))
            if op.kind == OpKind.ATTN_AV:
                scales.candidate(ins[1], sites.get(("v", attention)))
        elif family == "layer_norm":
            scales.candidate(out, sites.get(("output", op.name)))
        elif family == "softmax":
            scales.force(ins[0], _fixed(bits), f"{op.name} reads Q{bits}.{act_frac_bits(bits)}")
            scales.force(out, 2.0 ** -(bits - 1), f"{op.name} writes Q1.{bits - 1}")
        elif family == "gelu" or family in LUT_FAMILIES:
            scales.union(out, ins[0])
            scales.force(out, _fixed(bits), f"{op.name} ({family}) reads and writes Q{bits}.{act_frac_bits(bits)}")
        elif family in ("relu", "pool", "add"):
            for node in ins:
                scales.union(out, node)
        elif family == "mul":
            big = 0 if math.prod(op.inputs[0]) >= math.prod(op.inputs[1]) else 1
            scales.union(out, ins[big])
            scales.force(ins[1 - big], _fixed(bits), f"{op.name} (mul) reads its gate as Q{bits}.{act_frac_bits(bits)}")


def _leaf(modules, name: str):
    module = modules.get(name)
    return module if module is not None and not any(True for _ in module.children()) else None


def _observe(compressed, table: LayerTable, scales: _Scales, pending: dict, folded_into: dict, ranges: str) -> dict:
    """Ranges of the groups no quantiser and no kernel fixes: the group's tensors observed on the
    calibration images in the fake-quantised model (module outputs, and the inputs of modules reading them)."""
    import torch

    from codesign.fidelity.quantizers import ActQuant
    from codesign.fidelity.train import EVAL_BATCH

    modules = dict(compressed.model.named_modules())
    last = table.entries[-1].op.name
    quants, handles = {}, []
    try:
        for root, nodes in pending.items():
            quant = ActQuant(scales.bits[root], LOGIT_RANGES if last in nodes else ranges)
            quants[root] = quant
            points = 0
            for node in nodes:
                if not isinstance(node, str) or node == INPUT:
                    continue
                module = _leaf(modules, folded_into.get(node, node))
                if module is not None:
                    handles.append(module.register_forward_hook(lambda _m, _a, y, q=quant: q.observe(y.detach())))
                    points += 1
            for e in table.entries:
                for i, (src, seen) in enumerate(e.links):
                    if scales.find(_node(src, seen, e.op, i)) == root and _leaf(modules, e.op.name) is not None:
                        handles.append(_leaf(modules, e.op.name).register_forward_pre_hook(
                            lambda _m, args, q=quant: q.observe(args[0].detach())))
                        points += 1
            if not points:
                raise UserError(f"cannot emit trained weights: no torch module shows the values of "
                                f"{', '.join(str(n) for n in nodes[:3])} to calibrate their range")
        images = compressed.split.calibration.images if compressed.split is not None else compressed.data
        with torch.no_grad():
            for batch in images.split(EVAL_BATCH):
                compressed.model(batch)
    finally:
        for handle in handles:
            handle.remove()
    for quant in quants.values():
        quant.freeze()
    return quants


def _resolve(compressed, table: LayerTable, folded_into: dict, ranges: str) -> dict:
    """node -> the scale of one code."""
    scales = _Scales()
    _constraints(table, compressed.compressor.sites, scales)
    groups = scales.groups()
    pending, value = {}, {}
    for root, nodes in groups.items():
        if set(nodes) <= scales.split and not scales.quants.get(root) and not scales.forced.get(root):
            continue                          # read only as q, k and v: the slots' scales (below)
        bits = {scales.bits[n] for n in nodes}
        if len(bits) != 1:
            raise UserError(f"cannot emit trained weights: {', '.join(str(n) for n in nodes[:3])} must share a "
                            f"scale but have different widths {sorted(bits)}; use one precision for them")
        scales.bits[root] = bits.pop()
        forced = {s for s, _ in scales.forced.get(root, ())}
        if len(forced) > 1:
            raise UserError("cannot emit trained weights: one tensor would need two scales ("
                            + "; ".join(why for _, why in sorted(scales.forced[root])) + ")")
        if forced:
            value[root] = forced.pop()
        elif scales.quants.get(root):
            value[root] = max(_clip(q) for q in scales.quants[root]) / _levels(scales.bits[root])
        else:
            pending[root] = nodes
    for root, quant in _observe(compressed, table, scales, pending, folded_into, ranges).items():
        value[root] = _clip(quant) / _levels(scales.bits[root])
    out = {node: value[scales.find(node)] for node in scales.parent if scales.find(node) in value}
    by_name = {e.op.name: e.op for e in table.entries}
    for name in scales.split:                 # qkv.reshape(B, N, 3, H, D): channel c is slot c // (H D)
        n = by_name[name].output[-1]
        out[name] = np.repeat([out[(name, slot)] for slot in range(3)], n // 3)
    return out


def _requant(m: np.ndarray, accum_bits: int, name: str) -> tuple[np.ndarray, int]:
    """Multipliers (MULT_BITS unsigned) and one shift with mult / 2^shift ~ m, the largest m exact to MULT_BITS."""
    top = float(np.max(m))
    if top > (1 << MULT_BITS) - 1:
        raise UserError(f"cannot emit trained weights: {name!r} needs a requantisation gain of {top:.3g}, more "
                        f"than a {MULT_BITS}-bit multiplier holds")
    # the shift's bound is the seeded data's (tbdata.requant_params): products stay within accum + 16 bits
    shift = int(np.clip(math.floor(math.log2(((1 << MULT_BITS) - 1) / max(top, 1e-30))), 0, accum_bits + 16))
    return np.clip(np.rint(m * 2.0 ** shift), 0, (1 << MULT_BITS) - 1).astype(np.int64), shift


def _kept(compressed, graph: Graph, plan) -> dict:
    """op -> (kept weight rows, kept weight columns) where pruning removed heads or MLP units: torch
    masks them (codesign.fidelity), the IR and the emitted design drop them; None keeps all."""
    from codesign.transforms import attention_layout, attentions, mlp_choices

    out = {}
    by_name = {a.name: a for a in attentions(graph)}
    for name, kept in compressed.kept_heads.items():
        att = by_name[name]
        layout = attention_layout(graph, att)
        if len(layout.sources) != 1 or att.value_dim != att.head_dim:
            raise UserError(f"cannot emit trained weights for the pruned heads of {name!r}: only a fused qkv "
                            f"projection with equal query and value widths")
        heads, dim = att.heads, att.head_dim                  # qkv rows: slot, head, channel
        out[layout.sources[0]] = ([slot * heads * dim + h * dim + d for slot in range(3) for h in sorted(kept)
                                   for d in range(dim)], None)
        out[layout.proj] = (None, [h * dim + d for h in sorted(kept) for d in range(dim)])
    for choice in mlp_choices(graph, plan) if plan is not None else ():
        units = compressed.masks[choice.fc2].nonzero().flatten().tolist()
        out[choice.fc1], out[choice.fc2] = (units, None), (None, units)
    return out


def _gemm_params(e, modules, folded_into: dict, scale: dict, accum_bits: int, kept: dict) -> dict:
    import torch

    from codesign.fidelity.quantizers import weight_codes

    op, v = e.op, e.values
    ins = [_node(src, seen, op, i) for i, (src, seen) in enumerate(e.links)]
    s_a = scale[ins[0]]
    limit = (1 << (accum_bits - 2)) - 1
    if op.b_is_activation:
        gain = s_a * scale[ins[1]] / scale[op.name]
        if op.kind == OpKind.ATTN_QK:          # torch scales the scores by head_dim^-0.5 (the module's `scale`)
            attention = modules[op.name.rpartition(".")[0]]
            gain *= float(getattr(attention, "scale", op.inputs[0][-1] ** -0.5))
        mult, shift = _requant(np.array([gain]), accum_bits, op.name)
        return {"bias": np.zeros(1, dtype=np.int64), "mult": mult, "shift": np.array([shift])}
    module = modules.get(op.name)
    weight = getattr(module, "weight", None)
    batch, n, k = v["batch"], v["n"], v["k"]
    rows, cols = kept.get(op.name, (None, None))
    if not isinstance(weight, torch.Tensor):
        raise UserError(f"cannot emit trained weights: {op.name!r} is not a module with weights")
    codes, s_w = weight_codes(weight.detach(), op.w_bits)   # the whole weight's grid, as torch quantises it
    codes, s_w = codes.double().numpy(), s_w.double().numpy()
    bias = module.bias.detach().double().numpy() if getattr(module, "bias", None) is not None else \
        np.zeros(weight.shape[0])
    if rows is not None:
        codes, s_w, bias = codes[rows], s_w[rows], bias[rows]
    if cols is not None:
        codes = codes[:, cols]
    if codes.size != batch * n * k:
        raise UserError(f"cannot emit trained weights: {op.name!r} has {codes.size} weights, the IR expects "
                        f"{batch * n * k}")
    if isinstance(op.attrs, ConvAttrs):          # (cout, cin/g, kh, kw) -> [group][n][(ky, kx, ci)]
        codes = codes.transpose(0, 2, 3, 1)
    codes = codes.reshape(batch, n, k)
    cout = batch * n
    gain_bn, shift_bn = np.ones(cout), bias
    bn = modules.get(folded_into[op.name]) if op.name in folded_into else None
    if bn is not None:                           # eval BatchNorm: g (conv + bias - mean) / sqrt(var + eps) + beta
        g = bn.weight.detach().double().numpy() / np.sqrt(bn.running_var.detach().double().numpy() + bn.eps)
        gain_bn, shift_bn = g, g * (bias - bn.running_mean.detach().double().numpy()) + bn.bias.detach().double().numpy()
    sign = np.where(gain_bn < 0, -1.0, 1.0)      # the multiplier is unsigned: a negative gain flips the weights
    codes = codes * sign.reshape(batch, n, 1)
    eff = np.maximum(s_a * s_w * np.abs(gain_bn), 1e-30)
    s_o = np.broadcast_to(np.asarray(scale[op.name], dtype=np.float64), (cout,))
    mult, shift = _requant(eff / s_o, accum_bits, op.name)
    return {"b": np.rint(codes).astype(np.int64), "bias": np.clip(np.rint(shift_bn / eff), -limit, limit).astype(np.int64),
            "mult": mult, "shift": np.array([shift])}


def _layernorm_params(e, modules, scale: dict) -> dict:
    op, bits = e.op, e.prec.a_bits
    module = modules.get(op.name)
    width = op.output[-1]
    gamma = module.weight.detach().double().numpy() if getattr(module, "weight", None) is not None else np.ones(width)
    beta = module.bias.detach().double().numpy() if getattr(module, "bias", None) is not None else np.zeros(width)
    to_code = 2.0 ** -act_frac_bits(bits) / scale[op.name]       # the kernel writes Q(b, act_frac); this scale instead
    g = np.rint(gamma * to_code * (1 << LN_GAMMA_FRAC)).astype(np.int64)
    top = (1 << (LN_GAMMA_BITS - 1)) - 1
    if np.abs(g).max() > top:
        raise UserError(f"cannot emit trained weights: {op.name!r} gamma {np.abs(gamma).max():.3g} at output scale "
                        f"{scale[op.name]:.3g} exceeds the kernel's Q4.{LN_GAMMA_FRAC} gamma")
    b = np.rint(beta * to_code * (1 << (LN_Z_FRAC + LN_GAMMA_FRAC))).astype(np.int64)
    return {"b": g, "bias": b}


def _codes(values, s: float, bits: int) -> np.ndarray:
    """Symmetric codes of real values, as torch's quantisers round and clip them."""
    return np.clip(np.rint(np.asarray(values, dtype=np.float64) / s), -_levels(bits), _levels(bits)).astype(np.int64)


def _free_parameter(model, graph: Graph, numel: int, what: str):
    """The model parameter no op's module owns (class token, position embedding) of `numel` elements."""
    owners = {op.name for op in graph.ops}
    found = [(name, p) for name, p in model.named_parameters()
             if name.rpartition(".")[0] not in owners and p.numel() == numel]
    if len(found) != 1:
        raise UserError(f"cannot emit trained weights: {len(found)} parameters of {numel} elements could be the "
                        f"{what} ({', '.join(n for n, _ in found) or 'none'})")
    return found[0][1].detach().double().numpy().reshape(-1)


def prepare(model: str, graph: Graph, table: LayerTable, folded: dict, precision, pruning, *, images: int,
            seed: int, checkpoint: str | None = None, dataset: str | None = None, ranges: str = "mse") -> Trained:
    """The trained network of `table` (emitted from `graph`, the uncompressed IR, under `precision`
    and `pruning`)."""
    import torch

    from codesign.fidelity import compressed_model

    for e in table.entries:
        if e.prec.w_bits == 1 or e.prec.a_bits == 1 or e.prec.o_bits == 1:
            raise UserError(f"cannot emit trained weights for binary layers ({e.op.name!r}); the seeded testbench "
                            f"runs them (a model without weights, or --layers)")
    compressed = compressed_model(model, precision, pruning, checkpoint=checkpoint, dataset=dataset, seed=seed,
                                  ranges=ranges, graph=graph)
    kept = _kept(compressed, graph, pruning)
    folded_into = {conv: bn for bn, conv in folded.items()}
    scale = _resolve(compressed, table, folded_into, ranges)
    modules = dict(compressed.float_model.named_modules())
    accum = table.hw.accum_bits
    params, tokens = {}, {}
    for e in table.entries:
        op = e.op
        if e.family == "gemm":
            params[op.name] = _gemm_params(e, modules, folded_into, scale, accum, kept)
        elif e.family == "layer_norm":
            params[op.name] = _layernorm_params(e, modules, scale)
        elif e.family == "add" and len(op.inputs) == 1:          # + a parameter tensor (position embedding)
            params[op.name] = {"b": _codes(_free_parameter(compressed.float_model, graph, op.params, "position "
                                                           "embedding"), scale[op.name], e.prec.a_bits)}
        where = e.stored
        if where is not None and where.tokens:
            tokens[op.name] = _codes(_free_parameter(compressed.float_model, graph, where.tokens * where.width,
                                                     "learned tokens"), scale[op.name], e.regions["o"].bits)
    rng = np.random.default_rng(seed)
    if compressed.split is not None:
        test = compressed.split.test
        if images > len(test):
            raise UserError(f"--images {images}: the test split of {compressed.split.name} has {len(test)} images")
        indices = sorted(rng.choice(len(test), size=images, replace=False).tolist())
        x, labels = test.images[indices], [int(test.labels[i]) for i in indices]
    else:
        generator = torch.Generator().manual_seed(seed)
        x, labels, indices = torch.randn((images, *graph.input_shape[1:]), generator=generator), None, None
    with torch.no_grad():
        logits = compressed.model(x).double().numpy()
    first = table.entries[0]
    inputs = _codes(x.double().numpy(), scale[INPUT], first.regions["a"].bits)
    shown = {str(node): (np.asarray(s).tolist() if np.ndim(s) else float(s)) for node, s in scale.items()}
    data = "none: seeded N(0, 1) images" if compressed.split is None else dataset or "bundled with the reference model"
    source = {"weights": compressed_source(model, checkpoint), "dataset": data, "ranges": ranges}
    return Trained(params, tokens, inputs, labels, indices, logits, float(scale[table.entries[-1].op.name]),
                   shown, source)


def compressed_source(model: str, checkpoint: str | None) -> str:
    from codesign.frontend.reference import reference_model

    ref = reference_model(model)
    return checkpoint or (ref.weights_path if ref is not None else "none")


def agreement(trained: Trained, logits) -> dict:
    """The emitted network's top-1 on the images (`logits`: its integer logits, the C++ testbench's or
    the integer reference's) next to the torch fake-quantised model's and the labels, and how far
    the logits (codes x scale) are from torch's."""
    torch_logits = trained.torch_logits
    codes = np.asarray(logits, dtype=np.int64).reshape(torch_logits.shape)
    hls = codes.argmax(axis=1)                    # the first of equal codes, as the testbench picks
    torch_top = np.asarray(trained.torch_top1)
    error = np.abs(codes * trained.logit_scale - torch_logits)
    spread = np.maximum(np.ptp(torch_logits, axis=1), 1e-12)
    out = {"images": int(codes.shape[0]), "test_indices": trained.indices, "labels": trained.labels,
           "hls_top1": hls.tolist(), "torch_top1": torch_top.tolist(),
           "top1_agree": int(np.sum(hls == torch_top)),
           "tied_top_codes": int(np.sum((codes == codes.max(axis=1, keepdims=True)).sum(axis=1) > 1)),
           "logit_scale": trained.logit_scale, "logit_max_abs_error": float(error.max()),
           "logit_mean_abs_error": float(error.mean()),
           "logit_max_error_over_range": float((error.max(axis=1) / spread).max())}
    if trained.labels is not None:
        labels = np.asarray(trained.labels)
        out.update(hls_correct=int(np.sum(hls == labels)), torch_correct=int(np.sum(torch_top == labels)))
    return out
