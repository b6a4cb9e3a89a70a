"""The simulation engine: costs a Schedule (accel_sim/schedule.py) and returns a SimResult.
`simulate_workload` maps a Workload first (accel_sim/mapper.py); the cost model is accel_sim/cost_model.py.
"""
from __future__ import annotations

import numpy as np

from accel_sim import cost_model as cm
from accel_sim.config import Accelerator
from accel_sim.mapper import map_workload
from accel_sim.sim_result import COST_FIELDS, SimResult
from accel_sim.schedule import Schedule, unique_rows
from accel_sim.workload import Workload

def simulate_workload(workload: Workload, accel, *, dataflow=None, dataflow_per_layer=None,
             mapping: str = "searched", objective: str = "latency") -> SimResult:
    """Map `workload` on `accel` (an Accelerator: accel_sim.load_accelerator reads one) and cost the Schedule.

    `dataflow` replaces the accelerator's dataflow for every layer; `dataflow_per_layer`
    (one entry per layer, None = default) overrides single layers. `mapping` is "searched" (the
    default) or "scalesim"; `objective` is what the search minimises: latency, energy or edp.
    """
    if not isinstance(accel, Accelerator):
        raise TypeError("simulate_workload() takes an Accelerator; read one with accel_sim.load_accelerator(name or path)")
    if not isinstance(workload, Workload):
        raise TypeError("simulate_workload() takes a Workload; build one with Workload.from_layers(...)")
    sched = map_workload(workload, accel, dataflow=dataflow, dataflow_per_layer=dataflow_per_layer,
                         mapping=mapping, objective=objective)
    return cost_schedule(sched)


def _unique(sched: Schedule):
    """First index of each distinct (layer record, tiling) and the map back to all layers."""
    first, inverse = sched.layer_groups
    tiles = sched.tilings.view(np.int64).reshape(len(sched), -1)
    if np.array_equal(tiles, tiles[first][inverse]):     # the mapper's: one tiling per distinct record
        return first, inverse
    both = np.empty(len(sched), dtype=[("layer", cm.LAYER_DTYPE), ("tiling", cm.TILING_DTYPE)])
    both["layer"], both["tiling"] = sched.layers, sched.tilings
    return unique_rows(both)


def cost_schedule(sched: Schedule) -> SimResult:
    """Cycles, traffic and energy of every layer of `sched`; identical layers are costed once."""
    accel, wl = sched.accelerator, sched.workload
    idx, inverse = _unique(sched)
    costs = np.zeros(len(idx), dtype=cm.COST_DTYPE)
    cm.cost_all(sched.layers[idx], sched.tilings[idx], sched.hw, costs)
    costs = costs[inverse]
    keep = ~sched.folded
    fused = sched.layers["fused"] & keep
    cycles = np.ceil(costs["cycles"] - 1e-6).astype(np.int64)
    compute = np.ceil(costs["compute"] - 1e-6).astype(np.int64)
    compute[fused] = 0                      # a fused op's time is in its producer's row
    cycles = np.maximum(cycles, compute)
    dram_bytes = costs["dram_a"] + costs["dram_b"] + costs["dram_o_write"] + costs["dram_o_read"]
    dram_pj = dram_bytes * sched.hw[0]["e_dram"]
    fixed = sched.layer_figures
    cols = {
        "cycles": cycles, "compute_cycles": compute, "stall_cycles": cycles - compute,
        "dram_ifmap_bytes": costs["dram_a"], "dram_weight_bytes": costs["dram_b"],
        "dram_ofmap_bytes": costs["dram_o_write"] + costs["dram_o_read"],
        "ifmap_buf_read_bytes": costs["arr_a"], "ifmap_buf_write_bytes": costs["dram_a"] + costs["chip_o_write"],
        "weight_buf_read_bytes": costs["arr_b"], "weight_buf_write_bytes": costs["dram_b"],
        "ofmap_buf_read_bytes": costs["arr_o_read"] + costs["dram_o_write"] + costs["chip_o_write"],
        "ofmap_buf_write_bytes": costs["arr_o_write"] + costs["dram_o_read"],
        "buffer_pj": costs["energy_pj"] - dram_pj,
        "dram_pj": dram_pj,
    }
    if not keep.all():                      # a BatchNorm folded away costs nothing
        cols = {k: np.where(keep, v, 0).astype(v.dtype) for k, v in cols.items()}
    for name in ("macs", "ideal_cycles", "mac_pj", "rf_pj", "vector_pj"):
        cols[name] = fixed[name]
    cols = {name: cols[name] for name in COST_FIELDS}
    details = {"loop_order": np.where(sched.layers["vector"], -1, sched.tilings["order"]).astype(np.int64)}
    return SimResult(accelerator=accel.name, clock_mhz=float(accel.clock_mhz), pes=accel.pes,
                     dram_bytes_per_cycle=float(accel.dram_bytes_per_cycle),
                     names=wl.names, kinds=wl.labels, dataflows=sched.dataflows, columns=cols,
                     details=details, arrays=sched.arrays,
                     peak_macs_per_cycle=fixed["peak_macs_per_cycle"], schedule=sched)
