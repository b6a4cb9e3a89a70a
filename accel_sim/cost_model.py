"""The cost of one layer under one mapping: cycles, DRAM and buffer traffic, variable energy.
Numba kernels over named record arrays; the mapper searches with them and the engine reports them.
"""
# Model (per GEMM batch element; `batch` independent products run one after another).
# A mapping tiles the GEMM (m x k) @ (k x n) at the buffer level into tiles tm x tn x tk that run
# in a loop nest of the three tile loops in `order` (outermost first). Per operand:
# - A (m, k), B (k, n) and O (m, n) each have one irrelevant loop (n, m and k). An operand whose
#   tile fits its buffer's fill half is *held*: it is fetched again only when its own tile changes,
#   i.e. once per iteration of its irrelevant loop if that loop sits outside the innermost of its
#   relevant loops (loops with one trip do not count), else once. A tile that does not fit is
#   streamed through the buffer: every read the array makes of it is a DRAM read.
# - O: when the k loop has more than one trip and sits outside the innermost of the m and n loops,
#   partial sums leave the buffer: every k tile but the last writes accum_bits partial sums to
#   DRAM and every one but the first reads them back. When the accumulator tile does not fit, every
#   partial sum the array reads back goes out to DRAM and back.
# - A conv's A tile is a strip of whole output rows with its halo: ((rows - 1) * stride + kh)
#   input rows of width iw, so DRAM reads of A are the real ifmap plus the halo overlap.
# - A depthwise conv under WS or OS is mapped channel-parallel: its channels are the n dimension
#   (array columns), each with its own input, so A depends on (m, n) rather than (m, k) and every
#   column reads its own A elements from the buffer (no broadcast): the ifmap port bounds it.
# - Residency (decided by the mapper for the whole network): an activation already on chip costs
#   no DRAM read, an output kept on chip for the next layer no DRAM write, preloaded weights
#   nothing per inference.
# Compute: the dataflow's folds (dataflows/*.py) run over the tiles. A fold streams the tile's
# extent of the temporal dimension; every fold pays fill and drain unless the PE registers are
# double-buffered (`pipelined_folds`), in which case the next fold's preload overlaps the current
# stream and a fold takes max(stream, preload) (the last one just its stream), with one fill and
# drain per layer. Row stationary
# keeps its own fold model over the whole layer (its strips are cut by the dataflow itself).
# A vector op streams lane-wide vectors through the same pipeline (one step per vector).
# Time: the tile steps run as a double-buffered pipeline over one DRAM channel: with S steps,
# per-step compute c and per-step loads L and write-backs W (averages), the layer takes
# L + (S - 1) * max(c, L + W) + c + W, the first load and the last write exposed; loads into a
# single-buffered buffer add in series. DRAM runs at peak x efficiency, its first access pays
# its latency, and every layer pays the accelerator's launch overhead.
from __future__ import annotations

import numpy as np

from accel_sim.numba_config import njit

# --- loop orders: tile loops outermost first over the dimensions M, N, K -----------------------
DIM_M, DIM_N, DIM_K = 0, 1, 2
ORDERS = np.array([[DIM_M, DIM_N, DIM_K], [DIM_M, DIM_K, DIM_N], [DIM_N, DIM_M, DIM_K],
                   [DIM_N, DIM_K, DIM_M], [DIM_K, DIM_M, DIM_N], [DIM_K, DIM_N, DIM_M]], dtype=np.int64)
ORDER_NAMES = tuple(">".join("mnk"[d] for d in row) for row in ORDERS)

# --- dataflow and layer-kind codes (dataflows.Dataflow.code; workload LayerKind) ----------------
DF_WS, DF_OS, DF_IS, DF_RS = 0, 1, 2, 3
KIND_VECTOR = 2

