// cs_gemm.h - a GEMM or convolution layer as a stream of output tiles: load | compute | store.
// The tile loop is a DATAFLOW region; its tile buffers are the design's on-chip buffers.
#ifndef CS_GEMM_H
#define CS_GEMM_H

#include "cs_buffers.h"
#include "cs_config.h"
#include "cs_pe_array.h"

namespace cs {

// Output tile t of a layer: tiles run batch-major, then m, then n (n fastest).
struct TileCoord {
    int b, m0, tm, n0, tn;
};

inline TileCoord tile_coord(const LayerDesc &d, int t) {
#pragma HLS INLINE
    TileCoord c;
    const int nt = t % d.n_tiles;
    const int mt = (t / d.n_tiles) % d.m_tiles;
    c.b = t / (d.n_tiles * d.m_tiles);
    c.m0 = mt * d.tile_m;
    c.tm = min_int(d.tile_m, d.m - c.m0);
    c.n0 = nt * d.tile_n;
    c.tn = min_int(d.tile_n, d.n - c.n0);
    return c;
}

template <class P>
void gemm_load(const LayerDesc d, int t, const dram_word_t *act_in, const dram_word_t *wgt,
               ifmap_word_t a_tile[CS_IFMAP_FILL_WORDS], weight_word_t b_tile[CS_WEIGHT_FILL_WORDS],
               acc_t bias[CS_MAX_TILE_N], ap_uint<CS_MULT_BITS> mult[CS_MAX_TILE_N], int shift[1]) {
    const TileCoord c = tile_coord(d, t);
    load_a_tile<P>(d, c.b, c.m0, c.tm, act_in, a_tile);
    load_b_panel<P>(d, c.b, c.n0, c.tn, act_in, wgt, b_tile);
    load_params<P>(d, c.b, c.n0, c.tn, wgt, bias, mult, shift);
}

template <class P>
void gemm_compute(const LayerDesc d, int t, const ifmap_word_t a_tile[CS_IFMAP_FILL_WORDS],
                  const weight_word_t b_tile[CS_WEIGHT_FILL_WORDS], ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS]) {
    const TileCoord c = tile_coord(d, t);
    if (d.dataflow == DF_WS) {
        pe_array_ws<P>(d, c.tm, c.tn, a_tile, b_tile, o_tile);
    } else if (d.dataflow == DF_OS) {
        pe_array_os<P>(d, c.tm, c.tn, a_tile, b_tile, o_tile);
    } else {
        pe_array_is<P>(d, c.tm, c.tn, a_tile, b_tile, o_tile);
    }
}

template <class P>
void gemm_store(const LayerDesc d, int t, const acc_t bias[CS_MAX_TILE_N],
                const ap_uint<CS_MULT_BITS> mult[CS_MAX_TILE_N], const int shift[1],
                const ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS], dram_word_t *act_out) {
    const TileCoord c = tile_coord(d, t);
    store_o_tile<P>(d, c.b, c.m0, c.tm, c.n0, c.tn, bias, mult, shift, o_tile, act_out);
}

// Loads of tile t + 1, compute of tile t and the write-back of tile t - 1 overlap: each tile
// buffer is a ping-pong channel (two halves of the on-chip buffer) when the design double-buffers
// it, and one shared buffer (no overlap) when it does not (CS_*_CHANNEL in cs_config.h). Each AXI
// port is used by one process: act_in and wgt by the load, act_out by the store.
template <class P>
void gemm_tiles(const LayerDesc d, int n_tiles, const dram_word_t *act_in, const dram_word_t *wgt,
                dram_word_t *act_out) {
    TILES: for (int t = 0; t < n_tiles; t++) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILES
#pragma HLS DATAFLOW
        CS_CSIM_STATIC ifmap_word_t a_tile[CS_IFMAP_FILL_WORDS];
        CS_CSIM_STATIC weight_word_t b_tile[CS_WEIGHT_FILL_WORDS];
        CS_CSIM_STATIC ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS];
        acc_t bias[CS_MAX_TILE_N];                      // requantisation parameters of the tile's columns
        ap_uint<CS_MULT_BITS> mult[CS_MAX_TILE_N];
        int shift[1];
CS_IFMAP_CHANNEL(a_tile)
CS_WEIGHT_CHANNEL(b_tile)
CS_OFMAP_CHANNEL(o_tile)
#pragma HLS ARRAY_PARTITION variable=a_tile type=cyclic factor=CS_IFMAP_BANKS
#pragma HLS ARRAY_PARTITION variable=b_tile type=cyclic factor=CS_WEIGHT_BANKS
#pragma HLS ARRAY_PARTITION variable=o_tile type=cyclic factor=CS_OFMAP_BANKS
        gemm_load<P>(d, t, act_in, wgt, a_tile, b_tile, bias, mult, shift);
        gemm_compute<P>(d, t, a_tile, b_tile, o_tile);
        gemm_store<P>(d, t, bias, mult, shift, o_tile, act_out);
    }
}

template <class P>
void gemm_layer(const LayerDesc &d, const dram_word_t *act_in, const dram_word_t *wgt, dram_word_t *act_out) {
    gemm_tiles<P>(d, d.batch * d.m_tiles * d.n_tiles, act_in, wgt, act_out);
}

}  // namespace cs
#endif
