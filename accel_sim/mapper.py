"""The mapper: a Schedule for a Workload on an Accelerator - per-layer tiling and loop order found by
search, BatchNorm folding, vector-op fusion and on-chip residency decided for the whole network.
"""
# Named mappings:
# - "searched" (default): every PE-array layer's tiling (tm, tn, tk) and loop order is searched
#   for the objective (latency, energy or EDP) over divisor-balanced and power-of-two tile sizes
#   (spatial tiles are multiples of the array edge, conv tiles whole output rows); candidates
#   whose footprint cannot fit are dropped except the untiled extent (dominance: a larger tile that
#   still fits never loses reuse). BatchNorm after a conv/linear is folded into its weights;
#   elementwise ops (and softmax / LayerNorm when the producer's output tile can hold whole rows)
#   are fused into the producer's output path when the vector unit sits there; an activation
#   stays on chip for the next layer when it fits the input buffer; weights stay on chip across
#   inferences when the accelerator says so and all of them fit. A plan (layer records, context
#   and every distinct layer's candidates costed) is memoised by workload and hardware without its
#   DRAM speed, clock and launch cost; each point of a sweep over those only re-ranks candidates.
# - "scalesim": SCALE-Sim's mapping, for regression against it: the temporal dimension untiled,
#   spatial tiles of one array edge (one fold per tile), the fold order that moves the fewest DRAM
#   bytes, no fusion, no residency, folds back to back with full fill and drain. Its compute cycles
#   equal SCALE-Sim's.
# - "hls": the tiles the HLS templates (hls_templates/lib/cs_gemm.h) implement: one array edge of
#   each spatial dimension, the temporal tile and the reduction tile (in multiples of the array's
#   k depth, rows x packed lanes) searched, largest first on a tie (partial sums
#   accumulate across k tiles, in the output buffer or through DRAM); every op its own layer (no
#   fusion, no residency) and folds back to back. `codesign emit-hls` emits it.
from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

import dataflows
from accel_sim import cost_model as cm
from accel_sim.config import Accelerator, parse_dataflow
from accel_sim.errors import UserError
from accel_sim.schedule import Schedule, unique_rows
from accel_sim.numba_config import njit
from accel_sim.packing import MAX_BITS
from accel_sim.workload import VectorFamily, Workload
from dataflows import Dataflow

MAPPINGS = ("searched", "scalesim", "hls")
DATAFLOW_NAMES = np.array([Dataflow.from_code(c).value for c in range(len(Dataflow))] + ["vector"])  # -1: vector
CANDIDATES_PER_DIM = 4       # balanced splits q = 1..CANDIDATES_PER_DIM plus powers of two
MIN_STREAM_TILE = 16         # the smallest temporal tile tried: below it fill and preload dominate
_TABLES: dict = {}           # candidate tilings costed without the time-only hardware fields
_TABLE_LIMIT = 20_000


def parse_mapping(value, field: str = "mapping") -> str:
    if value not in MAPPINGS:
        raise UserError(f"{field} must be one of {', '.join(MAPPINGS)}; got {value!r}")
    return value


def parse_objective(value, field: str = "objective") -> int:
    if value not in cm.OBJECTIVES:
        raise UserError(f"{field} must be one of {', '.join(cm.OBJECTIVES)}; got {value!r}")
    return cm.OBJECTIVES[value]


