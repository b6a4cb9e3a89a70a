"""The simulation engine: costs a Schedule (accel_sim/schedule.py) and returns a SimResult.
`simulate` maps a Workload first (accel_sim/mapper.py); the cost model is accel_sim/cost_model.py.
"""
from __future__ import annotations

import numpy as np

from accel_sim import cost_model as cm
from accel_sim.config import load_accelerator
from accel_sim.energy import LUT_MAC_ENERGY_X
from accel_sim.mapper import map_workload, unique_rows
from accel_sim.results import SimResult
from accel_sim.schedule import Schedule
from accel_sim.workload import Workload
from dataflows import Dataflow

# Register / scratchpad accesses per MAC: a systolic PE touches two operand registers and one
# accumulator (assumption: pipeline registers, no scratchpad); an Eyeriss PE reads ifmap, filter and
# psum and writes the psum in its scratchpads (Chen et al. ISCA 2016).
RF_ACCESSES_PER_MAC = {Dataflow.WS: 3.0, Dataflow.OS: 3.0, Dataflow.IS: 3.0, Dataflow.RS: 4.0}
RF_TABLE = np.array([RF_ACCESSES_PER_MAC[Dataflow.from_code(c)] for c in range(len(Dataflow))])


def simulate(workload: Workload, accel, dataflow_override=None, layer_dataflows=None, *,
             mapping: str = "searched", objective: str = "latency") -> SimResult:
    """Map `workload` on `accel` (an Accelerator, preset name or file) and cost the Schedule.

    `dataflow_override` replaces the accelerator's dataflow for every layer; `layer_dataflows`
    (one entry per layer, None = default) overrides single layers. `mapping` is "searched" (the
    default) or "scalesim"; `objective` is what the search minimises: latency, energy or edp.
    """
    accel = load_accelerator(accel)
    if not isinstance(workload, Workload):
        raise TypeError("simulate() takes a Workload; build one with Workload.from_layers(...)")
    sched = map_workload(workload, accel, dataflow=dataflow_override, layer_dataflows=layer_dataflows,
                         mapping=mapping, objective=objective)
    return cost_schedule(sched)


def _unique(sched: Schedule):
    """First index of each distinct (layer record, tiling) and the map back to all layers."""
    both = np.empty(len(sched), dtype=[("layer", cm.LAYER_DTYPE), ("tiling", cm.TILING_DTYPE)])
    both["layer"], both["tiling"] = sched.layers, sched.tilings
    return unique_rows(both)


def cost_schedule(sched: Schedule) -> SimResult:
    """Cycles, traffic and energy of every layer of `sched`; identical layers are costed once."""
    accel, wl = sched.accelerator, sched.workload
    idx, inverse = _unique(sched)
    rec, til = sched.layers[idx], sched.tilings[idx]
    costs = np.zeros(len(idx), dtype=cm.COST_DTYPE)
    cm.cost_all(rec, til, sched.hw, costs)
    costs = costs[inverse]
    rec = sched.layers
    is_vec, folded = rec["vector"], sched.folded
    fused = rec["fused"] & ~folded
    batch = rec["batch"]
    macs = np.where(is_vec, 0, rec["m"] * rec["n"] * rec["k"] * batch)
    lanes, passes, pes = rec["lanes"], rec["passes"], sched.array_pes
    cycles = np.ceil(costs["cycles"] - 1e-6).astype(np.int64)
    compute = np.ceil(costs["compute"] - 1e-6).astype(np.int64)
    compute = np.where(fused, 0, compute)       # a fused op's time is in its producer's row
    cycles = np.maximum(cycles, compute)
    ideal = np.where(is_vec, rec["vec_cycles"] * batch, -(-(macs * passes) // (pes * lanes)))
    ideal = np.where(fused, 0, ideal)
    keep = ~folded
    e = accel.energy
    ob = accel.pe_array.operand_bits
    dram_bytes = costs["dram_a"] + costs["dram_b"] + costs["dram_o_write"] + costs["dram_o_read"]
    dram_pj = dram_bytes * sched.hw[0]["e_dram"]
    rf_per_mac = RF_TABLE[np.maximum(rec["df"], 0)] * ~is_vec
    on_lut = np.asarray(sched.arrays) == "lut"
    cpe = np.asarray(accel.vector_unit.cycles_per_element.as_tuple())
    fam = np.maximum(wl.vec_family, 0)
    cols = {
        "macs": macs, "cycles": cycles, "compute_cycles": compute, "stall_cycles": cycles - compute,
        "ideal_cycles": ideal.astype(np.int64),
        "dram_ifmap_bytes": costs["dram_a"], "dram_weight_bytes": costs["dram_b"],
        "dram_ofmap_bytes": costs["dram_o_write"] + costs["dram_o_read"],
        "ifmap_buf_read_bytes": costs["arr_a"], "ifmap_buf_write_bytes": costs["dram_a"] + costs["chip_o_write"],
        "weight_buf_read_bytes": costs["arr_b"], "weight_buf_write_bytes": costs["dram_b"],
        "ofmap_buf_read_bytes": costs["arr_o_read"] + costs["dram_o_write"] + costs["chip_o_write"],
        "ofmap_buf_write_bytes": costs["arr_o_write"] + costs["dram_o_read"],
        "mac_pj": macs * e.mac_energy_pj(rec["b_bits"], rec["a_bits"], ob) * np.where(on_lut, LUT_MAC_ENERGY_X, 1.0),
        "rf_pj": macs * rf_per_mac * e.rf_access_pj * rec["a_bits"] / ob,
        "buffer_pj": costs["energy_pj"] - dram_pj,
        "dram_pj": dram_pj,
        "vector_pj": np.where(is_vec, wl.vec_elems * cpe[fam] * e.vector_op_pj, 0.0),
    }
    cols = {k: np.where(keep, v, 0).astype(v.dtype) for k, v in cols.items()}
    details = {"loop_order": np.where(is_vec, -1, sched.tilings["order"]).astype(np.int64)}
    return SimResult(accelerator=accel.name, clock_mhz=float(accel.clock_mhz), pes=accel.pes,
                     dram_bytes_per_cycle=float(accel.dram_bytes_per_cycle),
                     names=wl.names, kinds=wl.labels, dataflows=sched.dataflows, columns=cols,
                     details=details, arrays=sched.arrays,
                     peak_macs_per_cycle=pes * lanes / passes, schedule=sched)
