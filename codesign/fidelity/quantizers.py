"""Fake quantisers with straight-through gradients: per-channel weights, calibrated per-tensor activations.

Activation ranges come from calibration data by MSE (default), a percentile or the maximum.
"""
from __future__ import annotations

import torch

CLIP_RATIOS = tuple(i / 20 for i in range(4, 21))   # range candidates, fractions of the observed max|x|
FLOAT_BITS = 16          # 16-bit fixed point over a calibrated range is taken as exact (SQNR > 80 dB)
SAMPLE_PER_BATCH = 4096  # activation values kept per calibration batch for the MSE / percentile search
SAMPLE_LIMIT = 1 << 16   # at most this many values per site
PERCENTILE = 99.99       # `percentile` range: this percentile of |x| (Wu et al. 2020, arXiv:2004.09602)
RANGE_METHODS = ("mse", "percentile", "max")


def quantize_weight(weight: torch.Tensor, bits: int, scale: torch.Tensor | None = None) -> torch.Tensor:
    """Symmetric per-output-channel (dim 0) quantisation; 1 bit is sign(w) x mean|w| per channel.

    Each channel's range is the fraction of its max|w| (from CLIP_RATIOS) with the least squared
    error: at 2 bits plain max scaling would round most weights to zero. `scale` (channels x 1)
    fixes the steps instead (a pruned layer keeps the steps its full rows chose).
    """
    codes, step = weight_codes(weight, bits, scale)
    return (codes * step.reshape(-1, *([1] * (weight.dim() - 1)))).to(weight.dtype)


def weight_codes(weight: torch.Tensor, bits: int,
                 scale: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The integer codes of `quantize_weight` (same shape as `weight`, +-1 at 1 bit) and the step
    of each output channel (shape (channels,)): quantize_weight(w) = codes x step."""
    flat = weight.reshape(weight.shape[0], -1)
    step = (weight_scale(weight, bits) if scale is None else scale).reshape(-1, 1)
    if bits == 1:
        return torch.where(flat >= 0, 1.0, -1.0).reshape(weight.shape), step.reshape(-1)
    qmax = 2 ** (bits - 1) - 1
    return (flat / step).round().clamp(-qmax, qmax).reshape(weight.shape), step.reshape(-1)


def weight_scale(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """The per-output-channel step of `quantize_weight`, shape (channels, 1): the integer grid is
    [-(2^(b-1)-1), 2^(b-1)-1] times it (at 1 bit, +-1 times mean|w|)."""
    flat = weight.reshape(weight.shape[0], -1)
    if bits == 1:
        return flat.abs().mean(dim=1, keepdim=True)
    qmax = 2 ** (bits - 1) - 1
    absmax = flat.abs().amax(dim=1, keepdim=True).clamp_min(1e-12)
    best, best_err = None, None
    for ratio in CLIP_RATIOS:
        scale = absmax * ratio / qmax
        err = (((flat / scale).round().clamp(-qmax, qmax) * scale - flat) ** 2).sum(dim=1, keepdim=True)
        if best_err is None:
            best, best_err = scale, err
        else:
            better = err < best_err
            best, best_err = torch.where(better, scale, best), torch.where(better, err, best_err)
    return best


class WeightQuant(torch.nn.Module):
    """A parametrization of `weight`: quantised in the forward pass, straight-through in the backward."""

    def __init__(self, bits: int, scale: torch.Tensor | None = None):
        super().__init__()
        self.bits, self.scale = bits, scale      # scale: fixed per-channel steps (see quantize_weight)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            q = quantize_weight(weight, self.bits, self.scale)
        return weight + (q - weight).detach()


class ActQuant:
    """One activation site: observes values while calibrating, then fake-quantises them.

    Signed values use the symmetric grid [-(2^(b-1)-1), 2^(b-1)-1]; a site whose calibration values
    are never negative (softmax, after GELU mostly not) uses the unsigned grid [0, 2^b - 1].
    1 bit is sign(x) x mean|x|. The gradient passes straight through inside the range and is zero
    outside it (the clipped straight-through estimator, Bengio et al. 2013, arXiv:1308.3432).
    """

    def __init__(self, bits: int, method: str = "mse", seed: int = 0):
        self.bits, self.method = bits, method
        self.calibrating = True
        self.minimum, self.absmax, self.abssum, self.count = 0.0, 0.0, 0.0, 0
        self._samples: list[torch.Tensor] = []
        self._generator = torch.Generator().manual_seed(seed)
        self.low = self.high = self.scale = 0.0

    @property
    def active(self) -> bool:
        return self.bits < FLOAT_BITS

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not self.active:
            return x
        if self.calibrating:
            self.observe(x.detach())
            return x
        return self.quantize(x)

    def observe(self, x: torch.Tensor) -> None:
        flat = x.reshape(-1).float()
        self.minimum = min(self.minimum, float(flat.min()))
        self.absmax = max(self.absmax, float(flat.abs().max()))
        self.abssum += float(flat.abs().sum())
        self.count += flat.numel()
        if sum(s.numel() for s in self._samples) < SAMPLE_LIMIT:
            pick = torch.randint(flat.numel(), (min(SAMPLE_PER_BATCH, flat.numel()),), generator=self._generator)
            self._samples.append(flat[pick])

    def freeze(self) -> None:
        """Choose the range from what was observed and switch to quantising."""
        self.calibrating = False
        if not self.active or self.bits == 1:
            self.scale = self.abssum / max(self.count, 1)
            return
        signed = self.minimum < 0
        levels = 2 ** (self.bits - 1) - 1 if signed else 2 ** self.bits - 1
        sample = torch.cat(self._samples) if self._samples else torch.zeros(1)
        self._samples = []
        top = max(self.absmax, 1e-12)
        if self.method == "max":
            clip = top
        elif self.method == "percentile":
            clip = max(float(torch.quantile(sample.abs().double(), PERCENTILE / 100)), 1e-12)
        else:
            errors = [(float(((_grid(sample, top * r / levels, signed, levels) - sample) ** 2).sum()), r)
                      for r in CLIP_RATIOS]
            clip = top * min(errors)[1]
        self.scale = clip / levels
        self.low, self.high = (-clip if signed else 0.0), clip

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        if self.bits == 1:
            q = torch.where(x >= 0, 1.0, -1.0).to(x.dtype) * self.scale
            return x + (q - x).detach()
        clipped = x.clamp(self.low, self.high)
        q = (clipped / self.scale).round() * self.scale
        return clipped + (q - clipped).detach()


def _grid(x: torch.Tensor, scale: float, signed: bool, levels: int) -> torch.Tensor:
    low = -levels if signed else 0
    return (x / scale).round().clamp(low, levels) * scale