# One row per layer to cost: its shape, widths, the array it runs on, and its residency context.
LAYER_DTYPE = np.dtype([
    ("vector", np.bool_), ("df", np.int64), ("m", np.int64), ("n", np.int64), ("k", np.int64),
    ("batch", np.int64),
    ("kh", np.int64), ("kw", np.int64), ("stride", np.int64), ("oh", np.int64), ("ow", np.int64),
    ("iw", np.int64), ("conv", np.bool_),
    ("depthwise", np.bool_),                # channels on n: A is per column, not broadcast (see below)
    ("rows", np.int64), ("cols", np.int64), ("lanes", np.int64), ("passes", np.int64),
    ("a_bits", np.float64), ("b_bits", np.float64), ("o_bits", np.float64), ("acc_bits", np.float64),
    ("a_elems", np.float64), ("b_elems", np.float64), ("o_elems", np.float64),
    ("rs_compute", np.float64),            # row stationary: fold work of the whole layer
    ("rs_a_reads", np.float64), ("rs_b_reads", np.float64), ("rs_o_writes", np.float64),
    ("rs_o_reads", np.float64),             # row stationary: buffer <-> array elements
    ("spad_a", np.float64), ("spad_b", np.float64), ("spad_o", np.float64),  # row stationary: bytes
    # the PE scratchpads hold on top of the buffers (a tile may live across both levels)
    ("vec_cycles", np.float64),             # vector layer: its cycles per batch element
    ("vec_steps", np.float64),              # vector layer: lane-wide vectors it streams
    ("a_on_chip", np.bool_), ("o_on_chip", np.bool_), ("b_preloaded", np.bool_),
    ("fused_vec_cycles", np.float64),       # vector ops fused into this layer's output path
    ("extra_read_bytes", np.float64),       # second inputs of the ops fused into this layer (residual)
    ("chain_write_bytes", np.float64),      # output of the last op fused into this layer
    ("full_rows", np.bool_),                # the output tile must hold whole rows (tn = n)
    ("fused", np.bool_),                    # vector op fused into its producer: no own pipeline
])

# The hardware, one record: buffers (ifmap, weight, ofmap), DRAM, ports and energy per byte.
HW_DTYPE = np.dtype([
    ("fill_a", np.float64), ("fill_b", np.float64), ("fill_o", np.float64),
    ("double_a", np.bool_), ("double_b", np.bool_), ("double_o", np.bool_),
    ("port_a", np.float64), ("port_b", np.float64), ("port_o_write", np.float64),
    ("port_o_read", np.float64),            # bytes per cycle between each buffer and the array
    ("dram_bytes_per_cycle", np.float64),   # peak x efficiency
    ("dram_latency_cycles", np.float64), ("launch_cycles", np.float64),
    ("pipelined_folds", np.bool_), ("unified", np.bool_),
    ("e_dram", np.float64), ("e_buf_a", np.float64), ("e_buf_b", np.float64), ("e_buf_o", np.float64),
    ("e_noc", np.float64),                  # pJ per byte
])

# One tiling: tile sizes of m, n, k and the loop order (index into ORDERS).
TILING_DTYPE = np.dtype([("tm", np.int64), ("tn", np.int64), ("tk", np.int64), ("order", np.int64)])

# What one layer costs under one tiling (whole layer, all batch elements).
COST_DTYPE = np.dtype([
    ("cycles", np.float64), ("compute", np.float64), ("busy", np.float64),
    ("dram_a", np.float64), ("dram_b", np.float64), ("dram_o_write", np.float64),
    ("dram_o_read", np.float64),            # partial sums read back
    ("arr_a", np.float64), ("arr_b", np.float64), ("arr_o_write", np.float64), ("arr_o_read", np.float64),
    ("chip_o_write", np.float64),           # output handed on chip to the next layer
    ("energy_pj", np.float64),              # the mapping-dependent part: DRAM, buffers, wires
    ("steps", np.float64),
])


