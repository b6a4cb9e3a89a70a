"""A design point (codesign/design.py) simulated end to end: extraction, compression, mapping, cost,
resources and fidelity. Returns a `Simulation`: the design, its Graph, SimResult and typed results."""
from __future__ import annotations

import time
from dataclasses import dataclass, field, fields

from accel_sim.config import Accelerator
from accel_sim.engine import cost_schedule
from accel_sim.errors import UserError
from accel_sim.resources import ResourceEstimate, estimate_resources
from accel_sim.sim_result import SimResult
from codesign.design import DesignPoint
from codesign.ir import Graph
from codesign.scheduler import schedule
from codesign.transforms.compression import Compression


@dataclass(frozen=True)
class FidelityOptions:
    """How the compressed model's fidelity is measured (see `codesign.fidelity.evaluate`)."""
    checkpoint: str | None = None      # trained weights (default: a reference model's own, else seeded init)
    dataset: str | None = None         # labelled images: a folder of class subfolders or an .npz
    calibration: str | None = None     # images for ranges when there are no labels
    evaluator: str | None = None       # 'pkg.module:function' scoring (compressed, float) models
    finetune: int = 0                  # epochs of straight-through fine-tuning (needs labels)

    @classmethod
    def asked(cls, enabled: bool, spell=lambda name: name, **options) -> FidelityOptions | None:
        """The options when fidelity is `enabled`, else None; an option given without it is an
        error (it would be silently ignored). `spell` names an option as the caller's user typed it."""
        if not enabled:
            for f in fields(cls):
                if options.get(f.name) not in (None, f.default):
                    raise UserError(f"{spell(f.name)} has an effect only with {spell('fidelity')}; "
                                    f"add {spell('fidelity')} or drop {spell(f.name)}")
            return None
        return cls(**{k: v for k, v in options.items() if v is not None})


@dataclass(frozen=True, eq=False)
class Simulation:
    design: DesignPoint
    graph: Graph | None                  # None for a SCALE-Sim topology (no IR behind it)
    result: SimResult
    resources: ResourceEstimate | None = None     # when the design names a device
    fidelity: object = None              # codesign.fidelity.FidelityResult, when measured
    timing: dict = field(default_factory=dict)

    @property
    def model(self) -> str:
        return self.design.model

    @property
    def accelerator(self) -> Accelerator:
        return self.design.accelerator

    @property
    def compression(self) -> Compression:
        return self.design.compression

    def to_dict(self) -> dict:
        data = {"model": self.model, **self.result.to_dict()}
        data["input_shape"] = list(self.graph.input_shape) if self.graph else None
        data["compression"] = self.compression.to_dict()
        if self.resources is not None:
            data["resources"] = self.resources.to_dict()
        if self.fidelity is not None:
            data["fidelity"] = self.fidelity.to_dict()
        data["timing"] = dict(self.timing)
        return data


def is_topology_file(model: str) -> bool:
    return isinstance(model, str) and model.lower().endswith(".csv")


def simulate_design(design: DesignPoint, *, graph: Graph | None = None, fidelity: FidelityOptions | None = None,
                    verify_ir: bool | None = None) -> Simulation:
    """Simulate `design`: extract its model (or take `graph`, its uncompressed IR, or read it as a
    SCALE-Sim topology), compress it (the IR verified after each pass with `verify_ir`), map it
    (`design.mapping` for `design.objective`), cost it, estimate the resources on `design.device`,
    and with `fidelity` measure the compressed real model. Every figure is checked finite and in
    range before it is returned."""
    from codesign.boundary.figures import check_figures

    timing = {"extract_s": 0.0}
    accelerator, compression = design.accelerator, design.compression
    # checked first: a bad device name fails before the model is traced
    resources = estimate_resources(accelerator, design.device) if design.device is not None else None
    topology = graph is None and is_topology_file(design.model)
    if topology and (compression != Compression() or fidelity is not None):
        raise UserError("--precision, --prune-* and --fidelity need a model, not a SCALE-Sim topology")
    start = time.perf_counter()
    if graph is None and not topology:
        from codesign.frontend import extract
        graph = extract(design.model, input_size=design.input_size, batch=design.batch)
        timing["extract_s"] = time.perf_counter() - start
    start = time.perf_counter()
    if topology:
        from accel_sim.mapper import map_workload
        from accel_sim.scalesim_io import read_topology
        if design.layer_dataflows:
            raise UserError("per-layer dataflow overrides need a model, not a SCALE-Sim topology")
        sched = map_workload(read_topology(design.model), accelerator, dataflow=design.dataflow,
                             mapping=design.mapping, objective=design.objective)
    else:
        graph = compression.apply(graph, verify_ir)
        sched = schedule(graph, accelerator, design.dataflow, design.overrides, design.mapping, design.objective)
    timing["schedule_s"] = time.perf_counter() - start
    start = time.perf_counter()
    result = cost_schedule(sched)
    timing["simulate_s"] = time.perf_counter() - start
    check_figures(result.to_dict(), f"simulating {design.model} on {accelerator.name}")
    measured = None
    if fidelity is not None:
        from codesign.fidelity import evaluate
        from codesign.progress import step
        with step("measuring fidelity"):
            measured = evaluate(design.model, compression.precision, compression.pruning,
                                input_size=graph.input_shape[1:], checkpoint=fidelity.checkpoint,
                                dataset=fidelity.dataset, calibration=fidelity.calibration,
                                evaluator=fidelity.evaluator, finetune=fidelity.finetune)
    return Simulation(design, graph, result, resources, measured, {k: round(v, 6) for k, v in timing.items()})
