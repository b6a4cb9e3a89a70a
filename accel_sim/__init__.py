"""Accelerator description and numba simulation engine; imports numpy and numba only, never torch.
The public API: load an Accelerator, build a Workload, `simulate` it, read the SimResult.
"""
from accel_sim.config import (Accelerator, Buffer, Buffers, Dram, LutArray, PEArray, RegisterFile,
                              VectorCycles, VectorUnit, accelerator_from_dict, list_presets,
                              load_accelerator, parse_dataflow)
from accel_sim.devices import Device, get_device, list_devices
from accel_sim.energy import EnergyTable
from accel_sim.engine import simulate
from accel_sim.errors import UserError
from accel_sim.resources import ResourceEstimate, estimate_resources
from accel_sim.results import Cost, SimResult
from accel_sim.scalesim_io import read_scalesim_cfg, read_topology, read_topology_layers
from accel_sim.workload import VECTOR_FAMILIES, Layer, LayerKind, Workload
from dataflows import Dataflow

__all__ = ["Accelerator", "Buffer", "Buffers", "Cost", "Dataflow", "Device", "Dram", "EnergyTable",
           "Layer", "LayerKind", "LutArray", "PEArray", "RegisterFile", "ResourceEstimate", "SimResult",
           "UserError", "VECTOR_FAMILIES", "VectorCycles", "VectorUnit", "Workload",
           "accelerator_from_dict", "estimate_resources", "get_device", "list_devices", "list_presets",
           "load_accelerator", "parse_dataflow", "read_scalesim_cfg", "read_topology",
           "read_topology_layers", "simulate"]
