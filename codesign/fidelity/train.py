"""Supervised training and accuracy on a `Labelled` set: deterministic for a seed, on one CPU thread.

Used to retrain the reference models and for recovery fine-tuning of a compressed model.
"""
from __future__ import annotations

import math
import os

import torch

EVAL_BATCH = 250     # images per forward pass when counting correct answers (memory, not results)


def deterministic_cpu() -> None:
    """One thread, idle workers sleep: results do not depend on the machine's core count."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    torch.set_num_threads(1)


def correct(model, data) -> int:
    """How many images of `data` the model classifies right (eval mode, no gradients)."""
    was_training = model.training
    model.eval()
    hits = 0
    with torch.no_grad():
        for images, labels in zip(data.images.split(EVAL_BATCH), data.labels.split(EVAL_BATCH)):
            hits += int((model(images).argmax(dim=1) == labels).sum())
    model.train(was_training)
    return hits


def fit(model, data, *, epochs: int, lr: float, batch: int, seed: int, weight_decay: float = 0.0,
        shift: int = 0, label_smoothing: float = 0.0, label: str = "training") -> None:
    """AdamW with a cosine learning-rate schedule over `epochs` of `data`, shuffled under `seed`.

    `shift` > 0 translates each image by up to that many pixels and `label_smoothing` softens the
    targets (augmentation and regularisation for the small training sets used here). A tqdm bar on stderr
    counts the steps when progress is shown.
    """
    from codesign.progress import progress_bar

    deterministic_cpu()
    generator = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() > 1]
    rest = [p for p in params if p.dim() <= 1]
    optimiser = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                   {"params": rest, "weight_decay": 0.0}], lr=lr)
    steps = epochs * math.ceil(len(data) / batch)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    model.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)      # dropout and stochastic depth, if the model has any
        for idx in progress_bar(_batches(len(data), epochs, batch, generator), label, total=steps):
            images = data.images[idx]
            if shift:
                images = _shifted(images, shift, generator)
            loss = torch.nn.functional.cross_entropy(model(images), data.labels[idx],
                                                   label_smoothing=label_smoothing)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
    model.eval()


def _batches(size: int, epochs: int, batch: int, generator: torch.Generator):
    """Index batches of `epochs` passes, each pass in its own shuffled order (drawn when it starts)."""
    for _ in range(epochs):
        yield from torch.randperm(size, generator=generator).split(batch)


def _shifted(images: torch.Tensor, shift: int, generator: torch.Generator) -> torch.Tensor:
    """Each image translated by its own random (dy, dx) in [-shift, shift], the border filled from the edge."""
    n, _, height, width = images.shape
    padded = torch.nn.functional.pad(images, (shift, shift, shift, shift), mode="replicate")
    offsets = torch.randint(0, 2 * shift + 1, (n, 2), generator=generator)
    return torch.stack([padded[i, :, dy:dy + height, dx:dx + width] for i, (dy, dx) in enumerate(offsets.tolist())])
