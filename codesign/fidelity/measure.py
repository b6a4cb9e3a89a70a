"""Run the float and the compressed model side by side and compare them: logits and layer outputs.

Batches go through in small chunks so that per-layer outputs of big models stay small in memory.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from codesign.errors import UserError

CHUNK = 4                 # images per forward pass
SQNR_CAP_DB = 200.0       # a layer whose output is unchanged (e.g. all-zero weights) reports this


@dataclass(frozen=True)
class Measurement:
    cosine_similarity: float      # mean over images of cos(compressed logits, float logits)
    top1_agreement: float         # fraction of images whose arg-max class is unchanged
    float_top1_classes: int       # distinct classes the float model picks (1: top-1 says nothing)
    cross_image_cosine: float     # mean cos between float logits of different images (a constant model's)
    layer_sqnr_db: dict[str, float]
    correct: int | None = None        # images the compressed model classifies right (with labels)
    float_correct: int | None = None  # ... and the float model


def _logits(output) -> torch.Tensor:
    if not isinstance(output, torch.Tensor):
        raise UserError(f"fidelity needs a model whose forward returns one tensor, "
                        f"not {type(output).__name__}")
    return output.reshape(output.shape[0], -1).double()


def compare(float_model, compressed, layers: list[str], data: torch.Tensor, labels: torch.Tensor | None = None,
            chunk: int = CHUNK) -> Measurement:
    """Logit agreement and per-layer SQNR (compressed layer output vs the same layer of the float model);
    with `labels`, also how many images each model classifies right."""
    ref: dict[str, torch.Tensor] = {}
    signal = dict.fromkeys(layers, 0.0)
    noise = dict.fromkeys(layers, 0.0)

    def keep(name):
        def hook(_module, _args, out):
            ref[name] = out.detach()
        return hook

    def diff(name):
        def hook(_module, _args, out):
            r = ref[name].double()
            signal[name] += float((r * r).sum())
            noise[name] += float(((out.double() - r) ** 2).sum())
        return hook

    float_modules, comp_modules = dict(float_model.named_modules()), dict(compressed.named_modules())
    handles = [float_modules[n].register_forward_hook(keep(n)) for n in layers]
    handles += [comp_modules[n].register_forward_hook(diff(n)) for n in layers]
    cosines, agree, classes, unit, hits, float_hits = [], 0, set(), [], 0, 0
    truth = labels.split(chunk) if labels is not None else [None] * len(data.split(chunk))
    try:
        with torch.no_grad():
            for images, target in zip(data.split(chunk), truth):
                ref.clear()
                f = _logits(float_model(images))
                c = _logits(compressed(images))
                cosines += torch.nn.functional.cosine_similarity(c, f, dim=1).tolist()
                agree += int((c.argmax(dim=1) == f.argmax(dim=1)).sum())
                classes |= set(f.argmax(dim=1).tolist())
                unit.append(torch.nn.functional.normalize(f, dim=1))
                if target is not None:
                    hits += int((c.argmax(dim=1) == target).sum())
                    float_hits += int((f.argmax(dim=1) == target).sum())
    finally:
        for h in handles:
            h.remove()
    sqnr = {n: _sqnr_db(signal[n], noise[n]) for n in layers}
    return Measurement(cosine_similarity=sum(cosines) / len(cosines), top1_agreement=agree / len(cosines),
                       float_top1_classes=len(classes), cross_image_cosine=_cross_cosine(torch.cat(unit)),
                       layer_sqnr_db=sqnr, correct=hits if labels is not None else None,
                       float_correct=float_hits if labels is not None else None)


def _cross_cosine(unit: torch.Tensor) -> float:
    """Mean cosine over pairs of different images (1.0 for a single image: nothing to compare)."""
    n = unit.shape[0]
    if n < 2:
        return 1.0
    gram = unit @ unit.T
    return float((gram.sum() - gram.diagonal().sum()) / (n * (n - 1)))


def _sqnr_db(signal: float, noise: float) -> float:
    if noise <= signal * 10 ** (-SQNR_CAP_DB / 10):
        return SQNR_CAP_DB
    if signal == 0.0:
        return -SQNR_CAP_DB
    return round(10 * math.log10(signal / noise), 4)
