"""The IR's compression choices applied to a real torch model: fake quantisation and pruning masks.

Quantised as the accelerator runs them: PE-array layers, attention GEMMs, softmax, LayerNorm and GELU.
"""
from __future__ import annotations

import torch
from torch.nn.utils import parametrize
from torch.overrides import TorchFunctionMode

from codesign.errors import UserError
from codesign.fidelity.quantizers import ActQuant, WeightQuant, quantize_weight
from codesign.ir import OpKind
from codesign.transforms import AttentionLayout, HeadChoice, MlpChoice, most_important

__all__ = ["Compressor", "quantize_weight", "quantizable_layers", "vector_sites", "attention_sites",
           "head_importance", "head_mask", "mlp_importance", "mlp_mask"]

_VECTOR_KINDS = (OpKind.LAYERNORM, OpKind.GELU)


class _InputHook:
    """What happens to one layer's input: a channel mask (pruning), then the activation quantiser."""

    def __init__(self, mask: torch.Tensor | None, quant: ActQuant | None):
        self.mask, self.quant = mask, quant

    def __call__(self, module, args):
        x = args[0]
        if self.mask is not None:
            x = x * self.mask
        if self.quant is not None:
            x = self.quant(x)
        return (x, *args[1:])


class _AttentionSites:
    """The operands of one attention's QK^T and A.V and its softmax output, each an ActQuant.

    Entered as a torch function mode while the attention module runs: its fused
    scaled_dot_product_attention is computed as QK^T -> softmax -> A.V with every operand quantised.
    """

    def __init__(self, q: ActQuant, k: ActQuant, p: ActQuant, p_av: ActQuant, v: ActQuant):
        self.sites = (q, k, p, p_av, v)

    def attention(self, query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                  enable_gqa=False):
        if is_causal or enable_gqa or dropout_p:
            raise UserError("fidelity: quantised attention supports no causal mask, GQA or attention dropout")
        q, k, p, p_av, v = self.sites
        scores = q(query) @ k(key).transpose(-2, -1) * (scale if scale is not None else query.shape[-1] ** -0.5)
        if attn_mask is not None:
            scores = scores.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool \
                else scores + attn_mask
        return p_av(p(scores.softmax(dim=-1))) @ v(value)


class _AttentionMode(TorchFunctionMode):
    def __init__(self, sites: _AttentionSites):
        super().__init__()
        self.sites = sites

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is torch.nn.functional.scaled_dot_product_attention:
            return self.sites.attention(*args, **(kwargs or {}))
        return func(*args, **(kwargs or {}))


def _enter_mode(sites: _AttentionSites):
    def pre(module, args):
        module._codesign_mode = _AttentionMode(sites)
        module._codesign_mode.__enter__()
    return pre


def _exit_mode(module, args, output):
    module._codesign_mode.__exit__(None, None, None)
    del module._codesign_mode


class Compressor:
    """Installs the quantisers and masks on a model; `calibrate` observes ranges, `freeze` quantises.

    bits: layer -> (w_bits, a_bits) of its Linear/Conv2d (see `quantizable_layers`); masks: layer ->
    mask on its input channels; vector: module -> a_bits of its output (LayerNorm, GELU); attention:
    attention module -> (qk, softmax, av) a_bits. Weights are parametrised (straight-through), so
    the model can be fine-tuned; `bake` writes the quantised weights in for plain inference.
    """

    def __init__(self, model, bits: dict[str, tuple[int, int]], masks: dict[str, torch.Tensor],
                 vector: dict[str, int] | None = None, attention: dict[str, tuple[int, int, int]] | None = None,
                 method: str = "mse"):
        self.model, self.bits = model, bits
        modules = dict(model.named_modules())
        self.quants: list[ActQuant] = []
        # where each quantiser sits: ("input", layer), ("output", module), or ("q" | "k" | "p" | "p_av" | "v",
        # attention module); the emitted HLS takes its activation ranges from here (codesign/hls/trained.py)
        self.sites: dict[tuple[str, str], ActQuant] = {}

        def quant(bits_: int, site: tuple[str, str]) -> ActQuant:
            self.quants.append(ActQuant(bits_, method, seed=len(self.quants)))
            self.sites[site] = self.quants[-1]
            return self.quants[-1]

        for name in sorted(set(bits) | set(masks)):
            modules[name].register_forward_pre_hook(
                _InputHook(masks.get(name), quant(bits[name][1], ("input", name)) if name in bits else None))
        for name, a_bits in (vector or {}).items():
            out = quant(a_bits, ("output", name))
            modules[name].register_forward_hook(lambda _m, _a, y, out=out: out(y))
        for name, (qk_bits, sm_bits, av_bits) in (attention or {}).items():
            sites = _AttentionSites(*(quant(b, (role, name)) for b, role in (
                (qk_bits, "q"), (qk_bits, "k"), (sm_bits, "p"), (av_bits, "p_av"), (av_bits, "v"))))
            modules[name].register_forward_pre_hook(_enter_mode(sites))
            modules[name].register_forward_hook(_exit_mode)
        for name, (w_bits, _) in bits.items():
            if w_bits < 16:
                parametrize.register_parametrization(modules[name], "weight", WeightQuant(w_bits))
        self._modules = modules

    @property
    def compresses(self) -> bool:
        """Whether any weight or activation is quantised (below 16 bits)."""
        return any(q.active for q in self.quants) or any(w < 16 for w, _ in self.bits.values())

    def calibrate(self, batches) -> None:
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            for batch in batches:
                self.model(batch)
        self.model.train(was_training)

    def freeze(self) -> None:
        """Choose every activation range from the calibration and switch to quantising."""
        for q in self.quants:
            q.freeze()

    def bake(self) -> None:
        """Replace the weight parametrisations by the quantised weights (faster inference, no training)."""
        for name, (w_bits, _) in self.bits.items():
            if w_bits < 16:
                parametrize.remove_parametrizations(self._modules[name], "weight", leave_parametrized=True)