# --- hardware and layer records -----------------------------------------------------------------
def hw_record(accel: Accelerator, mapping: str) -> np.ndarray:
    """The accelerator as one HW_DTYPE record (mapping-dependent: SCALE-Sim never overlaps folds)."""
    b, e = accel.buffers, accel.energy
    rec = np.zeros(1, dtype=cm.HW_DTYPE)
    r = rec[0]
    r["fill_a"], r["fill_b"], r["fill_o"] = b.ifmap.fill_bytes, b.weight.fill_bytes, b.ofmap.fill_bytes
    r["double_a"], r["double_b"], r["double_o"] = (b.ifmap.double_buffered, b.weight.double_buffered,
                                                   b.ofmap.double_buffered)
    r["port_a"] = b.ifmap.read_bw_words_per_cycle * b.ifmap.word_bits / 8.0
    r["port_b"] = b.weight.read_bw_words_per_cycle * b.weight.word_bits / 8.0
    r["port_o_write"] = b.ofmap.write_bw_words_per_cycle * b.ofmap.word_bits / 8.0
    r["port_o_read"] = b.ofmap.read_bw_words_per_cycle * b.ofmap.word_bits / 8.0
    r["dram_bytes_per_cycle"] = accel.dram_bytes_per_cycle * accel.dram.efficiency
    r["dram_latency_cycles"] = accel.dram.latency_ns * accel.clock_mhz / 1e3
    r["launch_cycles"] = accel.layer_launch_cycles
    r["pipelined_folds"] = accel.pe_array.pipelined_folds and mapping == "searched"
    r["unified"] = b.unified and mapping == "searched"
    r["e_dram"] = 8 * accel.dram.energy_pj_per_bit
    r["e_buf_a"] = 8 * e.buffer_pj_per_bit(b.ifmap.size_kib)
    r["e_buf_b"] = 8 * e.buffer_pj_per_bit(b.weight.size_kib)
    r["e_buf_o"] = 8 * e.buffer_pj_per_bit(b.ofmap.size_kib)
    r["e_noc"] = 8 * e.noc_pj_per_bit
    return rec


def _dataflow_codes(workload: Workload, accel: Accelerator, override, per_layer) -> np.ndarray:
    default = parse_dataflow(override, "dataflow") if override is not None else accel.pe_array.dataflow
    codes = np.full(len(workload), default.code, dtype=np.int64)
    if per_layer is not None:
        per_layer = list(per_layer)
        if len(per_layer) != len(workload):
            raise UserError(f"dataflow_per_layer has {len(per_layer)} entries for {len(workload)} layers")
        for i, df in enumerate(per_layer):
            if df is not None:
                codes[i] = parse_dataflow(df, f"dataflow of layer {workload.names[i]!r}").code
    codes[workload.is_vector] = -1
    return codes


def _rates(accel: Accelerator, is_vec, on_lut, b_bits, a_bits):
    """Per layer: packed lanes, passes (MACs per PE per cycle = lanes / passes) and array PEs.
    Vector layers get the PE array's native rate (for utilisation)."""
    pe_arr, lut = accel.pe_array, accel.lut_array
    span = MAX_BITS + 1
    keys = ((is_vec.astype(np.int64) * 2 + on_lut) * span + b_bits) * span + a_bits
    distinct, inverse = np.unique(keys, return_inverse=True)
    table = np.empty((len(distinct), 3), dtype=np.int64)
    for row, key in enumerate(distinct.tolist()):
        rest, a = divmod(key, span)
        rest, b = divmod(rest, span)
        vec, on = divmod(rest, 2)
        if vec:
            rate, count = pe_arr.rate(pe_arr.operand_bits, pe_arr.operand_bits), pe_arr.pes
        elif on:
            rate, count = lut.rate(int(a)), lut.pes
        else:
            rate, count = pe_arr.rate(int(b), int(a)), pe_arr.pes
        table[row] = rate.numerator, rate.denominator, count
    lanes, passes, pes = table[inverse.reshape(-1)].T
    return lanes, passes, pes


