"""Accelerator description and numba simulation engine; imports numpy and numba only, never torch.
The public API: load an Accelerator, build a Workload, `simulate` it, read the SimResult.
"""
import importlib

# name -> submodule; loaded on first use so that `accel_sim.errors` alone stays cheap to import
_API = {
    "Accelerator": "config", "Buffer": "config", "Buffers": "config", "Dram": "config",
    "LutArray": "config", "PEArray": "config", "RegisterFile": "config", "VectorCycles": "config",
    "VectorUnit": "config", "accelerator_from_dict": "config", "list_presets": "loading",
    "load_accelerator": "loading", "parse_dataflow": "config",
    "Device": "devices", "get_device": "devices", "list_devices": "devices",
    "EnergyTable": "energy", "simulate_workload": "engine", "UserError": "errors",
    "ResourceEstimate": "resources", "estimate_resources": "resources",
    "Cost": "sim_result", "SimResult": "sim_result",
    "read_scalesim_cfg": "scalesim_io", "read_topology": "scalesim_io", "read_topology_layers": "scalesim_io",
    "VECTOR_FAMILIES": "workload", "Layer": "workload", "LayerKind": "workload", "Workload": "workload",
}

__all__ = sorted([*_API, "Dataflow"])


def __getattr__(name: str):
    if name == "Dataflow":
        from dataflows import Dataflow
        return Dataflow
    if name in _API:
        value = getattr(importlib.import_module(f"accel_sim.{_API[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'accel_sim' has no attribute {name!r}")


def __dir__():
    return __all__