def quantizable_layers(model, graph_ops) -> dict[str, tuple[int, int]]:
    """(w_bits, a_bits) of every Linear/Conv2d whose module path is an IR linear or conv2d op.

    Layers called through F.linear inside another module's forward (no module of their own) stay in float.
    """
    kinds = {OpKind.LINEAR: torch.nn.Linear, OpKind.CONV2D: torch.nn.Conv2d}
    modules = dict(model.named_modules())
    return {op.name: (op.w_bits, op.a_bits) for op in graph_ops
            if op.kind in kinds and isinstance(modules.get(op.name), kinds[op.kind])}


def vector_sites(model, graph_ops) -> dict[str, int]:
    """a_bits of every LayerNorm / GELU op that is a module of its own (its output is quantised)."""
    modules = dict(model.named_modules())
    return {op.name: op.a_bits for op in graph_ops if op.kind in _VECTOR_KINDS and op.name in modules}


def attention_sites(model, graph_ops, attentions) -> dict[str, tuple[int, int, int]]:
    """(qk, softmax, av) a_bits of every attention module of the IR (see `_AttentionSites`).

    Only attentions that compute through scaled_dot_product_attention are quantised this way; one
    written out with matmuls in its forward keeps its attention GEMMs in float.
    """
    modules, ops = dict(model.named_modules()), {op.name: op for op in graph_ops}
    out = {}
    for att in attentions:
        prefix = att.qk.rpartition(".")[0]
        names = (att.qk, f"{prefix}.softmax", f"{prefix}.av")
        if att.name in modules and all(n in ops for n in names):
            out[att.name] = tuple(ops[n].a_bits for n in names)
    return out


def _weight(modules, name: str, block: str, rows: int | None = None, cols: int | None = None):
    module = modules.get(name)
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.dim() != 2 or \
            (rows is not None and weight.shape[0] != rows) or (cols is not None and weight.shape[1] != cols):
        raise UserError(f"cannot prune {block} on the real model: {name!r} is not a linear layer "
                        "with the weight shape the IR expects")
    return weight.detach()


def head_importance(modules, layout: AttentionLayout, source_widths: dict[str, int]) -> list[float]:
    """Per head: L1 norm of its rows of the Q/K/V projections plus its columns of the output projection."""
    att = layout.attention
    heads, dim = att.heads, att.head_dim
    score = torch.zeros(heads, dtype=torch.float64)
    for name in layout.sources:
        w = _weight(modules, name, att.block, rows=source_widths[name]).abs().double()
        score += w.reshape(-1, heads, dim, w.shape[1]).sum(dim=(0, 2, 3))
    w = _weight(modules, layout.proj, att.block, cols=heads * att.value_dim).abs().double()
    score += w.reshape(w.shape[0], heads, att.value_dim).sum(dim=(0, 2))
    return score.tolist()


def head_mask(modules, choice: HeadChoice, layout: AttentionLayout, source_widths: dict[str, int],
              importance: list[float] | None = None) -> tuple[tuple[int, ...], torch.Tensor]:
    """The kept heads (given, else the most important: `importance`, else L1) and the mask on the
    output projection's input (head h owns channels h*d..h*d+d-1)."""
    att = choice.attention
    scores = importance if importance is not None else head_importance(modules, layout, source_widths)
    kept = choice.indices or most_important(scores, choice.keep)
    mask = torch.zeros(att.heads, att.value_dim)
    mask[list(kept)] = 1.0
    return kept, mask.reshape(-1)


def mlp_importance(modules, choice: MlpChoice) -> list[float]:
    """Per hidden unit: L1 norm of its fc1 row plus its fc2 column."""
    fc1 = _weight(modules, choice.fc1, choice.block, rows=choice.hidden).abs().double()
    fc2 = _weight(modules, choice.fc2, choice.block, cols=choice.hidden).abs().double()
    return (fc1.sum(dim=1) + fc2.sum(dim=0)).tolist()


def mlp_mask(modules, choice: MlpChoice,
             importance: list[float] | None = None) -> tuple[tuple[int, ...], torch.Tensor]:
    """The kept hidden units (most important: `importance`, else L1) and the mask on fc2's input."""
    kept = most_important(importance if importance is not None else mlp_importance(modules, choice), choice.keep)
    mask = torch.zeros(choice.hidden)
    mask[list(kept)] = 1.0
    return kept, mask
