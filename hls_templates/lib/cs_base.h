// cs_base.h - the layer descriptor every kernel reads, op and dataflow codes, small helpers.
// Hand-written part of the vit-codesign HLS library; the descriptor table itself is generated.
#ifndef CS_BASE_H
#define CS_BASE_H

#include "ap_int.h"
#include "ap_fixed.h"

// C simulation runs the tile loops one after another on the host stack; the tile buffers are
// as large as the design's on-chip buffers (megabytes), so outside synthesis they are static.
#ifndef __SYNTHESIS__
#define CS_CSIM_STATIC static
#else
#define CS_CSIM_STATIC
#endif

// The counting build of the testbench (g++ -DCS_COUNT_CYCLES_BUILD, no Vitis). Compute loops add
// their trip count times the II their pragmas request (all II=1) to cycle_count(); DRAM accesses are
// tallied in words per AXI port (cs_dram.h), one beat per word a loop touches; a stage takes the
// larger of its loop cycles, each port's beats and its bytes at the DRAM's sustained rate.
#ifdef CS_COUNT_CYCLES_BUILD
#define CS_COUNT_CYCLES(n) (cs::cycle_count() += (long long)(n))
#else
#define CS_COUNT_CYCLES(n) ((void)0)
#endif

namespace cs {

inline long long &cycle_count() {
    static long long count = 0;
    return count;
}

// The tile pipeline's stages summed without overlap (counting build): 0 load, 1 compute, 2 store.
inline long long *stage_counts() {
    static long long counts[3] = {0, 0, 0};
    return counts;
}

// What a layer does (LayerDesc::kind).
enum OpCode { OP_GEMM = 0, OP_CONV = 1, OP_SOFTMAX = 2, OP_LAYERNORM = 3, OP_GELU = 4, OP_RELU = 5, OP_ADD = 6,
              OP_POOL_MAX = 7, OP_POOL_AVG = 8, OP_LUT = 9 };
// Which operand the PE array keeps (LayerDesc::dataflow): weight, output or input stationary.
enum DataflowCode { DF_WS = 0, DF_OS = 1, DF_IS = 2 };
// Where an operand lives in DRAM (LayerDesc::b_src).
enum ArenaCode { ARENA_ACT = 0, ARENA_WGT = 1 };

// One layer of the model. Offsets (*_off) are in DRAM words of the arena named by the field, bases
// (*_base) in elements from there; strides and counts are in elements. A GEMM is `batch` products
// O[m][n] = sum_k A[m][k] * B[k][n], cut into tile_m x tile_n x tile_k tiles (the Schedule's) that
// run in loop_order (CS_LOOP_ORDERS); with spill set, partial sums go to DRAM between k tiles.
struct LayerDesc {
    int kind, variant, dataflow;
    int w_bits, a_bits, o_bits, in_frac, out_frac;
    int m, n, k, batch;
    int tile_m, tile_n, tile_k, m_tiles, n_tiles, k_tiles, k_folds, loop_order, spill;  // see cs_gemm.h
    int sim_row_folds, sim_col_folds;                   // the simulator's fold grid of the whole layer
    int images, in_h, in_w, in_c, kh, kw, stride_h, stride_w, pad_h, pad_w, out_h, out_w;
    int a_off, a_base, a_bstride, a_mstride;
    int b_src, b_off, b_base, b_bstride, b_nstride, b_kstride;
    int o_off, o_base, o_bstride, o_mstride;
    int psum_off;                                       // partial sums (accumulator width, activation arena)
    int bias_off, mult_off, shift_off, per_channel;     // requantisation parameters (weight arena)
    int rows, row_len, elems, in2_elems;                // vector unit layers
};

inline int ceil_div(int a, int b) { return (a + b - 1) / b; }
inline int min_int(int a, int b) { return a < b ? a : b; }

// Saturate a wide signed value to a BITS-wide two's-complement integer.
template <int BITS, int W>
ap_int<BITS> saturate(ap_int<W> v) {
    const ap_int<W> hi = (ap_int<W>(1) << (BITS - 1)) - 1;
    const ap_int<W> lo = -(ap_int<W>(1) << (BITS - 1));
    return ap_int<BITS>(v > hi ? hi : (v < lo ? lo : v));
}

}  // namespace cs
#endif