def _row_stationary(layers: np.ndarray, workload: Workload, sel: np.ndarray, accel: Accelerator, lut: bool):
    """Fill the row-stationary fold work and buffer<->array traffic of the layers `sel`."""
    if accel.register_file is None:
        raise UserError(f"dataflow rs needs per-PE scratchpads: accelerator {accel.name!r} has no register_file")
    plan = dataflows.plan(Dataflow.RS, workload.dims(sel), accel.array_shape(lut=lut))
    layers["rs_compute"][sel] = plan.folds * plan.fold_cycles
    layers["rs_a_reads"][sel] = plan.ifmap_reads
    layers["rs_b_reads"][sel] = plan.weight_reads
    layers["rs_o_writes"][sel] = plan.ofmap_writes
    layers["rs_o_reads"][sel] = plan.ofmap_reads
    shape = accel.array_shape(lut=lut)        # scratchpad words per PE (Eyeriss split) x PEs
    word_bytes = accel.register_file.word_bits / 8.0
    layers["spad_a"][sel] = shape.pes * shape.rf_ifmap_words * word_bytes
    layers["spad_b"][sel] = shape.pes * shape.rf_filter_words * word_bytes
    layers["spad_o"][sel] = shape.pes * shape.rf_psum_words * word_bytes


def _check_min_tiles(workload: Workload, codes, on_lut, layers, accel: Accelerator) -> None:
    """A buffer must hold the smallest piece one fold needs (in its fill half when double-buffered)."""
    for code in sorted({int(c) for c in codes if c >= 0}):
        for lut in (False, True):
            sel = np.flatnonzero((codes == code) & (on_lut == lut))
            if not len(sel):
                continue
            # a systolic dataflow's smallest piece is the same for every layer (an array edge or block)
            probe = sel if code == Dataflow.RS.code else sel[:1]
            plan = dataflows.plan(Dataflow.from_code(code), workload.dims(probe), accel.array_shape(lut=lut))
            for name, words, bits in (("ifmap", plan.min_ifmap_words, layers["a_bits"][sel]),
                                      ("weight", plan.min_weight_words, layers["b_bits"][sel]),
                                      ("ofmap", plan.min_ofmap_words,
                                       np.where(code == Dataflow.OS.code, layers["a_bits"][sel],
                                                layers["acc_bits"][sel]))):
                buf = getattr(accel.buffers, name)
                need = words * bits / 8.0
                bad = np.flatnonzero(need > buf.fill_bytes)
                if len(bad):
                    i = bad[0]
                    half = " in half of the buffer (it is double_buffered)" if buf.double_buffered else ""
                    want_kib = need[i] / 1024.0 * (2 if buf.double_buffered else 1)
                    raise UserError(
                        f"buffers.{name}.size_kib={buf.size_kib:g} is too small: layer "
                        f"{workload.names[sel[i]]!r} under {Dataflow.from_code(code).value} needs a "
                        f"{need[i]:.0f}-byte tile{half}; use size_kib >= {want_kib:.3g}")


