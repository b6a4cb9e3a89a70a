"""Simulation results as values that add: per-layer `Cost`s sum to the network's totals.
`SimResult` keeps one numpy column per quantity and derives latency, fps, energy and the roofline.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Cost:
    """Additive costs of one layer or of many (`a + b`, `sum(costs, Cost())`)."""
    macs: int = 0
    cycles: int = 0
    compute_cycles: int = 0          # the dataflow's cycles with no memory stall
    stall_cycles: int = 0            # cycles - compute_cycles: DRAM and buffer-port waits
    ideal_cycles: int = 0            # MACs / PEs (vector layers: their vector-unit cycles)
    dram_ifmap_bytes: float = 0.0
    dram_weight_bytes: float = 0.0   # B operand (an activation for QK^T and A.V)
    dram_ofmap_bytes: float = 0.0    # outputs written plus partial sums spilled and read back
    ifmap_buf_read_bytes: float = 0.0
    ifmap_buf_write_bytes: float = 0.0
    weight_buf_read_bytes: float = 0.0
    weight_buf_write_bytes: float = 0.0
    ofmap_buf_read_bytes: float = 0.0
    ofmap_buf_write_bytes: float = 0.0
    mac_pj: float = 0.0
    rf_pj: float = 0.0
    buffer_pj: float = 0.0
    dram_pj: float = 0.0
    vector_pj: float = 0.0

    def __add__(self, other: Cost) -> Cost:
        if not isinstance(other, Cost):
            return NotImplemented
        return Cost(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __radd__(self, other):
        return self if other == 0 else self.__add__(other)

    @property
    def dram_bytes(self) -> float:
        return self.dram_ifmap_bytes + self.dram_weight_bytes + self.dram_ofmap_bytes

    @property
    def energy_pj(self) -> float:
        return self.mac_pj + self.rf_pj + self.buffer_pj + self.dram_pj + self.vector_pj

    def to_dict(self) -> dict:
        out = {f.name: _plain(getattr(self, f.name)) for f in fields(self)}
        out["dram_bytes"] = _plain(self.dram_bytes)
        out["energy_pj"] = _plain(self.energy_pj)
        return out


COST_FIELDS = tuple(f.name for f in fields(Cost))


def _plain(value):
    if isinstance(value, (np.integer, int)):
        return int(value)
    return float(value)


@dataclass(frozen=True, eq=False)
class SimResult:
    """Per-layer results of one network on one accelerator, and the network totals."""
    accelerator: str
    clock_mhz: float
    pes: int
    dram_bytes_per_cycle: float
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    dataflows: tuple[str, ...]        # per layer; "vector" for vector-unit layers
    columns: dict                     # COST_FIELDS -> per-layer numpy arrays
    details: dict = dataclasses.field(default_factory=dict)  # per-layer mapping facts (not additive):
    # loop_order (an index into cost_model.ORDERS; -1 for vector layers); the schedule adds the rest
    arrays: tuple[str, ...] = ()      # per layer: "pe", "lut" (binary weights) or "vector"
    peak_macs_per_cycle: np.ndarray | None = None   # per layer: its array's PEs x MACs per PE per
    # cycle at its widths (vector layers: the PE array at its native width); None: `pes`
    schedule: object = None           # the accel_sim.schedule.Schedule that was costed

    def layer_peak_macs_per_cycle(self) -> np.ndarray:
        if self.peak_macs_per_cycle is None:
            return np.full(len(self), float(self.pes))
        return self.peak_macs_per_cycle

    def __len__(self) -> int:
        return len(self.names)

    def layer(self, i: int) -> Cost:
        return Cost(**{name: _plain(self.columns[name][i]) for name in COST_FIELDS})

    def layers(self) -> list[Cost]:
        return [self.layer(i) for i in range(len(self))]

    @cached_property
    def totals(self) -> Cost:
        add = np.add.reduce
        return Cost(**{name: _plain(add(self.columns[name])) for name in COST_FIELDS})

    # --- network figures -------------------------------------------------------------------
    @property
    def cycles(self) -> int:
        return self.totals.cycles

    @property
    def latency_ms(self) -> float:
        return self.cycles / (self.clock_mhz * 1e3)

    @property
    def fps(self) -> float:
        return 1e3 / self.latency_ms if self.cycles else float("inf")

    @property
    def energy_mj(self) -> float:
        return self.totals.energy_pj * 1e-9

    @property
    def dram_bytes(self) -> float:
        return self.totals.dram_bytes

    @property
    def utilization(self) -> float:
        """MACs done / MACs the arrays could have done in these cycles at each layer's widths."""
        capacity = float(np.dot(self.layer_peak_macs_per_cycle(), self.columns["cycles"]))
        return self.totals.macs / capacity if capacity else 0.0

    @property
    def compute_bound_cycles(self) -> float:
        return float(self.columns["ideal_cycles"].sum())

    @property
    def dram_bound_cycles(self) -> float:
        return self.dram_bytes / self.dram_bytes_per_cycle

    @property
    def roofline_cycles(self) -> float:
        """max(compute-bound, DRAM-bound) cycles with the DRAM bytes this schedule moves (re-fetches and
        spills included): a bound for this mapping, not for every mapping (better reuse can beat it)."""
        return max(self.compute_bound_cycles, self.dram_bound_cycles)

    @property
    def bound(self) -> str:
        return "memory" if self.dram_bound_cycles > self.compute_bound_cycles else "compute"

    def layer_utilization(self) -> np.ndarray:
        capacity = self.layer_peak_macs_per_cycle() * self.columns["cycles"]
        return np.divide(self.columns["macs"], capacity, out=np.zeros(len(self)), where=capacity > 0)

    def layer_dicts(self) -> list[dict]:
        util = self.layer_utilization()
        peak = self.layer_peak_macs_per_cycle()
        out = []
        for i in range(len(self)):
            row = {"name": self.names[i], "kind": self.kinds[i], "dataflow": self.dataflows[i],
                   "array": self.arrays[i] if self.arrays else ("vector" if self.dataflows[i] == "vector"
                                                                 else "pe")}
            row.update(self.layer(i).to_dict())
            row["utilization"] = float(util[i])
            row["peak_macs_per_cycle"] = float(peak[i])
            for key, values in self.details.items():
                row[key] = int(values[i])
            row["latency_ms"] = row["cycles"] / (self.clock_mhz * 1e3)
            out.append(row)
        if self.schedule is not None:
            for row, why in zip(out, self.schedule.layer_dicts()):
                row.update(why)
        return out

    def to_dict(self) -> dict:
        totals = self.totals
        summary = {"cycles": self.cycles, "compute_cycles": totals.compute_cycles,
                   "stall_cycles": totals.stall_cycles, "latency_ms": self.latency_ms,
                   "fps": self.fps, "energy_mj": self.energy_mj, "dram_bytes": self.dram_bytes,
                   "utilization": self.utilization, "macs": totals.macs,
                   "energy_pj": {k: _plain(getattr(totals, k)) for k in
                                 ("mac_pj", "rf_pj", "buffer_pj", "dram_pj", "vector_pj")},
                   "roofline": {"compute_bound_cycles": self.compute_bound_cycles,
                                "dram_bound_cycles": self.dram_bound_cycles,
                                "roofline_cycles": self.roofline_cycles, "bound": self.bound}}
        out = {"accelerator": self.accelerator, "clock_mhz": self.clock_mhz, "pes": self.pes}
        if self.schedule is not None:
            out["mapping"] = {"name": self.schedule.mapping, "objective": self.schedule.objective}
            summary["compulsory_dram_bytes"] = float(self.schedule.compulsory_bytes().sum())
        return {**out, "totals": summary, "layers": self.layer_dicts()}

    def replace(self, **changes) -> SimResult:
        return dataclasses.replace(self, **changes)
