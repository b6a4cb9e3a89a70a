"""What a design point is measured by: the metric table, objectives (min or max) and constraints.

Constraint values follow Optuna's convention: <= 0 is satisfied, > 0 says by how much it is violated.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from accel_sim.devices import RESOURCE_ORDER
from accel_sim.errors import UserError

MINIMIZE, MAXIMIZE = "minimize", "maximize"
ERROR_VIOLATION = 1e6          # a point that could not be simulated violates everything by this much


@dataclass(frozen=True)
class Metric:
    name: str
    direction: str             # which way is better, when it is an objective
    needs: str | None          # "device" (resource estimate) or "fidelity" (torch measurement)
    what: str


METRICS = {m.name: m for m in [
    Metric("latency_ms", MINIMIZE, None, "time for one inference"),
    Metric("fps", MAXIMIZE, None, "inferences per second"),
    Metric("energy_mj", MINIMIZE, None, "energy per inference"),
    Metric("edp_mj_ms", MINIMIZE, None, "energy-delay product"),
    Metric("cycles", MINIMIZE, None, "clock cycles per inference"),
    Metric("dram_bytes", MINIMIZE, None, "off-chip traffic per inference"),
    Metric("utilization", MAXIMIZE, None, "MACs done / MACs the arrays could do"),
    *[Metric(f"{r}_util", MINIMIZE, "device", f"{r} used / available on the device") for r in RESOURCE_ORDER],
    Metric("fidelity", MAXIMIZE, "fidelity", "top-1 accuracy on the test split (or your evaluator, or the "
                                              "cosine proxy when asked for)"),
]}
HARDWARE_METRICS = ("latency_ms", "fps", "energy_mj", "edp_mj_ms", "cycles", "dram_bytes", "utilization")
DEVICE_COLUMNS = ("fits", "first_overflow", *[f"{r}_{s}" for r in RESOURCE_ORDER for s in ("used", "util")])
FIDELITY_COLUMNS = ("fidelity", "fidelity_low", "fidelity_high", "fidelity_metric", "fidelity_cosine",
                    "fidelity_agreement")


def metric(name: str, what: str) -> Metric:
    if name not in METRICS:
        raise UserError(f"unknown {what} {name!r}; allowed: {', '.join(METRICS)}")
    return METRICS[name]


@dataclass(frozen=True)
class Bound:
    """`metric` >= minimum and/or <= maximum."""
    metric: str
    minimum: float | None = None
    maximum: float | None = None

    def violation(self, value) -> float | None:
        """> 0 when violated, relative to the bound; None when the value is unknown."""
        if value is None:
            return None
        worst = -math.inf
        if self.minimum is not None:
            worst = max(worst, (self.minimum - value) / (abs(self.minimum) or 1.0))
        if self.maximum is not None:
            worst = max(worst, (value - self.maximum) / (abs(self.maximum) or 1.0))
        return float(worst)

    def describe(self) -> str:
        parts = []
        if self.minimum is not None:
            parts.append(f"{self.metric} >= {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"{self.metric} <= {self.maximum:g}")
        return " and ".join(parts)


@dataclass(frozen=True)
class Constraints:
    """The point must simulate, fit the device (when `fits_device`) and meet every bound."""
    fits_device: bool = False
    bounds: tuple[Bound, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """One name per constraint value, in the order of `violations`."""
        return ("simulates", *(("fits_device",) if self.fits_device else ()), *(b.metric for b in self.bounds))

    def violations(self, row: dict, skip_fidelity: bool = False) -> list[float]:
        """One value per constraint (<= 0: met). Unknown values (fidelity not measured) count as met."""
        if row.get("error"):
            return [ERROR_VIOLATION] * len(self.names)
        out = [-1.0]
        if self.fits_device:
            utils = [row.get(f"{r}_util") for r in RESOURCE_ORDER]
            out.append(max(ERROR_VIOLATION if u is None else u for u in utils) - 1.0)
        for bound in self.bounds:
            value = None if (skip_fidelity and bound.metric == "fidelity") else row.get(bound.metric)
            v = bound.violation(value)
            out.append(-1.0 if v is None else v)
        return out

    def hardware_violated(self, row: dict) -> bool:
        """Whether a constraint that needs no fidelity measurement is already violated."""
        return any(v > 0 for v in self.violations(row, skip_fidelity=True))

    def describe(self) -> str:
        parts = ["fits the device"] if self.fits_device else []
        parts += [b.describe() for b in self.bounds]
        return ", ".join(parts) or "none"


def objective_value(row: dict, name: str) -> float:
    """The row's value of objective `name`, or the worst possible one when it is unknown."""
    value = row.get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 1e30 if METRICS[name].direction == MINIMIZE else -1e30
    return float(value)
