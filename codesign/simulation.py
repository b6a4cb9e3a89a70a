"""`codesign.simulate`: a model (timm name, object path, Graph or SCALE-Sim topology) on an accelerator.

Returns a `Simulation` holding the Graph, the engine's SimResult and where the wall time went.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from accel_sim.config import Accelerator, load_accelerator
from accel_sim.engine import cost_schedule
from accel_sim.resources import estimate_resources
from accel_sim.results import SimResult
from codesign.ir import Graph
from codesign.scheduler import schedule


@dataclass(frozen=True, eq=False)
class Simulation:
    model: str
    accelerator: Accelerator
    graph: Graph | None            # None for a SCALE-Sim topology (no IR behind it)
    result: SimResult
    timing: dict = field(default_factory=dict)
    extras: dict = field(default_factory=dict)   # e.g. resources, fidelity: added by later stages

    def to_dict(self) -> dict:
        data = {"model": self.model, **self.result.to_dict()}
        data["input_shape"] = list(self.graph.input_shape) if self.graph else None
        data.update(self.extras)
        data["timing"] = dict(self.timing)
        return data


def is_topology_file(model: str) -> bool:
    return isinstance(model, str) and model.lower().endswith(".csv")


def simulate(model: str | Graph, accel: str | Accelerator = "zcu102", dataflow: str | None = None,
             layer_dataflows: dict[str, str] | None = None, input_size=None, batch: int = 1,
             device=None, compress: Callable[[Graph], Graph] | None = None, mapping: str = "searched",
             objective: str = "latency") -> Simulation:
    """Simulate `model` on `accel` (preset name, YAML, SCALE-Sim .cfg, or Accelerator).

    `mapping` is "searched" (tiling, loop order, fusion and residency searched per layer for
    `objective`: latency, energy or edp) or "scalesim" (SCALE-Sim's fixed mapping).

    `device` (a board or part name, or an accel_sim Device) adds the FPGA resource estimate of
    the accelerator on it, under `extras["resources"]` (a ResourceEstimate's `to_dict()`).
    `compress` (Graph -> Graph, e.g. precision and pruning) is applied to the extracted IR.
    """
    timing = {"extract_s": 0.0}
    accelerator = load_accelerator(accel)
    extras = {}
    if device is not None:   # checked first: a bad device name fails before the model is traced
        extras["resources"] = estimate_resources(accelerator, device).to_dict()
    start = time.perf_counter()
    if isinstance(model, Graph):
        graph, name = model, model.model
    elif is_topology_file(model):
        graph, name = None, model
    else:
        from codesign.frontend import extract
        graph, name = extract(model, input_size=input_size, batch=batch), model
        timing["extract_s"] = time.perf_counter() - start
    start = time.perf_counter()
    if compress is not None:
        if graph is None:
            from accel_sim.errors import UserError
            raise UserError("--precision and --prune-* need a model, not a SCALE-Sim topology")
        graph = compress(graph)
    if graph is None:
        from accel_sim.mapper import map_workload
        from accel_sim.scalesim_io import read_topology
        if layer_dataflows:
            from accel_sim.errors import UserError
            raise UserError("per-layer dataflow overrides need a model, not a SCALE-Sim topology")
        sched = map_workload(read_topology(model), accelerator, dataflow=dataflow, mapping=mapping,
                             objective=objective)
    else:
        sched = schedule(graph, accelerator, dataflow, layer_dataflows, mapping, objective)
    timing["schedule_s"] = time.perf_counter() - start
    start = time.perf_counter()
    result = cost_schedule(sched)
    timing["simulate_s"] = time.perf_counter() - start
    return Simulation(name, accelerator, graph, result, {k: round(v, 6) for k, v in timing.items()},
                      extras)
