"""The simulation engine: lowers a Workload onto an Accelerator and runs the tile pipeline.
Plain-Python `simulate` validates and prepares arrays; one numba kernel call does every layer.
"""
# Memory model (per layer, per batch element). The dataflow's folds form a grid; they run either
# column-fold-major (SCALE-Sim's order) or row-fold-major, whichever moves fewer DRAM bytes. The
# operand that depends only on the outer fold index is loaded one panel per outer step and kept
# while the inner folds reuse it; the operand that depends only on the inner index is streamed
# again at every outer step; the pinned operand is loaded once. A buffer keeps what fits of an
# operand (half of it when double-buffered) and re-fetches only the excess (`_excess`). Partial
# sums that do not fit the output buffer spill to DRAM and are read back. There is no tiling of
# the temporal dimension beyond the dataflow's folds.
# Timing: every outer step is cut into equal tiles small enough for the buffers' fill halves; the
# tiles run as a three-stage pipeline (load tile i+1 | compute tile i | write back tile i-1) over
# one DRAM channel, so a tile takes max(compute, DRAM time of the overlapped transfers). Loads into
# a single-buffered buffer cannot overlap and are added in series. The first load and the last
# write are exposed. Compute per tile is the dataflow's fold time, or the buffer ports' time when
# they cannot feed the array. Layers do not overlap each other, so per-layer cycles add up.
# Operand width: a layer's fold work (folds x cycles per fold, from the dataflow) is divided by
# the MACs one PE does per cycle at the layer's widths (`PEArray.rate`, rule in packing.py), i.e.
# multiplied by its passes and divided by its packed lanes, rounded up once per layer. Layers
# with a binary B operand run on the LUT array when the accelerator has one (same dataflow and
# timing on that array's shape); otherwise on the PE array like any other width. Packed lanes
# shorten compute, not operand delivery: the buffer ports and DRAM are shared, so an array with
# few PEs and many lanes per PE re-reads operands more and can be port- or DRAM-bound.
from __future__ import annotations

import math

import numpy as np

import dataflows
from accel_sim.config import Accelerator, load_accelerator, parse_dataflow
from accel_sim.energy import LUT_MAC_ENERGY_X
from accel_sim.errors import UserError
from accel_sim.numba_config import njit
from accel_sim.results import SimResult
from accel_sim.workload import Workload
from dataflows import Dataflow

IFMAP, WEIGHT, OFMAP = 0, 1, 2


@njit
def _excess(size, cap):
    return size - cap if size > cap else 0.0


@njit
def _step_traffic(is_vec, x, n_outer, n_inner, outer_op, inner_op, pin_op, size, acc_bytes, cap, out):
    """Bytes of outer step `x`: out[0..2] loaded into ifmap/weight/ofmap buffers, out[3] written."""
    out[0] = 0.0
    out[1] = 0.0
    out[2] = 0.0
    out[3] = 0.0
    if is_vec:
        out[IFMAP] = size[IFMAP]
        out[WEIGHT] = size[WEIGHT]
        out[3] = size[OFMAP]
        return
    if pin_op == OFMAP:
        out[3] += size[OFMAP] / n_outer
    else:
        out[pin_op] += size[pin_op] / n_outer
    if outer_op == OFMAP:       # psum panel of this step, accumulated over the inner folds
        spill = _excess(acc_bytes / n_outer, cap[OFMAP])
        out[3] += size[OFMAP] / n_outer + (n_inner - 1) * spill
        out[OFMAP] += (n_inner - 1) * spill
    else:                       # a panel reused by all inner folds of this step
        panel = size[outer_op] / n_outer
        out[outer_op] += panel + (n_inner - 1) * _excess(panel, cap[outer_op])
    if inner_op == OFMAP:       # psums of all outputs live across the outer steps
        spill = _excess(acc_bytes, cap[OFMAP])
        out[3] += size[OFMAP] if x == n_outer - 1 else spill
        if x > 0:
            out[OFMAP] += spill
    elif x == 0:
        out[inner_op] += size[inner_op]
    else:                       # streamed again: only what the buffer could not keep
        out[inner_op] += _excess(size[inner_op], cap[inner_op])


@njit
def _order_bytes(n_outer, n_inner, outer_op, inner_op, pin_op, size, acc_bytes, cap, tmp):
    """DRAM bytes of one batch element in this fold order (middle steps are all alike)."""
    _step_traffic(False, 0, n_outer, n_inner, outer_op, inner_op, pin_op, size, acc_bytes, cap, tmp)
    total = tmp.sum()
    if n_outer > 1:
        _step_traffic(False, n_outer - 1, n_outer, n_inner, outer_op, inner_op, pin_op, size,
                      acc_bytes, cap, tmp)
        total += tmp.sum()
    if n_outer > 2:
        _step_traffic(False, 1, n_outer, n_inner, outer_op, inner_op, pin_op, size, acc_bytes, cap, tmp)
        total += (n_outer - 2) * tmp.sum()
    return total


