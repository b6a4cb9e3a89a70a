"""Arguments of the Python API (`codesign.simulate`, `inspect`, `sweep`, `emit_hls`), checked on entry:
a wrong one is a UserError naming the argument, the type it got and what it accepts."""
from __future__ import annotations

import os

from accel_sim.inputs import check_int, shown
from codesign.errors import UserError


def expect(name: str, value, kinds: tuple, accepts: str, optional: bool = True):
    """`value` if it is an instance of one of `kinds` (or None when `optional`)."""
    if (value is None and optional) or (isinstance(value, kinds) and not isinstance(value, bool)):
        return value
    raise UserError(f"{name}={shown(value)} ({type(value).__name__}) is not valid: give {accepts}")


def flag_arg(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise UserError(f"{name}={shown(value)} ({type(value).__name__}) is not valid: give True or False")
    return value


def model_arg(value) -> None:
    from codesign.ir import Graph
    expect("model", value, (str, os.PathLike, Graph), "a timm model name, 'pkg.module:factory', a Graph or a "
           "SCALE-Sim topology .csv", optional=False)


def accel_arg(value) -> None:
    from accel_sim.config import Accelerator
    expect("accel", value, (str, os.PathLike, Accelerator), "a preset name, an accelerator .yaml or SCALE-Sim .cfg "
           "path, or an Accelerator", optional=False)


def input_size_arg(value) -> None:
    expect("input_size", value, (str, int, tuple, list), "H, (C, H, W) or 'C,H,W'")
    if isinstance(value, (tuple, list)) and not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise UserError(f"input_size={shown(value)} is not valid: give integers, e.g. (3, 224, 224)")


def batch_arg(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"batch={shown(value)} ({type(value).__name__}) is not valid: give an integer")
    return check_int(value, "batch")


def compression_args(precision, prune_heads, prune_mlp) -> None:
    from codesign.transforms import PrecisionPolicy, PrunePlan
    expect("precision", precision, (str, PrecisionPolicy), "a spec such as 'w8a8', a policy .yaml path or a "
           "PrecisionPolicy")
    expect("prune_heads", prune_heads, (str, float, int, PrunePlan), "a ratio (0.5), counts '6,6,4' or a PrunePlan")
    expect("prune_mlp", prune_mlp, (str, float, int), "the fraction of MLP units to keep, in (0, 1]")


def dataflow_args(dataflow, layer_dataflows) -> None:
    expect("dataflow", dataflow, (str,), "ws, os, is or rs")
    expect("layer_dataflows", layer_dataflows, (dict,), "a mapping {op glob: dataflow}")
    for key, value in (layer_dataflows or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise UserError(f"layer_dataflows[{shown(key)}]={shown(value)} is not valid: give 'glob': 'ws'|'os'|'is'|'rs'")