def layer_records(workload: Workload, accel: Accelerator, codes: np.ndarray, mapping: str = "searched"):
    """Every layer as a LAYER_DTYPE record (no residency context yet), with its array and rate."""
    count = len(workload)
    is_vec = codes < 0
    a_bits = workload.a_bits.astype(np.float64)
    b_bits = np.where(workload.b_is_activation, workload.a_bits, workload.w_bits)
    on_lut = ~is_vec & (b_bits == 1) & (accel.lut_array is not None)
    lanes, passes, pes = _rates(accel, is_vec, on_lut, b_bits, workload.a_bits)
    rec = np.zeros(count, dtype=cm.LAYER_DTYPE)
    rec["vector"] = is_vec
    rec["df"] = np.where(is_vec, -1, codes)
    for name in ("m", "n", "k", "batch", "kh", "kw", "stride", "oh", "ow", "iw"):
        rec[name] = getattr(workload, name)
    # depthwise under WS / OS: channel-parallel, the channels (GEMM batch) become the n dimension
    dw = workload.depthwise & ((codes == Dataflow.WS.code) | (codes == Dataflow.OS.code)) & (mapping == "searched")
    rec["depthwise"] = dw
    rec["n"] = np.where(dw, workload.batch, rec["n"])
    rec["batch"] = np.where(dw, 1, rec["batch"])
    rec["conv"] = ~is_vec & (workload.kh > 0) & (workload.iw > 0) & (workload.ow > 0) & (
        workload.m % np.maximum(workload.ow, 1) == 0) & (workload.oh * workload.ow == workload.m)
    pe, lut = accel.pe_array, accel.lut_array
    rec["rows"] = np.where(on_lut, lut.rows if lut else 0, pe.rows)
    rec["cols"] = np.where(on_lut, lut.cols if lut else 0, pe.cols)
    rec["lanes"], rec["passes"] = lanes, passes
    rec["a_bits"], rec["b_bits"], rec["o_bits"] = a_bits, b_bits, a_bits
    rec["acc_bits"] = pe.accum_bits
    per_group = np.where(dw, workload.batch, 1)
    rec["a_elems"], rec["b_elems"], rec["o_elems"] = (workload.a_elems * per_group, workload.b_elems * per_group,
                                                      workload.o_elems * per_group)
    cpe = np.asarray(accel.vector_unit.cycles_per_element.as_tuple())
    fam = np.maximum(workload.vec_family, 0)
    vectors = -(-workload.vec_elems // accel.vector_unit.lanes)
    rec["vec_cycles"] = np.where(is_vec, np.ceil(vectors * cpe[fam]), 0)
    rec["vec_steps"] = np.where(is_vec, vectors, 0)
    for lut_flag in (False, True):
        sel = np.flatnonzero((codes == Dataflow.RS.code) & (on_lut == lut_flag))
        if len(sel):
            _row_stationary(rec, workload, sel, accel, lut_flag)
    _check_min_tiles(workload, codes, on_lut, rec, accel)
    return rec, on_lut, pes


# --- network-level decisions: folding, fusion, residency -------------------------------------------
def _decide_context(workload: Workload, rec: np.ndarray, accel: Accelerator, hw: np.ndarray):
    """Fold BatchNorm, fuse vector ops into their producer's output path and keep activations and
    weights on chip where the hardware allows. Edits `rec` in place; returns (fused_into, folded)."""
    count = len(workload)
    fused_into = np.full(count, -1, dtype=np.int64)
    folded = np.zeros(count, dtype=bool)
    res = accel.residency
    _context_kernel(rec, workload.producer, workload.consumers, workload.foldable, workload.vec_family,
                    workload.b_is_activation, FAMILY_KIND, accel.vector_unit.on_output_path,
                    float(hw[0]["fill_o"]), res.activations, accel.buffers.ifmap.size_bytes,
                    res.weights, accel.buffers.weight.size_bytes, fused_into, folded)
    return fused_into, folded


# Per vector family code: 1 elementwise (fuses anywhere on the output path), 2 row-wise (fuses
# when the producer's output tile holds whole rows), 0 not fused.
_ROW_WISE = (VectorFamily.EXP_SOFTMAX, VectorFamily.LAYERNORM)
_ELEMENTWISE = (VectorFamily.GELU, VectorFamily.ACTIVATION, VectorFamily.ELTWISE)
FAMILY_KIND = np.array([2 if f in _ROW_WISE else 1 if f in _ELEMENTWISE else 0 for f in VectorFamily], dtype=np.int64)


@njit
def _context_kernel(rec, producer, consumers, foldable, family, b_is_act, family_kind, fuse, fill_o,
                    activations, in_size, weights, weight_size, fused_into, folded):
    count = len(rec)
    for i in range(count):            # folding and fusion, in graph order
        p = producer[i]
        if not rec[i].vector or p < 0 or p != i - 1 or consumers[p] != 1:
            continue
        head = p if fused_into[p] < 0 else fused_into[p]
        if rec[head].vector:
            continue
        if foldable[i] and head == p:
            folded[i] = True          # BatchNorm folded into the conv/linear weights: no op left
            fused_into[i] = head
            rec[i].fused = True
            continue
        kind = family_kind[family[i]]
        if not fuse or kind == 0:
            continue
        if kind == 2:                 # whole rows of the producer's output must fit on chip
            if rec[head].n * rec[head].acc_bits / 8.0 > fill_o:
                continue
            rec[head].full_rows = True
        fused_into[i] = head
        rec[i].fused = True
        rec[i].a_on_chip = True
        second = rec[i].a_elems * rec[i].batch - rec[p].o_elems * rec[p].batch
        rec[head].extra_read_bytes += max(0.0, second) * rec[i].a_bits / 8.0 / rec[head].batch
        rec[head].fused_vec_cycles += rec[i].vec_cycles * rec[i].batch
        if folded[p]:                 # handed to the vector unit
            rec[head].o_on_chip = True
        else:
            rec[p].o_on_chip = True
    if activations:                   # outputs kept on chip for the next layer
        for j in range(count):
            p = producer[j]
            if fused_into[j] >= 0 or p < 0:
                continue
            between = True
            for x in range(p + 1, j):
                if fused_into[x] < 0:
                    between = False
            if not between:
                continue
            head = p if fused_into[p] < 0 else fused_into[p]
            held = rec[head].a_elems * rec[head].a_bits / 8.0 * rec[head].batch if rec[head].a_on_chip else 0.0
            out = rec[p].o_elems * rec[p].a_bits / 8.0 * rec[p].batch
            if out + held <= in_size:
                rec[j].a_on_chip = True       # what else it reads (a residual) still comes from DRAM
                rest = rec[j].a_elems * rec[j].batch - rec[p].o_elems * rec[p].batch
                rec[j].extra_read_bytes += max(0.0, rest) * rec[j].a_bits / 8.0 / rec[j].batch
                if consumers[p] == 1:
                    if folded[p]:
                        rec[head].o_on_chip = True
                    else:
                        rec[p].o_on_chip = True
    if weights:                       # all weights preloaded when they fit
        total = 0.0
        for i in range(count):
            if not rec[i].vector and not b_is_act[i]:
                total += rec[i].b_elems * rec[i].b_bits / 8.0 * rec[i].batch
        if total <= weight_size:
            for i in range(count):
                if not rec[i].vector and not b_is_act[i]:
                    rec[i].b_preloaded = True
    last = np.full(count, -1, dtype=np.int64)   # the output of a fused chain is written by its head
    for i in range(count):
        if rec[i].fused and not folded[i]:
            last[fused_into[i]] = i
    for head in range(count):
        end = last[head]
        if end >= 0 and not rec[end].o_on_chip:
            rec[head].chain_write_bytes = rec[end].o_elems * rec[end].batch * rec[end].a_bits / 8.0 / rec[head].batch


# --- candidate tile sizes ---------------------------------------------------------------------------
@functools.lru_cache(maxsize=65536)
def tile_sizes(extent: int, granule: int) -> np.ndarray:
    """Tile sizes for a dimension: multiples of `granule`, balanced splits of `extent` and powers
    of two, plus the whole extent."""
    extent, granule = int(extent), max(int(granule), 1)
    sizes = {extent}
    for q in range(1, CANDIDATES_PER_DIM + 1):
        t = -(-extent // q)
        sizes.add(min(extent, -(-t // granule) * granule))
    t = granule if granule > 1 else MIN_STREAM_TILE
    while t < extent:
        sizes.add(t)
        t *= 2
    return np.array(sorted(sizes), dtype=np.int64)


def _candidates(r) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    df, rows, cols = int(r["df"]), int(r["rows"]), int(r["cols"])
    m, n, k = int(r["m"]), int(r["n"]), int(r["k"])
    spatial = {cm.DF_WS: (1, cols, rows), cm.DF_OS: (rows, cols, 1), cm.DF_IS: (cols, 1, rows),
               cm.DF_RS: (1, 1, 1)}[df]
    g_m, g_n, g_k = spatial
    if r["conv"]:                 # conv tiles: whole output rows, and whole channels when k is free
        ow = int(r["ow"])
        g_m = ow * max(1, -(-g_m // ow)) if g_m > 1 else ow
        if g_k == 1:
            g_k = int(r["kh"] * r["kw"])
    tm = tile_sizes(m, g_m)
    if r["conv"]:
        tm = tm[(tm % int(r["ow"]) == 0) | (tm == m)]
    # SCALE-Sim's tiling is always a candidate, so the search never does worse than it
    s_m, s_n, s_k = _scalesim_tiling(r)
    return (np.union1d(tm, [s_m]), np.union1d(tile_sizes(n, g_n), [s_n]), np.union1d(tile_sizes(k, g_k), [s_k]))


def _hls_candidates(r) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Largest tiles first: a tie goes to the earlier candidate, and the emitted design moves whole
    DRAM words, so a tile that spans whole rows of its operands is fewer, longer bursts (the cost
    model counts bytes, not bus words, and cannot see it)."""
    df, rows, cols = int(r["df"]), int(r["rows"]), int(r["cols"])
    m, n, k = int(r["m"]), int(r["n"]), int(r["k"])
    one = lambda x: np.array([x], dtype=np.int64)   # noqa: E731
    down = lambda extent, granule: tile_sizes(extent, granule)[::-1].copy()   # noqa: E731
    depth = rows * int(r["lanes"])        # a packed PE takes `lanes` consecutive k (cs_pe_array.h)
    if df == cm.DF_WS:
        return down(m, 1), one(min(n, cols)), down(k, depth)
    if df == cm.DF_IS:
        return one(min(m, cols)), down(n, 1), down(k, depth)
    return one(min(m, rows)), one(min(n, cols)), down(k, 1)


def _scalesim_tiling(r) -> tuple[int, int, int]:
    df, rows, cols = int(r["df"]), int(r["rows"]), int(r["cols"])
    m, n, k = int(r["m"]), int(r["n"]), int(r["k"])
    if df == cm.DF_WS:
        return m, min(n, cols), min(k, rows)
    if df == cm.DF_OS:
        return min(m, rows), min(n, cols), k
    if df == cm.DF_IS:
        return min(m, cols), n, min(k, rows)
    return m, n, k


# Fields of the hardware record that only scale time, not traffic: a search is costed once per
# layer and the rest of the hardware, and re-ranked for each DRAM speed, latency and launch cost.
_TIME_ONLY = ("dram_bytes_per_cycle", "dram_latency_cycles", "launch_cycles")


def _candidates_costed(layer: np.ndarray, hw: np.ndarray, mapping: str):
    """Every candidate tiling of `layer` with its traffic and compute, memoised by the layer and
    the hardware without the time-only fields."""
    static = hw.copy()
    for name in _TIME_ONLY:
        static[name] = 0
    key = (layer.tobytes(), static.tobytes(), mapping)
    hit = _TABLES.get(key)
    if hit is not None:
        return hit
    r = layer[0]
    if mapping == "scalesim":
        tm, tn, tk = (np.array([x], dtype=np.int64) for x in _scalesim_tiling(r))
    elif mapping == "hls":
        tm, tn, tk = _hls_candidates(r)
    else:
        tm, tn, tk = _candidates(r)
    size = len(tm) * len(tn) * len(tk) * len(cm.ORDERS)
    picks = np.empty((size, 4), dtype=np.int64)
    costs = np.zeros(size, dtype=cm.COST_DTYPE)
    count = cm.candidate_costs(r, hw[0], tm, tn, tk, np.zeros(1, dtype=cm.TILING_DTYPE), picks, costs)
    keep = np.empty(count, dtype=np.bool_)
    count = cm.undominated(costs, count, keep)
    if len(_TABLES) > _TABLE_LIMIT:
        _TABLES.clear()
    _TABLES[key] = (picks[:len(keep)][keep], costs[:len(keep)][keep], count)
    return _TABLES[key]


def clear_memo() -> None:
    """Forget every memoised plan and candidate table (benchmarks use it to time a cold search)."""
    _PLANS.clear()
    _TABLES.clear()


def _fixed_energy(rec: np.ndarray, accel: Accelerator) -> np.ndarray:
    """MAC and register energy per layer: mapping-independent, needed only to rank by EDP."""
    e, ob = accel.energy, accel.pe_array.operand_bits
    macs = np.where(rec["vector"], 0, rec["m"] * rec["n"] * rec["k"] * rec["batch"]).astype(np.float64)
    return macs * (e.mac_energy_pj(rec["b_bits"], rec["a_bits"], ob) + 3.0 * e.rf_access_pj * rec["a_bits"] / ob)


# --- plans: what a (workload, hardware) fixes before the DRAM speed, latency and launch cost ------
@dataclass(frozen=True, eq=False)
class _Plan:
    """Layer records with their residency context, the distinct layers, and every distinct PE
    layer's candidate tilings costed (traffic and compute): all that a sweep over DRAM speed,
    clock or launch cost shares, so each of its points only ranks candidates and costs layers."""
    workload: Workload
    codes: np.ndarray
    rec: np.ndarray             # LAYER_DTYPE, read-only
    pes: np.ndarray
    fused_into: np.ndarray
    folded: np.ndarray
    dataflows: tuple[str, ...]
    arrays: tuple[str, ...]
    groups: tuple[np.ndarray, np.ndarray]   # first layer of each distinct record; record -> distinct
    searched: np.ndarray        # distinct records that run on an array (indices into groups[0])
    search_rec: np.ndarray      # their records as ranked (whole-row constraint dropped if nothing meets it)
    fixed: np.ndarray           # their MAC and register energy (ranks EDP)
    picks: np.ndarray           # candidate tilings of all of them, concatenated: (tm, tn, tk, order)
    costs: np.ndarray           # COST_DTYPE, one per candidate (cycles filled by each ranking)
    offsets: np.ndarray         # candidates of searched[u] are picks[offsets[u]:offsets[u + 1]]
    chosen: dict                # (hardware record bytes, objective) -> tilings of the distinct records
    shared: dict                # Schedule properties every schedule of the plan has alike

    def share(self, sched: Schedule) -> None:
        """Give `sched` the plan's distinct records and tiling-independent figures, computed once
        (they are cached properties of a Schedule, seeded here)."""
        if not self.shared:
            self.shared.update(layer_groups=self.groups, layer_figures=sched.layer_figures)
        sched.__dict__.update(self.shared)

    def tilings(self, hw: np.ndarray, objective: int) -> np.ndarray:
        """Every layer's TILING record on `hw` for `objective`, memoised."""
        key = (hw.tobytes(), objective)
        hit = self.chosen.get(key)
        if hit is not None:
            return hit
        first, inverse = self.groups
        picked = np.empty(len(self.searched), dtype=np.int64)
        if len(picked):
            cm.choose_all(self.search_rec, hw[0], self.costs, self.offsets, objective, self.fixed, picked)
        distinct = np.zeros(len(first), dtype=cm.TILING_DTYPE)
        best = self.picks[picked]
        for j, name in enumerate(("tm", "tn", "tk", "order")):
            distinct[name][self.searched] = best[:, j]
        out = distinct[inverse]
        out.flags.writeable = False
        if len(self.chosen) >= _CHOSEN_LIMIT:
            self.chosen.clear()
        self.chosen[key] = out
        return out


_PLANS: OrderedDict = OrderedDict()    # least recently used first
_PLAN_LIMIT = 256
_CHOSEN_LIMIT = 4096


def _static_key(accel: Accelerator) -> tuple:
    """Everything of `accel` a plan depends on: all but its name, clock, DRAM speed and latency,
    and launch cost (the fields `hw_record` turns into _TIME_ONLY)."""
    return (accel.pe_array, accel.lut_array, accel.buffers, accel.register_file, accel.vector_unit,
            accel.energy, accel.residency, accel.dram.energy_pj_per_bit)


def _plan(workload: Workload, accel: Accelerator, dataflow, dataflow_per_layer, mapping: str) -> _Plan:
    per_layer = None if dataflow_per_layer is None else tuple(dataflow_per_layer)
    key = (id(workload), _static_key(accel), dataflow, per_layer, mapping)
    plan = _PLANS.get(key)
    if plan is not None and plan.workload is workload:
        _PLANS.move_to_end(key)
        return plan
    plan = _build_plan(workload, accel, dataflow, per_layer, mapping)
    _PLANS[key] = plan
    if len(_PLANS) > _PLAN_LIMIT:
        _PLANS.popitem(last=False)
    return plan


def _build_plan(workload: Workload, accel: Accelerator, dataflow, per_layer, mapping: str) -> _Plan:
    codes = _dataflow_codes(workload, accel, dataflow, per_layer)
    rec, on_lut, pes = layer_records(workload, accel, codes, mapping)
    hw = hw_record(accel, mapping)
    for name in _TIME_ONLY:
        hw[name] = 0
    if mapping == "searched":
        fused_into, folded = _decide_context(workload, rec, accel, hw)
    else:
        fused_into, folded = np.full(len(workload), -1, dtype=np.int64), np.zeros(len(workload), dtype=bool)
    for shared in (codes, rec, pes, fused_into, folded):   # every Schedule of the plan holds them
        shared.flags.writeable = False
    first, inverse = unique_rows(rec)
    searched = np.flatnonzero(~rec["vector"][first])
    search_rec = rec[first[searched]].copy()
    tables = []
    for u in range(len(searched)):
        layer = search_rec[u:u + 1]
        picks, costs, count = _candidates_costed(layer, hw, mapping)
        if count == 0:                # whole rows cannot fit: rank without that constraint
            layer[0]["full_rows"] = False
            picks, costs, count = _candidates_costed(layer, hw, mapping)
        tables.append((picks, costs))
    offsets = np.zeros(len(searched) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(p) for p, _ in tables])
    picks = np.concatenate([p for p, _ in tables]) if tables else np.zeros((0, 4), dtype=np.int64)
    costs = np.concatenate([c for _, c in tables]) if tables else np.zeros(0, dtype=cm.COST_DTYPE)
    arrays = np.where(rec["vector"], "vector", np.where(on_lut, "lut", "pe"))
    return _Plan(workload=workload, codes=codes, rec=rec, pes=pes, fused_into=fused_into, folded=folded,
                 dataflows=tuple(DATAFLOW_NAMES[codes].tolist()), arrays=tuple(arrays.tolist()),
                 groups=(first, inverse), searched=searched, search_rec=search_rec,
                 fixed=_fixed_energy(search_rec, accel), picks=picks, costs=costs, offsets=offsets, chosen={}, shared={})


def map_workload(workload: Workload, accel: Accelerator, *, dataflow=None, dataflow_per_layer=None,
                 mapping: str = "searched", objective: str = "latency") -> Schedule:
    """The Schedule of `workload` on `accel` under a named mapping and objective."""
    mapping = parse_mapping(mapping)
    obj = parse_objective(objective)
    plan = _plan(workload, accel, dataflow, dataflow_per_layer, mapping)
    hw = hw_record(accel, mapping)
    # SCALE-Sim's tiles are fixed; of their fold orders it takes the one moving the fewest bytes
    tilings = plan.tilings(hw, cm.OBJ_DRAM if mapping == "scalesim" else obj)
    sched = Schedule(workload=workload, accelerator=accel, mapping=mapping, objective=objective,
                     dataflows=plan.dataflows, arrays=plan.arrays, layers=plan.rec, tilings=tilings, hw=hw,
                     fused_into=plan.fused_into, folded=plan.folded, array_pes=plan.pes)
    plan.share(sched)
    return sched