@njit
def _tiles(traffic, step_compute, fill, double, tile):
    """Cut a step into n equal tiles that fit the fill halves; tile = (n, compute, Ldb, Lsb, Wdb, Wsb)."""
    n = 1.0
    for b in range(3):   # the tolerance keeps float noise at an exact multiple from adding a tile
        c = math.ceil(traffic[b] / fill[b] - 1e-9)
        if c > n:
            n = c
    c = math.ceil(traffic[3] / fill[OFMAP] - 1e-9)
    if c > n:
        n = c
    l_db = 0.0
    l_sb = 0.0
    for b in range(3):
        if double[b]:
            l_db += traffic[b]
        else:
            l_sb += traffic[b]
    tile[0] = n
    tile[1] = step_compute / n
    tile[2] = l_db / n
    tile[3] = l_sb / n
    tile[4] = traffic[3] / n if double[OFMAP] else 0.0
    tile[5] = 0.0 if double[OFMAP] else traffic[3] / n


@njit
def _layer_cycles(is_vec, batch, n_outer, n_inner, outer_op, inner_op, pin_op, size, acc_bytes,
                  step_compute, cap, fill, double, bpc, traffic, cur, nxt, dram):
    """Pipeline time of one layer; adds its DRAM bytes per stream into `dram`."""
    steps = batch * n_outer
    _step_traffic(is_vec, 0, n_outer, n_inner, outer_op, inner_op, pin_op, size, acc_bytes, cap, traffic)
    dram += traffic
    _tiles(traffic, step_compute, fill, double, cur)
    t = cur[2] / bpc            # prologue: the first tile's load is exposed
    prev_write = 0.0
    for s in range(steps):
        next_load = 0.0
        if s + 1 < steps:
            _step_traffic(is_vec, (s + 1) % n_outer, n_outer, n_inner, outer_op, inner_op, pin_op,
                          size, acc_bytes, cap, traffic)
            dram += traffic
            _tiles(traffic, step_compute, fill, double, nxt)
            next_load = nxt[2]
        n, comp, l_db, l_sb, w_db, w_sb = cur[0], cur[1], cur[2], cur[3], cur[4], cur[5]
        if n == 1.0:
            t += max(comp, (next_load + prev_write) / bpc)
        else:
            t += max(comp, (l_db + prev_write) / bpc)
            t += (n - 2.0) * max(comp, (l_db + w_db) / bpc)
            t += max(comp, (next_load + w_db) / bpc)
        t += n * (l_sb + w_sb) / bpc
        prev_write = w_db
        cur[:] = nxt
    return t + prev_write / bpc   # epilogue: the last write-back is exposed


@njit
def simulate_kernel(is_vec, batch, row_folds, col_folds, compute, port, row_op, col_op, pin_op,
                    a_bytes, b_bytes, o_bytes, acc_bytes, cap, fill, double, bpc,
                    out_cycles, out_dram, out_order):
    """Every layer at once. Per batch element: `compute` and `port` cycles, operand bytes.
    Outputs: cycles, DRAM bytes (ifmap, weight, ofmap psum reads, ofmap writes), fold order."""
    size = np.empty(3)
    traffic = np.empty(4)
    cur = np.empty(6)
    nxt = np.zeros(6)
    dram = np.empty(4)
    for u in range(len(batch)):
        size[IFMAP] = a_bytes[u]
        size[WEIGHT] = b_bytes[u]
        size[OFMAP] = o_bytes[u]
        busy = max(compute[u], port[u])
        order = 0
        if is_vec[u]:
            n_outer, n_inner, outer, inner = 1, 1, IFMAP, IFMAP
        else:
            fr, fc = row_folds[u], col_folds[u]
            by_col = _order_bytes(fc, fr, col_op[u], row_op[u], pin_op[u], size, acc_bytes[u], cap, traffic)
            by_row = _order_bytes(fr, fc, row_op[u], col_op[u], pin_op[u], size, acc_bytes[u], cap, traffic)
            if by_row < by_col * (1.0 - 1e-12):
                order = 1
                n_outer, n_inner, outer, inner = fr, fc, row_op[u], col_op[u]
            else:
                n_outer, n_inner, outer, inner = fc, fr, col_op[u], row_op[u]
        dram[:] = 0.0
        nxt[:] = 0.0
        out_cycles[u] = _layer_cycles(is_vec[u], batch[u], n_outer, n_inner, outer, inner, pin_op[u],
                                      size, acc_bytes[u], busy / n_outer, cap, fill, double, bpc,
                                      traffic, cur, nxt, dram)
        out_dram[u, :] = dram
        out_order[u] = order


