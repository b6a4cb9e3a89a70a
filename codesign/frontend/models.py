"""Resolve what the user names (a reference model, a timm model or `pkg.module:factory`) into a freshly built module.

Also parses `--input-size`, so that a bad size is refused before anything is built.
"""
from __future__ import annotations

import difflib
import importlib
import os
import re
import sys

from codesign.errors import UserError
from codesign.frontend.reference import build_reference, reference_model

DEFAULT_INPUT_SIZE = (3, 224, 224)


def parse_input_size(text: str | None) -> tuple[int, int, int] | None:
    """'224' -> (3, 224, 224); '3,256,256' or '3x256x256' -> (3, 256, 256); '192,256' -> (3, 192, 256)."""
    if text is None:
        return None
    parts = [p for p in re.split(r"[,x× ]+", str(text).strip()) if p]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in (1, 2, 3) or any(v <= 0 for v in values):
        raise UserError(f"--input-size {text!r} is not valid: give positive integers as H, H,W or C,H,W "
                        "(for example 224 or 3,224,224)")
    if len(values) == 1:
        return (3, values[0], values[0])
    if len(values) == 2:
        return (3, values[0], values[1])
    return tuple(values)  # type: ignore[return-value]


def check_batch(batch: int) -> int:
    if int(batch) != batch or batch <= 0:
        raise UserError(f"--batch {batch} is not valid: give a positive integer")
    return int(batch)


def is_object_path(spec: str) -> bool:
    return ":" in spec


def _timm():
    from codesign.frontend.torchvision_compat import import_timm
    return import_timm()


def timm_model_names(pattern: str | None = None) -> list[str]:
    """timm's names matching `pattern`, after the reference models that match it."""
    import fnmatch

    from codesign.frontend.reference import REFERENCE_MODELS
    timm = _timm()
    own = [name for name in REFERENCE_MODELS if fnmatch.fnmatchcase(name, pattern or "*")]
    return own + list(timm.list_models(pattern or "*"))


def check_model_name(spec: str) -> None:
    """Refuse an unknown timm name with the closest matches (object paths are checked when built)."""
    if is_object_path(spec) or reference_model(spec) is not None:
        return
    names = timm_model_names()
    if spec in names:
        return
    close = difflib.get_close_matches(spec, names, n=5, cutoff=0.5)
    hint = f"; closest: {', '.join(close)}" if close else "; see `codesign models PATTERN`"
    raise UserError(f"unknown model {spec!r}{hint}")


def build_model(spec: str, device: str = "meta"):
    """A fresh model in eval mode (never reused: some models cache tensors on the module)."""
    import torch

    check_model_name(spec)
    with torch.device(device):
        if is_object_path(spec):
            model = _build_from_factory(spec)
        elif reference_model(spec) is not None:
            model = build_reference(reference_model(spec), _timm().create_model)
        else:
            model = _timm().create_model(spec, pretrained=False)
    return model.eval()


def _build_from_factory(spec: str):
    import torch

    module_name, _, attr = spec.partition(":")
    if os.getcwd() not in sys.path:  # `codesign inspect mymodels:net` finds mymodels.py where you stand
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(f"cannot import {module_name!r} from {spec!r}: {exc}") from None
    factory = module
    for part in attr.split("."):
        factory = getattr(factory, part, None)
        if factory is None:
            raise UserError(f"{module_name!r} has no attribute {attr!r} (from {spec!r})")
    model = factory() if callable(factory) and not isinstance(factory, torch.nn.Module) else factory
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"{spec!r} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def default_input_size(model) -> tuple[int, int, int]:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    size = cfg.get("input_size")
    return tuple(int(v) for v in size) if size else DEFAULT_INPUT_SIZE
