"""The IR's compression choices applied to a real torch model: fake quantisation and pruning masks.

Weights: per-output-channel symmetric (1 bit: sign x mean|w|); inputs: per-tensor, calibrated scale.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from codesign.errors import UserError
from codesign.ir import OpKind
from codesign.transforms import AttentionLayout, HeadChoice, MlpChoice, most_important


CLIP_RATIOS = tuple(i / 20 for i in range(4, 21))   # weight range candidates, fractions of max|w|


def quantize_weight(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """Symmetric per-output-channel (dim 0) quantisation; 1 bit is sign(w) x mean|w| per channel.

    Each channel's range is the fraction of its max|w| (from CLIP_RATIOS) with the least squared
    error: at 2 bits plain max scaling would round most weights to zero.
    """
    flat = weight.reshape(weight.shape[0], -1)
    if bits == 1:
        scale = flat.abs().mean(dim=1, keepdim=True)
        return (torch.where(flat >= 0, 1.0, -1.0) * scale).reshape(weight.shape)
    qmax = 2 ** (bits - 1) - 1
    absmax = flat.abs().amax(dim=1, keepdim=True).clamp_min(1e-12)
    best, best_err = flat, None
    for ratio in CLIP_RATIOS:
        scale = absmax * ratio / qmax
        q = (flat / scale).round().clamp(-qmax, qmax) * scale
        err = ((q - flat) ** 2).sum(dim=1, keepdim=True)
        if best_err is None:
            best, best_err = q, err
        else:
            better = err < best_err
            best, best_err = torch.where(better, q, best), torch.where(better, err, best_err)
    return best.reshape(weight.shape)


def quantize_activation(x: torch.Tensor, bits: int, absmax: float, absmean: float) -> torch.Tensor:
    """Symmetric per-tensor quantisation with a calibrated range; 1 bit is sign(x) x mean|x|."""
    if bits == 1:
        return torch.where(x >= 0, 1.0, -1.0) * absmean
    qmax = 2 ** (bits - 1) - 1
    scale = max(absmax, 1e-12) / qmax
    return (x / scale).round().clamp(-qmax, qmax) * scale


@dataclass
class _InputHook:
    """What happens to one layer's input: a channel mask (pruning), then observe or fake-quantise."""
    mask: torch.Tensor | None
    a_bits: int | None
    calibrating: bool = True
    absmax: float = 0.0
    abssum: float = 0.0
    count: int = 0

    def __call__(self, module, args):
        x = args[0]
        if self.mask is not None:
            x = x * self.mask
        if self.a_bits is not None:
            if self.calibrating:
                self.absmax = max(self.absmax, float(x.abs().max()))
                self.abssum += float(x.abs().sum())
                self.count += x.numel()
            else:
                x = quantize_activation(x, self.a_bits, self.absmax, self.abssum / max(self.count, 1))
        return (x, *args[1:])


class Compressor:
    """Installs input hooks on a model's layers; `calibrate` observes ranges, `freeze` quantises."""

    def __init__(self, model, bits: dict[str, tuple[int, int]], masks: dict[str, torch.Tensor]):
        self.model = model
        self.bits = bits
        modules = dict(model.named_modules())
        self.hooks = {name: _InputHook(masks.get(name), bits[name][1] if name in bits else None)
                      for name in sorted(set(bits) | set(masks))}
        for name, hook in self.hooks.items():
            modules[name].register_forward_pre_hook(hook)
        self._modules = modules

    def calibrate(self, batches) -> None:
        with torch.no_grad():
            for batch in batches:
                self.model(batch)

    def freeze(self) -> None:
        """Quantise the weights in place and switch every input hook from observing to quantising."""
        with torch.no_grad():
            for name, (w_bits, _) in self.bits.items():
                weight = self._modules[name].weight
                weight.copy_(quantize_weight(weight, w_bits))
        for hook in self.hooks.values():
            hook.calibrating = False


def quantizable_layers(model, graph_ops) -> dict[str, tuple[int, int]]:
    """(w_bits, a_bits) of every Linear/Conv2d whose module path is an IR linear or conv2d op.

    Attention products (QK^T, A.V), vector ops and layers called through F.linear inside another
    module's forward (no module of their own) stay in float.
    """
    kinds = {OpKind.LINEAR: torch.nn.Linear, OpKind.CONV2D: torch.nn.Conv2d}
    modules = dict(model.named_modules())
    return {op.name: (op.w_bits, op.a_bits) for op in graph_ops
            if op.kind in kinds and isinstance(modules.get(op.name), kinds[op.kind])}


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


def head_mask(modules, choice: HeadChoice, layout: AttentionLayout,
              source_widths: dict[str, int]) -> tuple[tuple[int, ...], torch.Tensor]:
    """The kept heads and the mask on the output projection's input (head h owns channels h*d..h*d+d-1)."""
    att = choice.attention
    kept = choice.indices or most_important(head_importance(modules, layout, source_widths), choice.keep)
    mask = torch.zeros(att.heads, att.value_dim)
    mask[list(kept)] = 1.0
    return kept, mask.reshape(-1)


def mlp_mask(modules, choice: MlpChoice) -> tuple[tuple[int, ...], torch.Tensor]:
    """The kept hidden units (L1 of fc1 rows + fc2 columns) and the mask on fc2's input."""
    fc1 = _weight(modules, choice.fc1, choice.block, rows=choice.hidden).abs().double()
    fc2 = _weight(modules, choice.fc2, choice.block, cols=choice.hidden).abs().double()
    kept = most_important((fc1.sum(dim=1) + fc2.sum(dim=0)).tolist(), choice.keep)
    mask = torch.zeros(choice.hidden)
    mask[list(kept)] = 1.0
    return kept, mask
