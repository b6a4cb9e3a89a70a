"""Where an Accelerator comes from: a shipped preset name, our YAML (version 1) or a SCALE-Sim .cfg.
The one place names and paths become Accelerators; the engine and the resource model take Accelerators.
"""
from __future__ import annotations

import functools
import os
from importlib import resources

from accel_sim.config import Accelerator, accelerator_from_dict
from accel_sim.errors import UserError
from accel_sim.inputs import read_yaml
from accel_sim.scalesim_io import read_scalesim_cfg


def _preset_dir():
    return resources.files("accel_sim") / "presets"


@functools.lru_cache(maxsize=None)
def _preset_names() -> tuple[str, ...]:
    return tuple(sorted(p.name[:-5] for p in _preset_dir().iterdir() if p.name.endswith(".yaml")))


@functools.lru_cache(maxsize=None)
def _load_preset(name: str) -> Accelerator:
    with resources.as_file(_preset_dir() / f"{name}.yaml") as path:
        return accelerator_from_dict(read_yaml(str(path), "accelerator file", f"{name}.yaml"), f"preset {name}")


def list_presets() -> list[tuple[str, str]]:
    """(name, one-line description) of every shipped preset."""
    return [(name, _load_preset(name).description) for name in _preset_names()]


def load_accelerator(spec) -> Accelerator:
    """An Accelerator from a preset name, a YAML file, a SCALE-Sim .cfg, or an Accelerator."""
    if isinstance(spec, Accelerator):
        return spec
    spec = os.fspath(spec)
    if spec in _preset_names():
        return _load_preset(spec)
    lower = spec.lower()
    if lower.endswith(".cfg"):
        return read_scalesim_cfg(spec)
    if lower.endswith((".yaml", ".yml")):
        label = os.path.basename(spec)
        return accelerator_from_dict(read_yaml(spec, "accelerator file", label), label)
    raise UserError(f"unknown accelerator {spec!r}: use a preset ({', '.join(_preset_names())}) "
                    f"or a .yaml / SCALE-Sim .cfg file")
