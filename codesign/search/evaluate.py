"""One design point -> one metrics row: hardware metrics (torch-free, what workers run), fidelity, feasibility.

Workers get the Workload of a compression choice, never the Graph, so hardware points import no torch.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

from accel_sim.config import Accelerator
from accel_sim.devices import RESOURCE_ORDER
from accel_sim.engine import simulate_workload
from accel_sim.errors import UserError
from accel_sim.resources import estimate_resources, resource_inputs
from accel_sim.workload import Workload
from codesign.boundary.figures import figure_problem
from codesign.search.knobs import build_accelerator
from codesign.search.metrics import DEVICE_COLUMNS, FIDELITY_COLUMNS, HARDWARE_METRICS
from codesign.hashing import canonical_json, content_hash
from codesign.search.point import SpacePoint
from codesign.search.schema import CompressionChoice, FidelitySpec, ModelSpec

_MEMO_LIMIT = 20_000
_accelerators: dict = {}     # per worker process: hardware values -> Accelerator
_resources: dict = {}        # (what resources depend on, device) -> resource columns


def hardware_metrics(workload: Workload, accel: Accelerator, device: str | None) -> dict:
    """Latency, energy, traffic (and resources on `device`); {"error": ...} if it cannot run."""
    out: dict = {}
    try:
        sim = simulate_workload(workload, accel)
        totals = sim.totals          # summed once (each SimResult property would sum again)
        energy_mj = totals.energy_pj * 1e-9
        out = {"latency_ms": sim.latency_ms, "fps": sim.fps, "energy_mj": energy_mj,
               "edp_mj_ms": energy_mj * sim.latency_ms, "cycles": sim.cycles,
               "dram_bytes": float(totals.dram_bytes), "utilization": sim.utilization}
    except UserError as err:
        out = {"error": str(err)}
    problem = figure_problem(out)
    if problem:      # never a row with NaN or negative figures: it would reach the front
        out = {"error": f"out of range: {problem}"}
    if device is not None:
        out.update(resource_columns(accel, device))
    return out


def resource_columns(accel: Accelerator, device: str) -> dict:
    est = estimate_resources(accel, device)
    util = est.to_dict()["utilization"]
    out = {"fits": est.fits, "first_overflow": est.first_overflow}
    for r in RESOURCE_ORDER:
        out[f"{r}_used"] = int(est.used[r])
        out[f"{r}_util"] = util[r]
    return out


def _memo(store: dict, key, make):
    if key not in store:
        if len(store) >= _MEMO_LIMIT:
            store.clear()
        store[key] = make()
    return store[key]


@dataclass(frozen=True)
class SimTask:
    """Hardware points sharing one compression choice (so one workload)."""
    workload: Workload
    bases: tuple[tuple[str, Accelerator], ...]
    scale_ports: bool
    items: tuple[tuple[str, dict], ...]     # (point hash, hardware values incl. base and device)


def run_sim_task(task: SimTask) -> list[tuple[str, dict]]:
    """Worker entry point: (point hash, hardware metrics) for every item."""
    bases = dict(task.bases)
    base_ids = {name: content_hash(acc.to_dict()) for name, acc in task.bases}   # workers outlive spaces
    out = []
    for key, values in task.items:
        hw_key = canonical_json({k: v for k, v in values.items() if k != "device"}) + base_ids[values["base"]]
        accel = _memo(_accelerators, (hw_key, task.scale_ports),
                      lambda: build_accelerator(bases[values["base"]], values, task.scale_ports))
        device = values.get("device")
        metrics = hardware_metrics(task.workload, accel, None)
        if device is not None:
            metrics.update(_memo(_resources, (resource_inputs(accel), device),
                                 lambda: resource_columns(accel, device)))
        out.append((key, metrics))
    return out


@dataclass(frozen=True)
class FidelityTask:
    model: ModelSpec
    fidelity: FidelitySpec
    choice: CompressionChoice
    graph: object              # codesign.ir.Graph, uncompressed (saves the worker an extraction)


def run_fidelity_task(task: FidelityTask) -> tuple[str, dict]:
    """Worker entry point (imports torch): (compression key, fidelity columns)."""
    return task.choice.key, measure_fidelity(task.model, task.fidelity, task.choice, task.graph)


def measure_fidelity(model: ModelSpec, spec: FidelitySpec, choice: CompressionChoice, graph) -> dict:
    from codesign.fidelity import evaluate

    res = evaluate(model.name, choice.policy, choice.plan, input_size=graph.input_shape[1:],
                   checkpoint=spec.checkpoint, dataset=spec.dataset, calibration=spec.calibration,
                   samples=spec.samples, seed=spec.seed, evaluator=spec.evaluator,
                   finetune=spec.finetune if choice.finetune is None else choice.finetune,
                   graph=graph)
    low, high = res.top1_ci95 if res.metric == "top1" else (None, None)
    return {"fidelity": res.score, "fidelity_low": low, "fidelity_high": high, "fidelity_metric": res.metric,
            "fidelity_cosine": res.cosine_similarity, "fidelity_agreement": res.top1_agreement}


def build_workload(graph, choice: CompressionChoice) -> Workload:
    """The compression (pruning, then precision), then the mapping onto engine layers (the
    dataflow is the accelerator's)."""
    from codesign.scheduler import lower
    from codesign.transforms import Compression, PolicyWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PolicyWarning)
        graph = Compression(choice.policy, choice.plan).apply(graph)
    return lower(graph)


