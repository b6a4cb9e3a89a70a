// cs_gemm.h - a GEMM or convolution layer as a stream of output tiles: load | compute | store.
// Tiles of every dimension (k included) from the Schedule; the tile loop is a DATAFLOW region.
#ifndef CS_GEMM_H
#define CS_GEMM_H

#include "cs_buffers.h"
#include "cs_config.h"
#include "cs_dram.h"
#include "cs_pe_array.h"

namespace cs {

// Tile t of a layer: tiles run batch-major, then the three tile loops in the Schedule's order
// (CS_LOOP_ORDERS[loop_order], outermost first over M, N, K).
struct TileCoord {
    int b, m0, tm, n0, tn, k0, tk;
    bool first, last;           // the first / last k tile of its output tile
};

inline TileCoord tile_coord(const LayerDesc &d, int t) {
#pragma HLS INLINE
    const int trips[3] = {d.m_tiles, d.n_tiles, d.k_tiles};
    const int per_batch = d.m_tiles * d.n_tiles * d.k_tiles;
    int idx[3];
    int rem = t % per_batch;
    ORDER: for (int p = 2; p >= 0; --p) {
#pragma HLS UNROLL
        const int dim = CS_LOOP_ORDERS[d.loop_order][p];
        idx[dim] = rem % trips[dim];
        rem /= trips[dim];
    }
    TileCoord c;
    c.b = t / per_batch;
    c.m0 = idx[0] * d.tile_m;
    c.tm = min_int(d.tile_m, d.m - c.m0);
    c.n0 = idx[1] * d.tile_n;
    c.tn = min_int(d.tile_n, d.n - c.n0);
    c.k0 = idx[2] * d.tile_k;
    c.tk = min_int(d.tile_k, d.k - c.k0);
    c.first = idx[2] == 0;
    c.last = idx[2] == d.k_tiles - 1;
    return c;
}

// Loads of one tile: the A tile (tm x tk), the B panel (tn x tk), the requantisation parameters and,
// when partial sums spill, the output tile's partial sums so far.
template <class P>
void gemm_load(const LayerDesc d, int t, const dram_word_t *act_in, const dram_word_t *act_b, const dram_word_t *wgt,
               ifmap_word_t a_tile[CS_IFMAP_FILL_WORDS], weight_word_t b_tile[CS_WEIGHT_FILL_WORDS],
               acc_t bias[CS_MAX_TILE_N], ap_uint<CS_MULT_BITS> mult[CS_MAX_TILE_N], int shift[1],
               ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS]) {
    const TileCoord c = tile_coord(d, t);
    const TileCoord p = tile_coord(d, t > 0 ? t - 1 : 0);
    // an operand tile the previous tile already brought is held, not fetched again (the cost model's
    // rule for a tile that fits its buffer's fill half)
    const bool same_a = t > 0 && p.b == c.b && p.m0 == c.m0 && p.k0 == c.k0;
    const bool same_b = t > 0 && p.b == c.b && p.n0 == c.n0 && p.k0 == c.k0;
    if (!same_a) load_a_tile<P>(d, c.b, c.m0, c.tm, c.k0, c.tk, act_in, a_tile);
    if (!same_b) {
        load_b_panel<P>(d, c.b, c.n0, c.tn, c.k0, c.tk, act_b, wgt, b_tile);
        load_params<P>(d, c.b, c.n0, c.tn, wgt, bias, mult, shift);
    }
    if (d.spill && !c.first) load_psums(d, c.b, c.m0, c.tm, c.n0, c.tn, act_in, o_tile);
}

template <class P>
void gemm_compute(const LayerDesc d, int t, const ifmap_word_t a_tile[CS_IFMAP_FILL_WORDS],
                  const weight_word_t b_tile[CS_WEIGHT_FILL_WORDS], ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS]) {
    const TileCoord c = tile_coord(d, t);
    if (d.dataflow == DF_WS) {
        pe_array_ws<P>(c.tm, c.tn, c.tk, c.first, a_tile, b_tile, o_tile);
    } else if (d.dataflow == DF_OS) {
        pe_array_os<P>(c.tm, c.tn, c.tk, c.first, a_tile, b_tile, o_tile);
    } else {
        pe_array_is<P>(c.tm, c.tn, c.tk, c.first, a_tile, b_tile, o_tile);
    }
}

template <class P>
void gemm_store(const LayerDesc d, int t, const acc_t bias[CS_MAX_TILE_N],
                const ap_uint<CS_MULT_BITS> mult[CS_MAX_TILE_N], const int shift[1],
                const ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS], dram_word_t *act_out) {
    const TileCoord c = tile_coord(d, t);
    if (c.last) {
        store_o_tile<P>(d, c.b, c.m0, c.tm, c.n0, c.tn, bias, mult, shift, o_tile, act_out);
    } else if (d.spill) {
        store_psums(d, c.b, c.m0, c.tm, c.n0, c.tn, o_tile, act_out);
    }
}

