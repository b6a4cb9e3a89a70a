"""The Schedule: how every layer of a Workload runs on an Accelerator - the one source of tiles.
The mapper builds it, the engine costs it, HLS emission reads its tiles; `layer_dicts` says why.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from accel_sim import cost_model as cm
from accel_sim.config import Accelerator
from accel_sim.energy import LUT_MAC_ENERGY_X, RF_ACCESSES_PER_MAC
from accel_sim.workload import Workload


def unique_rows(records: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the first of each distinct record and, per record, which distinct one it is."""
    raw = np.ascontiguousarray(records).view(np.dtype((np.void, records.dtype.itemsize)))
    _, first, inverse = np.unique(raw, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


@dataclass(frozen=True, eq=False)
class Schedule:
    """Per layer: dataflow and array, the residency context (LAYER records: input on chip, output
    kept on chip, weights preloaded, whole-row output tiles, fused vector cycles), the tiling
    (tm, tn, tk and loop order; one tile per buffer, double-buffered halves where the buffer is),
    and which ops were fused into which producer or folded into its weights."""
    workload: Workload
    accelerator: Accelerator
    mapping: str                     # "searched" or "scalesim"
    objective: str                   # "latency", "energy" or "edp"
    dataflows: tuple[str, ...]       # "ws", "os", "is", "rs", or "vector"
    arrays: tuple[str, ...]          # "pe", "lut" or "vector"
    layers: np.ndarray               # cost_model.LAYER_DTYPE, one per layer
    tilings: np.ndarray              # cost_model.TILING_DTYPE, one per layer (zeros for vector layers)
    hw: np.ndarray                   # cost_model.HW_DTYPE, one record
    fused_into: np.ndarray           # index of the producer a vector op is fused into, -1 if none
    folded: np.ndarray               # BatchNorm folded into its producer's weights
    array_pes: np.ndarray            # PEs of the array each layer runs on

    def __len__(self) -> int:
        return len(self.workload)

    @cached_property
    def layer_groups(self) -> tuple[np.ndarray, np.ndarray]:
        """Index of the first layer of each distinct LAYER record and, per layer, which one it is."""
        return unique_rows(self.layers)

    @cached_property
    def layer_figures(self) -> dict:
        """Per layer, what its tiling does not change: MACs, ideal cycles (MACs over the array's
        peak; a vector layer's vector-unit cycles), peak MACs per cycle, and MAC, register and
        vector-unit energy. All zero for a BatchNorm folded away; ideal cycles zero for a fused op."""
        rec, accel, wl = self.layers, self.accelerator, self.workload
        is_vec, keep = rec["vector"], ~self.folded
        e, ob = accel.energy, accel.pe_array.operand_bits
        macs = np.where(is_vec, 0, rec["m"] * rec["n"] * rec["k"] * rec["batch"])
        lanes, passes, pes = rec["lanes"], rec["passes"], self.array_pes
        ideal = np.where(is_vec, rec["vec_cycles"] * rec["batch"], -(-(macs * passes) // (pes * lanes)))
        ideal = np.where(rec["fused"] & ~self.folded, 0, ideal).astype(np.int64)
        on_lut = np.asarray(self.arrays) == "lut"
        cpe = np.asarray(accel.vector_unit.cycles_per_element.as_tuple())
        rf_per_mac = RF_ACCESSES_PER_MAC[np.maximum(rec["df"], 0)] * ~is_vec
        out = {
            "macs": macs, "ideal_cycles": ideal,
            "mac_pj": macs * e.mac_energy_pj(rec["b_bits"], rec["a_bits"], ob) * np.where(on_lut, LUT_MAC_ENERGY_X, 1.0),
            "rf_pj": macs * rf_per_mac * e.rf_access_pj * rec["a_bits"] / ob,
            "vector_pj": np.where(is_vec, wl.vec_elems * cpe[np.maximum(wl.vec_family, 0)] * e.vector_op_pj, 0.0),
        }
        out = {k: np.where(keep, v, 0).astype(v.dtype) for k, v in out.items()}
        out["peak_macs_per_cycle"] = pes * lanes / passes
        for value in out.values():
            value.flags.writeable = False
        return out

    def tile(self, i: int) -> dict:
        """Layer i's tiling: tile sizes clipped to its dimensions, trips and loop order."""
        r, t = self.layers[i], self.tilings[i]
        if r["vector"]:
            return {}
        dims = (int(r["m"]), int(r["n"]), int(r["k"]))
        tiles = tuple(min(int(x), d) for x, d in zip((t["tm"], t["tn"], t["tk"]), dims))
        return {"tile_m": tiles[0], "tile_n": tiles[1], "tile_k": tiles[2],
                "trips": tuple(-(-d // x) for d, x in zip(dims, tiles)),
                "loop_order": cm.ORDER_NAMES[int(t["order"])]}

    def fold_grid(self) -> tuple[np.ndarray, np.ndarray]:
        """Per layer: row and column folds of the whole layer under its dataflow (0 for vector layers)."""
        import dataflows

        rec = self.layers
        rows_out, cols_out = np.zeros(len(self), dtype=np.int64), np.zeros(len(self), dtype=np.int64)
        rf = self.accelerator.register_file
        spads = rf.spad_words() if rf else (0, 0, 0)
        groups = {(int(d), int(r), int(c)) for d, r, c in zip(rec["df"], rec["rows"], rec["cols"]) if d >= 0}
        for code, rows, cols in sorted(groups):
            sel = np.flatnonzero((rec["df"] == code) & (rec["rows"] == rows) & (rec["cols"] == cols))
            plan = dataflows.plan(dataflows.Dataflow.from_code(code), self.workload.dims(sel),
                                  dataflows.ArrayShape(rows, cols, *spads))
            rows_out[sel], cols_out[sel] = plan.row_folds, plan.col_folds
        return rows_out, cols_out

    def compulsory_bytes(self) -> np.ndarray:
        """Per layer: weights + inputs + outputs crossing DRAM once, given what stays on chip."""
        r = self.layers
        a_elems = r["a_elems"].astype(np.float64)
        # a conv needs only the input rows its outputs touch: a stride above the kernel skips rows
        rows = np.minimum(r["oh"] * r["kh"], (r["oh"] - 1) * r["stride"] + r["kh"])
        touched = r["k"] / np.maximum(r["kh"] * r["kw"], 1) * rows * r["iw"]
        a_elems = np.where(r["conv"], np.minimum(a_elems, touched), a_elems)
        a = np.where(r["a_on_chip"], 0.0, a_elems * r["a_bits"] / 8.0) + r["extra_read_bytes"]
        b = np.where(r["b_preloaded"], 0.0, r["b_elems"] * np.where(r["vector"], r["a_bits"], r["b_bits"]) / 8.0)
        o = np.where(r["o_on_chip"], 0.0, r["o_elems"] * r["o_bits"] / 8.0) + r["chain_write_bytes"]
        out = r["batch"] * (a + b + o)
        return np.where(r["fused"], 0.0, out)       # a fused or folded op's traffic is its producer's

    def layer_dicts(self) -> list[dict]:
        """What the mapper chose for each layer, for reports and JSON."""
        names = self.workload.names
        fused_ops: dict[int, list[str]] = {}
        for i, head in enumerate(self.fused_into):
            if head >= 0:
                fused_ops.setdefault(int(head), []).append(names[i])
        compulsory = self.compulsory_bytes()
        row_folds, col_folds = self.fold_grid()
        out = []
        for i in range(len(self)):
            r = self.layers[i]
            row = {"tile_m": None, "tile_n": None, "tile_k": None, "loop_order": None}
            tile = self.tile(i)
            if tile:
                row.update({k: tile[k] for k in ("tile_m", "tile_n", "tile_k", "loop_order")})
            head = int(self.fused_into[i])
            row.update({
                "fused_into": names[head] if head >= 0 else None,
                "folded": bool(self.folded[i]),
                "fused_ops": fused_ops.get(i, []),
                "input_on_chip": bool(r["a_on_chip"]),
                "output_on_chip": bool(r["o_on_chip"]),
                "weights_preloaded": bool(r["b_preloaded"]),
                "compulsory_dram_bytes": float(compulsory[i]),
                "row_folds": int(row_folds[i]), "col_folds": int(col_folds[i]),
            })
            out.append(row)
        return out
