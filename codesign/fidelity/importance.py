"""Data-driven importance of attention heads and MLP units: the first-order Taylor score on labelled data.

Head h scores E_x |sum over its channels of a(x) * dL/da(x)| at the output projection's input
(Michel et al. 2019, "Are Sixteen Heads Really Better than One?", arXiv:1905.10650); MLP units likewise.
"""
from __future__ import annotations

import torch

BATCH = 100     # calibration images per backward pass (memory, not results: the scores are sums)


class _Gate:
    """Multiplies a layer's input by a per-sample ones gate, so dL/dgate = sum over tokens of a * dL/da."""

    def __init__(self):
        self.gate: torch.Tensor | None = None

    def __call__(self, module, args):
        x = args[0]
        self.gate = torch.ones(x.shape[0], *([1] * (x.dim() - 2)), x.shape[-1], requires_grad=True)
        return (x * self.gate, *args[1:])


def taylor_scores(model, layers: dict[str, int], data) -> dict[str, list[float]]:
    """Per layer in `layers` (module name -> group size): one score per group of its input channels.

    Each group is a head (group size = the head's value width) or an MLP unit (group size 1).
    The loss is cross-entropy on `data`'s labels; the model's weights are not changed.
    """
    modules = dict(model.named_modules())
    gates = {name: _Gate() for name in layers}
    handles = [modules[name].register_forward_pre_hook(gate) for name, gate in gates.items()]
    totals = {name: None for name in layers}
    was_training = model.training
    model.eval()
    try:
        for images, labels in zip(data.images.split(BATCH), data.labels.split(BATCH)):
            model.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(model(images), labels, reduction="sum")
            grads = torch.autograd.grad(loss, [gates[n].gate for n in layers])
            for (name, size), grad in zip(layers.items(), grads):
                per_sample = grad.reshape(grad.shape[0], -1, size).sum(dim=2).abs().double().sum(dim=0)
                totals[name] = per_sample if totals[name] is None else totals[name] + per_sample
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return {name: (t / len(data)).tolist() for name, t in totals.items()}