#ifdef CS_COUNT_CYCLES_BUILD
// The counting build's model of the tile pipeline. With ping-pong A and B buffers the loads of tile
// t + 1 run beside the compute of tile t (a slot takes the longer of the two); the output tile is
// double-buffered too, so an output tile's write-back drains beside the slots of the next one,
// sharing the DRAM with their loads. A group of slots between two write-backs takes the longer of
// its slots and its DRAM traffic (loads plus the write-back in flight); the first load and the last
// compute and write-back are exposed. The simulator's model (accel_sim/cost_model.py) is the same
// with per-step averages. With single buffers everything runs in series.
struct TilePipeline {
    bool overlap, started;
    long long sum, slots, pending_compute;
    Tally loads, in_flight;
    static Tally none() {
        Tally z;
        z.cycles = 0;
        for (int p = 0; p < DRAM_PORTS; ++p) z.beats[p] = 0;
        return z;
    }
    explicit TilePipeline(bool o)
        : overlap(o), started(false), sum(0), slots(0), pending_compute(0), loads(none()), in_flight(none()) {}
    void close_group() {
        const long long io = stage_cycles(concurrent(loads, in_flight));
        sum += io > slots ? io : slots;
        slots = 0;
        loads = none();
        in_flight = none();
    }
    void step(const Tally &load, long long compute, const Tally &store) {
        if (!overlap) {
            sum += stage_cycles(load) + compute + stage_cycles(store);
            return;
        }
        if (!started) {
            sum += stage_cycles(load);
            started = true;
        } else {
            const long long l = stage_cycles(load);
            slots += l > pending_compute ? l : pending_compute;
            loads = concurrent(loads, load);
        }
        pending_compute = compute;
        if (stage_cycles(store) > 0) {      // a write-back: it drains beside the next group of slots
            close_group();
            in_flight = store;
        }
    }
    long long total() {
        if (!overlap) return sum;
        const Tally last = in_flight;
        in_flight = none();
        close_group();
        return sum + pending_compute + stage_cycles(last);
    }
};
#endif

// Loads of tile t + 1, compute of tile t and the write-back of tile t - 1 overlap: the A and B tile
// buffers are ping-pong channels (two halves of the on-chip buffer) when the design double-buffers
// them, and one shared buffer (no overlap) when it does not (CS_*_CHANNEL in cs_config.h). The
// output tile accumulates over the k tiles of one output tile, so it is shared by the load (spilled
// partial sums), the compute and the store, which writes it back after the last k tile. Each AXI
// port is used by one process: act_in, act_b and wgt by the load, act_out by the store.
template <class P>
void gemm_tiles(const LayerDesc d, int n_tiles, const dram_word_t *act_in, const dram_word_t *act_b, const dram_word_t *wgt,
                dram_word_t *act_out) {
    CS_CSIM_STATIC ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS];    // lives across the k tiles
#ifdef CS_COUNT_CYCLES_BUILD
    TilePipeline pipeline(CS_IFMAP_DOUBLE_BUFFERED && CS_WEIGHT_DOUBLE_BUFFERED && CS_OFMAP_DOUBLE_BUFFERED);
#endif
#pragma HLS ARRAY_PARTITION variable=o_tile type=cyclic factor=CS_OFMAP_BANKS
    TILES: for (int t = 0; t < n_tiles; t++) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILES
#pragma HLS DATAFLOW
        CS_CSIM_STATIC ifmap_word_t a_tile[CS_IFMAP_FILL_WORDS];
        CS_CSIM_STATIC weight_word_t b_tile[CS_WEIGHT_FILL_WORDS];
        acc_t bias[CS_MAX_TILE_N];                      // requantisation parameters of the tile's columns
        ap_uint<CS_MULT_BITS> mult[CS_MAX_TILE_N];
        int shift[1];
CS_IFMAP_CHANNEL(a_tile)
CS_WEIGHT_CHANNEL(b_tile)
#pragma HLS stream variable=o_tile type=shared
#pragma HLS ARRAY_PARTITION variable=a_tile type=cyclic factor=CS_IFMAP_BANKS
#pragma HLS ARRAY_PARTITION variable=b_tile type=cyclic factor=CS_WEIGHT_BANKS
#ifdef CS_COUNT_CYCLES_BUILD
        const Tally before = tally_now();
        gemm_load<P>(d, t, act_in, act_b, wgt, a_tile, b_tile, bias, mult, shift, o_tile);
        const Tally loaded = tally_now();
        gemm_compute<P>(d, t, a_tile, b_tile, o_tile);
        const Tally computed = tally_now();
        gemm_store<P>(d, t, bias, mult, shift, o_tile, act_out);
        const Tally load = tally_between(before, loaded), store = tally_between(computed, tally_now());
        const long long compute = computed.cycles - loaded.cycles;
        stage_counts()[0] += stage_cycles(load);
        stage_counts()[1] += compute;
        stage_counts()[2] += stage_cycles(store);
        pipeline.step(load, compute, store);
        cycle_count() = before.cycles;
#else
        gemm_load<P>(d, t, act_in, act_b, wgt, a_tile, b_tile, bias, mult, shift, o_tile);
        gemm_compute<P>(d, t, a_tile, b_tile, o_tile);
        gemm_store<P>(d, t, bias, mult, shift, o_tile, act_out);
#endif
    }
    CS_COUNT_CYCLES(pipeline.total());
}

template <class P>
void gemm_layer(const LayerDesc &d, const dram_word_t *act_in, const dram_word_t *act_b, const dram_word_t *wgt,
                dram_word_t *act_out) {
    gemm_tiles<P>(d, d.batch * d.m_tiles * d.n_tiles * d.k_tiles, act_in, act_b, wgt, act_out);
}

}  // namespace cs
#endif
