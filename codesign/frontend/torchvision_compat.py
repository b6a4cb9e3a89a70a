"""Let timm import with a real torchvision when one works, else with a minimal in-process stand-in.

timm imports `torchvision.ops.misc.FrozenBatchNorm2d` and a few data modules at load time; only
that class is real here, every other name is a placeholder that raises a clear error when used.
"""
from __future__ import annotations

import enum
import importlib
import sys
import types

FALLBACK_VERSION = "0.0.0+codesign.fallback"
_MESSAGE = ("torchvision is not usable in this environment (codesign runs timm with a minimal "
            "stand-in); '{name}' needs a real torchvision built for this torch")


def ensure_torchvision() -> str:
    """Make `import torchvision` safe for timm; return "real" or "fallback"."""
    loaded = sys.modules.get("torchvision")
    if loaded is not None and getattr(loaded, "__codesign_fallback__", False):
        return "fallback"
    try:
        importlib.import_module("torchvision")
        importlib.import_module("torchvision.ops.misc").FrozenBatchNorm2d  # noqa: B018
        return "real"
    except Exception:  # a missing or broken build (e.g. compiled for another torch)
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        _install_fallback()
        return "fallback"


def _placeholder(qualname: str) -> type:
    """A class that stands for a torchvision name and refuses to be instantiated or called."""
    def refuse(*_args, **_kwargs):
        raise RuntimeError(_MESSAGE.format(name=qualname))
    return type(qualname.rsplit(".", 1)[-1], (), {"__init__": refuse, "__qualname__": qualname,
                                                  "__module__": qualname.rsplit(".", 1)[0]})


def _module(name: str, placeholders: bool) -> types.ModuleType:
    module = types.ModuleType(name, f"codesign stand-in for {name}")
    module.__codesign_fallback__ = True
    if placeholders:
        def __getattr__(attr: str):
            if attr.startswith("__"):
                raise AttributeError(attr)
            value = _placeholder(f"{name}.{attr}")
            setattr(module, attr, value)
            return value
        module.__getattr__ = __getattr__
    return module


class InterpolationMode(enum.Enum):
    """The interpolation names timm maps to strings when `timm.data.transforms` is imported."""
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def _frozen_batch_norm_class() -> type:
    import torch

    class FrozenBatchNorm2d(torch.nn.Module):
        """BatchNorm2d with fixed statistics and affine parameters (all buffers, none trained)."""

        def __init__(self, num_features: int, eps: float = 1e-5):
            super().__init__()
            self.eps = eps
            self.register_buffer("weight", torch.ones(num_features))
            self.register_buffer("bias", torch.zeros(num_features))
            self.register_buffer("running_mean", torch.zeros(num_features))
            self.register_buffer("running_var", torch.ones(num_features))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            scale = self.weight * (self.running_var + self.eps).rsqrt()
            shift = self.bias - self.running_mean * scale
            return x * scale.reshape(1, -1, 1, 1) + shift.reshape(1, -1, 1, 1)

        def extra_repr(self) -> str:
            return f"{self.weight.shape[0]}, eps={self.eps}"

    return FrozenBatchNorm2d


def _install_fallback() -> None:
    root = _module("torchvision", placeholders=False)
    root.__version__ = FALLBACK_VERSION
    root.__path__ = []  # a package, so that unknown submodules fail with ModuleNotFoundError
    ops = _module("torchvision.ops", placeholders=True)
    misc = _module("torchvision.ops.misc", placeholders=True)
    misc.FrozenBatchNorm2d = _frozen_batch_norm_class()
    transforms = _module("torchvision.transforms", placeholders=True)
    functional = _module("torchvision.transforms.functional", placeholders=True)
    functional.InterpolationMode = InterpolationMode
    transforms.functional = functional
    transforms.InterpolationMode = InterpolationMode
    datasets = _module("torchvision.datasets", placeholders=True)
    utils = _module("torchvision.utils", placeholders=True)
    ops.misc = misc
    for attr, sub in (("ops", ops), ("transforms", transforms), ("datasets", datasets), ("utils", utils)):
        setattr(root, attr, sub)
    for module in (root, ops, misc, transforms, functional, datasets, utils):
        module.__path__ = []
        sys.modules[module.__name__] = module


def import_timm():
    """Import timm once torchvision is safe to import, and return the module."""
    ensure_torchvision()
    import timm
    return timm