# --- rows ------------------------------------------------------------------------------------

def _context_columns(space) -> dict:
    """What a row needs besides its knobs to name its design point (codesign/search/row_design.py),
    where the space differs from the defaults: the model's input size and batch, unscaled ports."""
    out = {}
    if space.model.input_size:
        out["input_size"] = ",".join(str(v) for v in space.model.input_size)
    if space.model.batch != 1:
        out["batch"] = space.model.batch
    if not space.scale_ports:
        out["scale_ports"] = False
    return out


def result_columns(space) -> list[str]:
    """Every column of a results row for `space`, in order."""
    cols = ["hash", "model", *_context_columns(space), *(k.name for k in space.knobs)]
    if space.has_compression:
        cols += ["precision", "prune_heads"]
    cols += list(HARDWARE_METRICS)
    if space.has_device:
        cols += list(DEVICE_COLUMNS)
    if space.measures_fidelity:
        cols += list(FIDELITY_COLUMNS)
    return cols + ["feasible", "violation", "error", "objectives"]


def make_row(space, point: SpacePoint, choice: CompressionChoice, hw: dict, fid: dict | None) -> dict:
    """The results row of `point`: knobs, metrics, and whether it meets the space's constraints.
    `fid` None with a space that measures fidelity: not measured (the point already fails in hardware)."""
    row = {"hash": point.key, "model": space.model.name, **_context_columns(space), **point.as_dict()}
    if space.has_compression:
        row["precision"], row["prune_heads"] = choice.precision_spec, choice.heads_spec
    row.update({name: hw.get(name) for name in HARDWARE_METRICS})
    if space.has_device:
        row.update({name: hw.get(name) for name in DEVICE_COLUMNS})
    if space.measures_fidelity:
        row.update({name: (fid or {}).get(name) for name in FIDELITY_COLUMNS})
    row["error"] = hw.get("error")
    return with_feasibility(space, row)


def with_feasibility(space, row: dict) -> dict:
    """`row` with feasible, violation (sum of the amounts by which constraints are missed) and objectives."""
    violations = space.constraints.violations(row)
    unmeasured = space.measures_fidelity and row.get("fidelity") is None and not row.get("error")
    row["feasible"] = bool(all(v <= 0 for v in violations) and not unmeasured)
    row["violation"] = float(sum(v for v in violations if v > 0))
    row["objectives"] = ",".join(space.objectives)
    return row


class Evaluator:
    """Evaluates points in this process, memoised: workloads and fidelity by compression choice
    (fidelity also on disk, by the fidelity module), rows by point hash."""

    def __init__(self, space, graph):
        self.space, self.graph = space, graph
        self._workloads: dict[str, Workload] = {}
        self._fidelity: dict[str, dict] = {}
        self.rows: dict[str, dict] = {}
        self.simulations = 0

    def workload(self, choice: CompressionChoice) -> Workload:
        return _memo(self._workloads, choice.key, lambda: build_workload(self.graph, choice))

    def fidelity(self, choice: CompressionChoice) -> dict:
        return _memo(self._fidelity, choice.key,
                     lambda: measure_fidelity(self.space.model, self.space.fidelity, choice, self.graph))

    def hardware(self, point: SpacePoint) -> tuple[CompressionChoice, dict]:
        choice = self.space.compression_of(point)
        values = self.space.hardware_values(point)
        self.simulations += 1
        return choice, hardware_metrics(self.workload(choice), self.space.accelerator_of(point), values.get("device"))

    def row(self, point: SpacePoint, lazy_fidelity: bool = False) -> dict:
        """The point's row. With `lazy_fidelity`, fidelity is not measured for a point that already
        violates a hardware-side constraint (it is infeasible whatever its fidelity)."""
        if point.key in self.rows:
            return self.rows[point.key]
        choice, hw = self.hardware(point)
        fid = None
        if self.space.measures_fidelity and not hw.get("error"):
            probe = make_row(self.space, point, choice, hw, None)
            if not (lazy_fidelity and self.space.constraints.hardware_violated(probe)):
                fid = self.fidelity(choice)
        row = make_row(self.space, point, choice, hw, fid)
        self.rows[point.key] = row
        return row