@njit
def _ceil_div(a, b):
    return -(-a // b)


@njit
def _per_tile(extent, tile, granule, floor):
    """Sum over the tiles of `extent` (cut into `tile`s) of max(ceil(tile_i / granule), floor)."""
    full = extent // tile
    rest = extent - full * tile
    total = full * max(_ceil_div(tile, granule), floor)
    if rest > 0:
        total += max(_ceil_div(rest, granule), floor)
    return total


@njit
def fold_sum(extent, tile, granule):
    """Folds of `granule` over the tiles of `extent`: sum of ceil(tile_i / granule)."""
    return _per_tile(extent, tile, granule, 0)


@njit
def _stream_sum(extent, tile, floor):
    """A pipelined fold's length summed over the tiles of `extent`: sum of max(tile_i, floor)."""
    return _per_tile(extent, tile, 1, floor)


@njit
def _last_idle(extent, tile, floor, granule=1):
    """The last fold has no next fold to preload: it takes its stream (ceil(last tile / granule)
    cycles), not max(stream, floor)."""
    last = extent - (_ceil_div(extent, tile) - 1) * tile
    return max(0, floor - _ceil_div(last, granule))


@njit
def _fetches(t_irr, p_irr, t_r1, p_r1, t_r2, p_r2, held):
    """How many times an operand's whole extent crosses from DRAM (see the model above): trips and
    loop positions of its irrelevant loop and of its two relevant loops."""
    if t_irr <= 1:
        return 1.0
    if not held:
        return float(t_irr)
    inner = -1
    if t_r1 > 1 and p_r1 > inner:
        inner = p_r1
    if t_r2 > 1 and p_r2 > inner:
        inner = p_r2
    if inner > p_irr:
        return float(t_irr)
    return 1.0


@njit
def _channels(layer):
    """Input channels of a conv (its n when depthwise, else K / (kh x kw))."""
    return float(layer.n) if layer.depthwise else layer.k / max(layer.kh * layer.kw, 1)


@njit
def _conv_strip_elems(layer, tm, tn, tk):
    """Input elements of one A tile of a conv: its share of the channels (tk/K, or tn/N when
    depthwise), a strip of rows with halo."""
    rows = max(tm // layer.ow, 1)
    in_rows = (rows - 1) * layer.stride + layer.kh
    share = tn / layer.n if layer.depthwise else tk / layer.k
    return _channels(layer) * share * in_rows * layer.iw


@njit
def _conv_a_pass(layer, tm):
    """Input elements one pass over all output-row strips reads (all channels)."""
    rows = max(tm // layer.ow, 1)
    full = layer.oh // rows
    rest = layer.oh - full * rows
    in_rows = full * ((rows - 1) * layer.stride + layer.kh)
    if rest > 0:
        in_rows += (rest - 1) * layer.stride + layer.kh
    return _channels(layer) * in_rows * layer.iw


@njit
def _k_on_rows(r, depth, c, pipe, k, tk, across, t_across, stream, t_stream):
    """WS and IS (k on the R rows, `depth` = R x packed lanes of k a fold, `across` on the C columns,
    `stream` through time): fold work, reads of the streamed operand (once per column fold), of the
    pinned one (once per stream tile) and partial-sum writes (once per k fold)."""
    k_folds = fold_sum(k, tk, depth)
    folds = k_folds * fold_sum(across, t_across, c)
    tiles = _ceil_div(stream, t_stream)
    if pipe:
        work = folds * _stream_sum(stream, t_stream, r) - _last_idle(stream, t_stream, r) + 2 * r + c - 2
    else:
        work = folds * (tiles * (2 * r + c - 2) + stream)
    streamed = fold_sum(across, t_across, c) * float(stream * k)
    pinned = float(tiles * k * across)
    return float(work), streamed, pinned, k_folds * float(stream * across)


@njit
def _compute(layer, hw, tm, tn, tk, kt_spill):
    """Fold work in cycles and buffer<->array elements (a, b, o write, o read). A PE packing
    `lanes` MACs a cycle (DSP packing) takes that many consecutive k: a WS or IS fold is R x lanes
    deep, an OS fold streams k `lanes` at a time; a fold that k does not fill leaves lanes idle.
    Digit-serial `passes` repeat the whole fold (applied by the caller)."""
    r, c, lanes = layer.rows, layer.cols, layer.lanes
    m, n, k = layer.m, layer.n, layer.k
    pipe = hw.pipelined_folds
    if layer.df == DF_WS:          # rows <- k, cols <- n, time <- m: A streams, B is pinned
        work, a_reads, b_reads, o_writes = _k_on_rows(r, r * lanes, c, pipe, k, tk, n, tn, m, tm)
        return work, a_reads, b_reads, o_writes, o_writes - float(m * n)
    if layer.df == DF_IS:          # rows <- k, cols <- m, time <- n: B streams, A is pinned
        work, b_reads, a_reads, o_writes = _k_on_rows(r, r * lanes, c, pipe, k, tk, m, tm, n, tn)
        return work, a_reads, b_reads, o_writes, o_writes - float(m * n)
    if layer.df == DF_OS:          # rows <- m, cols <- n, time <- k
        folds = fold_sum(m, tm, r) * fold_sum(n, tn, c)
        chunks = kt_spill          # the array drains its accumulators once per k chunk (tile)
        chunk = tk if chunks > 1 else k
        if pipe:
            work = folds * _per_tile(k, chunk, lanes, r) - _last_idle(k, chunk, r, lanes) + r + c - 2
        else:
            work = folds * (fold_sum(k, chunk, lanes) + chunks * (r + c - 2))
        a_reads = fold_sum(n, tn, c) * float(m * k)
        b_reads = fold_sum(m, tm, r) * float(k * n)
        o_writes = float(chunks * m * n)
        return float(work), a_reads, b_reads, o_writes, o_writes - float(m * n)
    return (layer.rs_compute / lanes, layer.rs_a_reads, layer.rs_b_reads, layer.rs_o_writes,
            layer.rs_o_reads)


@njit
def tile_fits(layer, hw, tm, tn, tk):
    """Footprints of the A, B and accumulator tiles against the buffers' fill halves."""
    if layer.conv:
        a_elems = _conv_strip_elems(layer, tm, tn, tk)
    elif layer.depthwise:
        a_elems = float(tm * tk * tn)
    else:
        a_elems = float(tm * tk)
    a_need = 0.0 if layer.a_on_chip else a_elems * layer.a_bits / 8.0
    b_need = 0.0 if layer.b_preloaded else tk * tn * layer.b_bits / 8.0
    o_need = tm * tn * layer.acc_bits / 8.0
    if hw.unified and a_need + b_need + o_need <= (hw.fill_a + hw.fill_b + hw.fill_o
                                                   + layer.spad_a + layer.spad_b + layer.spad_o):
        return True, True, True
    return (a_need <= hw.fill_a + layer.spad_a, b_need <= hw.fill_b + layer.spad_b,
            o_need <= hw.fill_o + layer.spad_o)


@njit
def _pipeline(hw, steps, busy, loads_db, writes_db, serial_bytes, any_dram):
    """Cycles of `steps` double-buffered tile steps (see the model above)."""
    bpc = hw.dram_bytes_per_cycle
    c = busy / steps
    load = loads_db / steps / bpc
    write = writes_db / steps / bpc
    t = load + (steps - 1.0) * max(c, load + write) + c + write + serial_bytes / bpc
    if any_dram:
        t += hw.dram_latency_cycles
    return t + hw.launch_cycles


@njit
def _zero_traffic(out):
    out.dram_a = 0.0
    out.dram_b = 0.0
    out.dram_o_write = 0.0
    out.dram_o_read = 0.0
    out.arr_a = 0.0
    out.arr_b = 0.0
    out.arr_o_write = 0.0
    out.arr_o_read = 0.0
    out.chip_o_write = 0.0


@njit
def layer_traffic(layer, hw, tiling, out):
    """Compute, busy time, traffic, steps and energy of one layer under one tiling, into `out`."""
    batch = float(layer.batch)
    if layer.vector:
        a_bytes = (0.0 if layer.a_on_chip else layer.a_elems * layer.a_bits / 8.0) + layer.extra_read_bytes
        b_bytes = layer.b_elems * layer.a_bits / 8.0
        o_bytes = layer.o_elems * layer.a_bits / 8.0
        o_dram = 0.0 if layer.o_on_chip else o_bytes
        out.arr_a = batch * layer.a_elems * layer.a_bits / 8.0
        out.arr_b = batch * b_bytes
        out.arr_o_write = batch * o_bytes
        out.arr_o_read = 0.0
        out.dram_a = batch * a_bytes
        out.dram_b = batch * b_bytes
        out.dram_o_write = batch * o_dram
        out.dram_o_read = 0.0
        out.chip_o_write = batch * (o_bytes - o_dram)
        out.compute = batch * layer.vec_cycles
        out.busy = out.compute
        if layer.fused:      # runs on its producer's output path: costed with the producer
            out.steps = 0.0
            _zero_traffic(out)
        else:
            steps = max(1.0, layer.vec_steps, np.ceil((a_bytes + b_bytes) / hw.fill_a - 1e-9),
                        np.ceil(o_bytes / hw.fill_o - 1e-9))
            out.steps = steps * batch
        _energy(layer, hw, out)
        return
    m, n, k = layer.m, layer.n, layer.k
    tm, tn, tk = min(tiling.tm, m), min(tiling.tn, n), min(tiling.tk, k)
    t_m, t_n, t_k = _ceil_div(m, tm), _ceil_div(n, tn), _ceil_div(k, tk)
    p_m, p_n, p_k = 0, 0, 0        # loop positions, 0 outermost
    for p in range(3):
        d = ORDERS[tiling.order, p]
        if d == DIM_M:
            p_m = p
        elif d == DIM_N:
            p_n = p
        else:
            p_k = p
    a_ok, b_ok, o_ok = tile_fits(layer, hw, tm, tn, tk)
    # partial sums leave the buffer when the k loop is outside the output tile's loops
    inner_o = -1
    if t_m > 1:
        inner_o = p_m
    if t_n > 1 and p_n > inner_o:
        inner_o = p_n
    spill = t_k > 1 and (not o_ok or p_k < inner_o)
    kt = t_k if spill else 1
    chunks = 1                     # OS: the PEs hold one fold's sums, so k tiles force a drain
    if layer.df == DF_OS and t_k > 1:
        one_fold = tm <= layer.rows and tn <= layer.cols
        if not (one_fold and p_k == 2):
            chunks = t_k
    work, a_reads, b_reads, o_writes, o_reads = _compute(layer, hw, tm, tn, tk, chunks)
    if layer.depthwise:            # every column streams its own channel's inputs
        a_reads = float(m * k * n)
    compute = np.ceil(work * layer.passes - 1e-9)
    arr_a = a_reads * layer.a_bits / 8.0
    arr_b = b_reads * layer.b_bits / 8.0
    a_pass = (_conv_a_pass(layer, tm) if layer.conv else float(m * k)) * layer.a_bits / 8.0
    b_pass = layer.b_elems * layer.b_bits / 8.0
    if layer.depthwise:
        a_dram = a_pass * _fetches(t_k, p_k, t_m, p_m, t_n, p_n, a_ok)
    else:
        a_dram = a_pass * _fetches(t_n, p_n, t_m, p_m, t_k, p_k, a_ok)
    b_dram = b_pass * _fetches(t_m, p_m, t_k, p_k, t_n, p_n, b_ok)
    if not a_ok:                   # a tile the buffer cannot hold: every array read is a DRAM read
        a_dram = max(a_dram, arr_a)
    if not b_ok:
        b_dram = max(b_dram, arr_b)
    if layer.a_on_chip:
        a_dram = 0.0
    if layer.b_preloaded:
        b_dram = 0.0
    a_dram += layer.extra_read_bytes
    out_bytes = m * n * layer.o_bits / 8.0
    psum = m * n * layer.acc_bits / 8.0 * (kt - 1)
    if not o_ok:                   # nor the accumulators: every partial sum goes out and back
        psum = max(psum, o_reads * layer.acc_bits / 8.0)
    o_final = 0.0 if (layer.o_on_chip and psum == 0.0) else out_bytes
    acc = o_writes > m * n
    arr_o_write = o_writes * (layer.acc_bits if acc else layer.o_bits) / 8.0
    arr_o_read = o_reads * layer.acc_bits / 8.0
    port = max(arr_a / hw.port_a, arr_b / hw.port_b, arr_o_write / hw.port_o_write,
               arr_o_read / hw.port_o_read if arr_o_read > 0 else 0.0)
    busy = max(compute, port, layer.fused_vec_cycles / batch)
    out.compute = batch * compute
    out.busy = batch * busy
    out.dram_a = batch * a_dram
    out.dram_b = batch * b_dram
    out.dram_o_write = batch * (psum + o_final + layer.chain_write_bytes)
    out.dram_o_read = batch * psum
    out.arr_a = batch * arr_a
    out.arr_b = batch * arr_b
    out.arr_o_write = batch * arr_o_write
    out.arr_o_read = batch * arr_o_read
    out.chip_o_write = batch * (out_bytes - o_final)
    out.steps = batch * float(t_m * t_n * t_k)
    _energy(layer, hw, out)


@njit
def layer_cycles(layer, hw, out):
    """Cycles of the traffic and compute in `out` on `hw`: the only part of a cost that depends on
    DRAM speed, latency and launch overhead (so a search can be re-ranked for new ones cheaply)."""
    if layer.vector:
        if layer.fused:
            return 0.0
        loads = out.dram_a + out.dram_b if hw.double_a else 0.0
        writes = out.dram_o_write if hw.double_o else 0.0
        serial = (0.0 if hw.double_a else out.dram_a + out.dram_b) + (0.0 if hw.double_o else out.dram_o_write)
        return _pipeline(hw, out.steps, out.busy, loads, writes, serial,
                         out.dram_a + out.dram_b + out.dram_o_write > 0)
    loads = (out.dram_a if hw.double_a else 0.0) + (out.dram_b if hw.double_b else 0.0) + (
        out.dram_o_read if hw.double_o else 0.0)
    writes = out.dram_o_write if hw.double_o else 0.0
    serial = (0.0 if hw.double_a else out.dram_a) + (0.0 if hw.double_b else out.dram_b) + (
        0.0 if hw.double_o else out.dram_o_read + out.dram_o_write)
    total = out.dram_a + out.dram_b + out.dram_o_write + out.dram_o_read
    return max(_pipeline(hw, out.steps, out.busy, loads, writes, serial, total > 0), out.compute)


@njit
def cost_layer(layer, hw, tiling, out):
    """Cost of one layer under one tiling, written into the COST record `out`."""
    layer_traffic(layer, hw, tiling, out)
    out.cycles = layer_cycles(layer, hw, out)


@njit
def _energy(layer, hw, out):
    """DRAM, buffer (fills, array reads and writes, drains) and wire energy of `out`'s traffic."""
    dram = out.dram_a + out.dram_b + out.dram_o_write + out.dram_o_read
    buf_a = out.dram_a + out.arr_a
    buf_b = out.dram_b + out.arr_b
    buf_o = out.arr_o_write + out.arr_o_read + out.dram_o_write + out.dram_o_read + out.chip_o_write
    e = dram * hw.e_dram + buf_a * hw.e_buf_a + buf_b * hw.e_buf_b + buf_o * hw.e_buf_o
    e += out.chip_o_write * hw.e_buf_a          # handed over into the next layer's input buffer
    if not layer.vector:
        e += (out.arr_a + out.arr_b + out.arr_o_write + out.arr_o_read) * hw.e_noc
    out.energy_pj = e


@njit
def cost_all(layers, tilings, hw, out):
    """Cost every layer record under its tiling (the engine's one kernel call). It lives beside
    the kernels it calls: numba's disk cache only notices edits to the caller's own file."""
    for i in range(len(layers)):
        cost_layer(layers[i], hw[0], tilings[i], out[i])


# --- objectives ----------------------------------------------------------------------------------
# latency: fewest cycles; among tilings within NEAR_TIE of the fewest, the least energy (so a
# compute-bound layer does not pick a tiling that moves more DRAM bytes for nothing). energy: the
# reverse. edp: cycles x energy. The MAC and register energy do not depend on the tiling; it is
# passed in (`fixed_energy`) so that EDP ranks whole-layer energy.
OBJ_LATENCY, OBJ_ENERGY, OBJ_EDP = 0, 1, 2
OBJECTIVES = {"latency": OBJ_LATENCY, "energy": OBJ_ENERGY, "edp": OBJ_EDP}
OBJ_DRAM = 3          # the fewest DRAM bytes, exactly (then cycles): how SCALE-Sim's fixed tiles pick a fold order
NEAR_TIE = 0.01


@njit
def _metrics(objective, cost, fixed_energy):
    """(primary, secondary) figures of a cost for `objective`."""
    energy = cost.energy_pj + fixed_energy
    if objective == OBJ_LATENCY:
        return cost.cycles, energy
    if objective == OBJ_DRAM:
        return cost.dram_a + cost.dram_b + cost.dram_o_write + cost.dram_o_read, cost.cycles
    if objective == OBJ_ENERGY:
        return energy, cost.cycles
    return cost.cycles * energy, cost.cycles


@njit
def _nontrivial_rank(order, t_m, t_n, t_k):
    """`order` with its one-trip loops dropped, as one integer (loops of one trip do not matter)."""
    key = 0
    for p in range(3):
        d = ORDERS[order, p]
        trips = t_m if d == DIM_M else (t_n if d == DIM_N else t_k)
        if trips > 1:
            key = key * 4 + d + 1
    return key


@njit
def _distinct_order(order, t_m, t_n, t_k):
    """False when an earlier order ranks the loops with more than one trip the same way."""
    key = _nontrivial_rank(order, t_m, t_n, t_k)
    for earlier in range(order):
        if _nontrivial_rank(earlier, t_m, t_n, t_k) == key:
            return False
    return True


@njit
def candidate_costs(layer, hw, tm_list, tn_list, tk_list, scratch, picks, costs):
    """Cost every distinct (tm, tn, tk, order) of the candidate lists into `picks` and `costs`
    (cycles excepted: see `layer_cycles`); returns how many. `scratch` is one TILING record."""
    trial = scratch[0]
    count = 0
    for tm in tm_list:
        for tn in tn_list:
            if layer.full_rows and tn < layer.n:
                continue
            for tk in tk_list:
                if layer.full_rows:
                    a_ok, b_ok, o_ok = tile_fits(layer, hw, tm, tn, tk)
                    if not o_ok:
                        continue
                t_m, t_n, t_k = _ceil_div(layer.m, tm), _ceil_div(layer.n, tn), _ceil_div(layer.k, tk)
                for order in range(len(ORDERS)):
                    if not _distinct_order(order, t_m, t_n, t_k):
                        continue
                    trial.tm = tm
                    trial.tn = tn
                    trial.tk = tk
                    trial.order = order
                    layer_traffic(layer, hw, trial, costs[count])
                    picks[count, 0] = tm
                    picks[count, 1] = tn
                    picks[count, 2] = tk
                    picks[count, 3] = order
                    count += 1
    return count


@njit
def _no_worse(a, b):
    """True when cost `a` is no worse than `b` on every figure a ranking reads, for any DRAM
    speed, latency and launch cost: cycles grow with each of them at a fixed step count."""
    return (a.steps == b.steps and a.dram_a <= b.dram_a and a.dram_b <= b.dram_b
            and a.dram_o_write <= b.dram_o_write and a.dram_o_read <= b.dram_o_read
            and a.busy <= b.busy and a.compute <= b.compute and a.energy_pj <= b.energy_pj)


@njit
def undominated(costs, count, keep):
    """Mark in `keep` the candidates no earlier candidate is no worse than; returns how many.
    `choose` never picks a dropped one (an earlier one ranks at least as well and wins ties), so
    dropping them changes no result. Only candidates of equal step count can dominate each other:
    each such group is scanned in index order against its kept members (dominance is transitive)."""
    steps = np.empty(count)
    for j in range(count):
        steps[j] = costs[j].steps
    by_steps = np.argsort(steps, kind="mergesort")      # stable: index order within a group
    kept = np.empty(count, dtype=np.int64)
    total = 0
    start = 0
    while start < count:
        end = start
        while end < count and steps[by_steps[end]] == steps[by_steps[start]]:
            end += 1
        n = 0
        for p in range(start, end):
            j = by_steps[p]
            keep[j] = True
            for q in range(n):
                if _no_worse(costs[kept[q]], costs[j]):
                    keep[j] = False
                    break
            if keep[j]:
                kept[n] = j
                n += 1
        total += n
        start = end
    return total


@njit
def choose(layer, hw, costs, count, objective, fixed_energy):
    """Index of the best of the first `count` candidate costs on `hw`: the best primary figure,
    then the best secondary among those within NEAR_TIE of it (-1 if there is none)."""
    if count == 0:
        return -1
    primary = np.empty(count)
    secondary = np.empty(count)
    for i in range(count):
        costs[i].cycles = layer_cycles(layer, hw, costs[i])
        primary[i], secondary[i] = _metrics(objective, costs[i], fixed_energy)
    floor = primary.min()
    band = 0.0 if objective == OBJ_DRAM else NEAR_TIE
    chosen = -1
    for i in range(count):
        if primary[i] <= floor * (1.0 + band) and (chosen < 0 or secondary[i] < secondary[chosen]):
            chosen = i
    return chosen


@njit
def choose_all(layers, hw, costs, offsets, objective, fixed_energy, chosen):
    """For each layer u, the index into `costs` of its best candidate among costs[offsets[u]:
    offsets[u + 1]] (see `choose`), or -1 when it has none."""
    for u in range(len(layers)):
        lo, hi = offsets[u], offsets[u + 1]
        pick = choose(layers[u], hw, costs[lo:hi], hi - lo, objective, fixed_energy[u])
        chosen[u] = lo + pick if pick >= 0 else -1