# --- the validating wrapper -------------------------------------------------------------------
def _dataflow_codes(workload: Workload, accel: Accelerator, override, per_layer) -> np.ndarray:
    default = parse_dataflow(override, "dataflow") if override is not None else accel.pe_array.dataflow
    codes = np.full(len(workload), default.code, dtype=np.int64)
    if per_layer is not None:
        per_layer = list(per_layer)
        if len(per_layer) != len(workload):
            raise UserError(f"layer_dataflows has {len(per_layer)} entries for {len(workload)} layers")
        for i, df in enumerate(per_layer):
            if df is not None:
                codes[i] = parse_dataflow(df, f"dataflow of layer {workload.names[i]!r}").code
    codes[workload.is_vector] = -1
    return codes


def _unique_rows(workload: Workload, codes: np.ndarray):
    """First index of each distinct layer (dataflow included) and the map back to all layers."""
    keys = np.ascontiguousarray(np.column_stack([workload.key_matrix, codes]))
    seen: dict[bytes, int] = {}
    index: list[int] = []
    inverse = np.empty(len(workload), dtype=np.int64)
    for i, row in enumerate(keys):
        j = seen.setdefault(row.tobytes(), len(index))
        if j == len(index):
            index.append(i)
        inverse[i] = j
    return np.array(index, dtype=np.int64), inverse


def _plan_rows(workload: Workload, idx: np.ndarray, codes: np.ndarray, on_lut: np.ndarray,
               accel: Accelerator) -> dict:
    """Fold plans of the unique array rows (on the PE or LUT array), as flat arrays (vector rows 0)."""
    count = len(idx)
    cols = {name: np.zeros(count, dtype=np.int64) for name in (
        "row_folds", "col_folds", "fold_cycles", "row_op", "col_op", "pin_op", "ifmap_reads",
        "weight_reads", "ofmap_writes", "ofmap_reads", "min_ifmap", "min_weight", "min_ofmap")}
    cols["rf_per_mac"] = np.zeros(count)
    groups = [(int(code), bool(lut)) for code, lut in {(c, l) for c, l in zip(codes, on_lut) if c >= 0}]
    for code, lut in sorted(groups):
        df = Dataflow.from_code(code)
        if df is Dataflow.RS and accel.register_file is None:
            raise UserError(f"dataflow rs needs per-PE scratchpads: accelerator {accel.name!r} "
                            f"has no register_file")
        sel = np.flatnonzero((codes == code) & (on_lut == lut))
        plan = dataflows.plan(df, workload.dims(idx[sel]), accel.array_shape(lut=lut))
        for name, values in (("row_folds", plan.row_folds), ("col_folds", plan.col_folds),
                             ("fold_cycles", plan.fold_cycles), ("row_op", int(plan.row_operand)),
                             ("col_op", int(plan.col_operand)), ("pin_op", int(plan.pin_operand)),
                             ("ifmap_reads", plan.ifmap_reads), ("weight_reads", plan.weight_reads),
                             ("ofmap_writes", plan.ofmap_writes), ("ofmap_reads", plan.ofmap_reads),
                             ("min_ifmap", plan.min_ifmap_words), ("min_weight", plan.min_weight_words),
                             ("min_ofmap", plan.min_ofmap_words), ("rf_per_mac", plan.rf_accesses_per_mac)):
            cols[name][sel] = values
    return cols


def _rates(accel: Accelerator, is_vec, on_lut, b_bits, a_bits):
    """Per unique row: packed lanes and passes (MACs per PE per cycle = lanes / passes) and the
    PEs of the array it runs on. Vector rows get the PE array's native rate (for utilisation)."""
    pe_arr, lut = accel.pe_array, accel.lut_array
    native = pe_arr.rate(pe_arr.operand_bits, pe_arr.operand_bits)
    cache: dict = {}
    lanes, passes, pes = (np.empty(len(is_vec), dtype=np.int64) for _ in range(3))
    for i in range(len(is_vec)):
        key = (bool(is_vec[i]), bool(on_lut[i]), int(b_bits[i]), int(a_bits[i]))
        if key not in cache:
            if key[0]:
                rate, count = native, pe_arr.pes
            elif key[1]:
                rate, count = lut.rate(key[3]), lut.pes
            else:
                rate, count = pe_arr.rate(key[2], key[3]), pe_arr.pes
            cache[key] = (rate.numerator, rate.denominator, count)
        lanes[i], passes[i], pes[i] = cache[key]
    return lanes, passes, pes


