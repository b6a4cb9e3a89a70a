"""Resolve what the user names (a reference model, a timm model or `pkg.module:factory`) into a freshly built module.

Also parses `--input-size`, so that a bad size is refused before anything is built.
"""
from __future__ import annotations

import difflib
import re

from accel_sim.inputs import check_int, shown
from codesign.errors import UserError
from codesign.frontend.reference import build_reference, reference_model

DEFAULT_INPUT_SIZE = (3, 224, 224)


def parse_input_size(text: str | None) -> tuple[int, int, int] | None:
    """'224' -> (3, 224, 224); '3,256,256' or '3x256x256' -> (3, 256, 256); '192,256' -> (3, 192, 256)."""
    if text is None:
        return None
    parts = re.split(r"\s*[,x×]\s*|\s+", str(text).strip())
    usage = ("give positive integers as H, H,W or C,H,W (for example 224 or 3,224,224)")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() and len(p) < 12 for p in parts):
        raise UserError(f"--input-size {shown(text)} is not valid: {usage}")
    values = [int(p) for p in parts]
    if len(values) == 1:
        values = [3, values[0], values[0]]
    elif len(values) == 2:
        values = [3, *values]
    for name, value in zip(("channels", "height", "width"), values):
        check_int(value, f"--input-size {name}")
    return tuple(values)  # type: ignore[return-value]


def check_batch(batch: int) -> int:
    return check_int(batch, "--batch")


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

    from codesign.boundary.user_code import call, resolve

    factory = resolve(spec, "model factory")
    model = call(factory, spec, "model factory") if callable(factory) and not isinstance(
        factory, torch.nn.Module) else factory
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"{spec!r} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def default_input_size(model) -> tuple[int, int, int]:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    size = cfg.get("input_size")
    return tuple(int(v) for v in size) if size else DEFAULT_INPUT_SIZE