def _check_tiles(workload, idx, codes, p, bits, accel: Accelerator) -> None:
    """A buffer must hold the smallest tile of every layer (in its fill half when double-buffered)."""
    pe = codes >= 0
    for name, words, nbits in (("ifmap", p["min_ifmap"], bits["a"]), ("weight", p["min_weight"], bits["b"]),
                               ("ofmap", p["min_ofmap"], bits["o_array"])):
        buf = getattr(accel.buffers, name)
        need = words * nbits / 8.0
        bad = np.flatnonzero(pe & (need > buf.fill_bytes))
        if len(bad):
            i = bad[0]
            half = " in half of the buffer (it is double_buffered)" if buf.double_buffered else ""
            want_kib = need[i] / 1024.0 * (2 if buf.double_buffered else 1)
            raise UserError(
                f"buffers.{name}.size_kib={buf.size_kib:g} is too small: layer "
                f"{workload.names[idx[i]]!r} under {Dataflow.from_code(codes[i]).value} needs a "
                f"{need[i]:.0f}-byte tile{half}; use size_kib >= {want_kib:.3g}")


def simulate(workload: Workload, accel, dataflow_override=None, layer_dataflows=None) -> SimResult:
    """Simulate `workload` on `accel` (an Accelerator, preset name or file).

    `dataflow_override` replaces the accelerator's dataflow for every layer; `layer_dataflows`
    (one entry per layer, None = default) overrides single layers.
    """
    accel = load_accelerator(accel)
    if not isinstance(workload, Workload):
        raise TypeError("simulate() takes a Workload; build one with Workload.from_layers(...)")
    all_codes = _dataflow_codes(workload, accel, dataflow_override, layer_dataflows)
    idx, inverse = _unique_rows(workload, all_codes)
    codes = all_codes[idx]
    pe_arr, bufs, vec, energy = accel.pe_array, accel.buffers, accel.vector_unit, accel.energy
    is_vec = codes < 0
    w_bits, a_bits = workload.w_bits[idx], workload.a_bits[idx]
    b_bits = np.where(workload.b_is_activation[idx], a_bits, w_bits)
    on_lut = ~is_vec & (b_bits == 1) & (accel.lut_array is not None)
    p = _plan_rows(workload, idx, codes, on_lut, accel)
    lanes, passes, array_pes = _rates(accel, is_vec, on_lut, b_bits, a_bits)

    acc_out = (p["col_op"] == OFMAP) & ~is_vec          # outputs accumulate in the buffer
    bits = {"a": a_bits, "b": b_bits, "o_array": np.where(acc_out, pe_arr.accum_bits, a_bits)}
    _check_tiles(workload, idx, codes, p, bits, accel)

    batch = workload.batch[idx]
    macs = workload.macs[idx]
    ob = pe_arr.operand_bits
    fold_work = -(-(p["row_folds"] * p["col_folds"] * p["fold_cycles"] * passes) // lanes)
    cpe = np.asarray(vec.cycles_per_element.as_tuple())
    fam = np.maximum(workload.vec_family[idx], 0)
    vec_elems = workload.vec_elems[idx]
    vec_cycles = np.ceil(-(-vec_elems // vec.lanes) * cpe[fam]).astype(np.int64)
    compute_per_batch = np.where(is_vec, vec_cycles, fold_work)

    a_bytes = workload.a_elems[idx] * a_bits / 8.0
    b_bytes = workload.b_elems[idx] * b_bits / 8.0
    o_bytes = workload.o_elems[idx] * a_bits / 8.0
    acc_bytes = workload.o_elems[idx] * pe_arr.accum_bits / 8.0
    arr_bytes = {  # buffer <-> array traffic per batch element
        "ifmap_read": np.where(is_vec, a_bytes, p["ifmap_reads"] * a_bits / 8.0),
        "weight_read": np.where(is_vec, b_bytes, p["weight_reads"] * b_bits / 8.0),
        "ofmap_write": np.where(is_vec, o_bytes, p["ofmap_writes"] * bits["o_array"] / 8.0),
        "ofmap_read": p["ofmap_reads"] * pe_arr.accum_bits / 8.0,
    }
    port = np.maximum.reduce([
        arr_bytes["ifmap_read"] * 8 / (bufs.ifmap.read_bw_words_per_cycle * bufs.ifmap.word_bits),
        arr_bytes["weight_read"] * 8 / (bufs.weight.read_bw_words_per_cycle * bufs.weight.word_bits),
        arr_bytes["ofmap_write"] * 8 / (bufs.ofmap.write_bw_words_per_cycle * bufs.ofmap.word_bits),
        arr_bytes["ofmap_read"] * 8 / (bufs.ofmap.read_bw_words_per_cycle * bufs.ofmap.word_bits)])

    buffers = (bufs.ifmap, bufs.weight, bufs.ofmap)
    count = len(idx)
    out_cycles = np.empty(count)
    out_dram = np.empty((count, 4))
    out_order = np.empty(count, dtype=np.int64)
    simulate_kernel(is_vec, np.ascontiguousarray(batch), p["row_folds"], p["col_folds"],
                    compute_per_batch.astype(np.float64), port, p["row_op"], p["col_op"], p["pin_op"],
                    a_bytes, b_bytes, o_bytes, acc_bytes,
                    np.array([b.fill_bytes for b in buffers]), np.array([b.fill_bytes for b in buffers]),
                    np.array([b.double_buffered for b in buffers]), float(accel.dram_bytes_per_cycle),
                    out_cycles, out_dram, out_order)

    compute = batch * compute_per_batch
    cycles = np.maximum(np.ceil(out_cycles - 1e-6).astype(np.int64), compute)
    ideal = np.where(is_vec, vec_cycles, -(-(macs * passes) // (array_pes * lanes)))
    dram_ifmap, dram_weight, dram_psum_read, dram_write = out_dram.T
    buf_bytes = {
        "ifmap_buf_read_bytes": batch * arr_bytes["ifmap_read"], "ifmap_buf_write_bytes": dram_ifmap,
        "weight_buf_read_bytes": batch * arr_bytes["weight_read"], "weight_buf_write_bytes": dram_weight,
        "ofmap_buf_read_bytes": batch * arr_bytes["ofmap_read"] + dram_write,
        "ofmap_buf_write_bytes": batch * arr_bytes["ofmap_write"] + dram_psum_read,
    }
    buffer_pj = sum((buf_bytes[f"{n}_buf_read_bytes"] + buf_bytes[f"{n}_buf_write_bytes"]) * 8
                    * energy.buffer_pj_per_bit(b.size_kib) for n, b in bufs.items())
    array_bits = 8 * batch * (arr_bytes["ifmap_read"] + arr_bytes["weight_read"]
                              + arr_bytes["ofmap_write"] + arr_bytes["ofmap_read"])
    dram_bytes = out_dram.sum(axis=1)
    unique_cols = {
        "macs": macs, "cycles": cycles, "compute_cycles": compute, "stall_cycles": cycles - compute,
        "ideal_cycles": ideal, "dram_ifmap_bytes": dram_ifmap, "dram_weight_bytes": dram_weight,
        "dram_ofmap_bytes": dram_write + dram_psum_read, **buf_bytes,
        "mac_pj": macs * energy.mac_energy_pj(b_bits, a_bits, ob) * np.where(on_lut, LUT_MAC_ENERGY_X, 1.0),
        "rf_pj": macs * p["rf_per_mac"] * energy.rf_access_pj * a_bits / ob,
        "buffer_pj": buffer_pj + np.where(is_vec, 0.0, array_bits * energy.noc_pj_per_bit),
        "dram_pj": dram_bytes * 8 * accel.dram.energy_pj_per_bit,
        "vector_pj": np.where(is_vec, vec_elems * cpe[fam] * energy.vector_op_pj, 0.0),
    }
    names = [d.value for d in Dataflow]
    df_names = tuple("vector" if c < 0 else names[c] for c in all_codes)
    details = {"row_folds": p["row_folds"], "col_folds": p["col_folds"],
               "fold_cycles": -(-(p["fold_cycles"] * passes) // lanes), "fold_order": out_order}
    array_code = np.where(is_vec, 2, on_lut.astype(np.int64))[inverse]
    return SimResult(accelerator=accel.name, clock_mhz=float(accel.clock_mhz), pes=accel.pes,
                     dram_bytes_per_cycle=float(accel.dram_bytes_per_cycle),
                     names=workload.names, kinds=workload.labels, dataflows=df_names,
                     columns={k: v[inverse] for k, v in unique_cols.items()},
                     details={k: v[inverse] for k, v in details.items()},
                     arrays=tuple(np.array(["pe", "lut", "vector"])[array_code].tolist()),
                     peak_macs_per_cycle=(array_pes * lanes / passes)[inverse])
