// cs_pe_array.h - the R x C PE array under each dataflow, on one tm x tn x tk tile (any size: it
// folds over the array). WS pins an R x C weight block, OS keeps R x C outputs, IS pins a block of A.
#ifndef CS_PE_ARRAY_H
#define CS_PE_ARRAY_H

#include "cs_binary.h"
#include "cs_config.h"
#include "cs_pack.h"

namespace cs {

// Every kernel adds to the output tile's accumulators in the ofmap buffer, except on the first k
// fold of the first k tile (first && kb == 0), where it starts from zero.

// Weight stationary: rows hold k, columns hold n, the tm rows of A stream through; each k fold and
// each column fold of the tile pins its own weight block. A binary B operand (W_BITS == 1) runs
// as XNOR-popcount over the R rows, the activations bit-serially (one pass per bit plane).
template <class P>
void pe_array_ws(int tm, int tn, int tk, bool first, const ifmap_word_t a_tile[CS_IFMAP_FILL_WORDS],
                 const weight_word_t b_tile[CS_WEIGHT_FILL_WORDS], ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS]) {
    typedef typename Value<P::W_BITS>::type w_val_t;
    typedef typename Value<P::A_BITS>::type a_val_t;
    const bool xnor = P::W_BITS == 1;
    w_val_t w_reg[P::ROWS][P::COLS];          // the pinned weight block, one register per PE
    ap_uint<P::ROWS> w_col[P::COLS];          // the same block packed per column (XNOR path)
#pragma HLS ARRAY_PARTITION variable=w_reg type=complete dim=0
#pragma HLS ARRAY_PARTITION variable=w_col type=complete dim=1
    K_FOLDS: for (int kb = 0; kb < ceil_div(tk, P::ROWS); ++kb) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_K_FOLDS
        const int k0 = kb * P::ROWS;
        const int kv = min_int(P::ROWS, tk - k0);
        const ap_uint<P::ROWS> mask = low_mask<P::ROWS>(kv);
        N_FOLDS: for (int nb = 0; nb < ceil_div(tn, P::COLS); ++nb) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_N_FOLDS
            const int c0 = nb * P::COLS;
            const int cv = min_int(P::COLS, tn - c0);
            PIN: for (int c = 0; c < P::COLS; ++c) {
                for (int r = 0; r < P::ROWS; ++r) {
#pragma HLS PIPELINE II=1
                    const bool live = r < kv && c < cv;
                    const ap_uint<P::W_BITS> raw = live ? get_raw<P::W_BITS, CS_WEIGHT_WORD_BITS>(b_tile, (c0 + c) * tk + k0 + r)
                                                        : ap_uint<P::W_BITS>(0);
                    w_reg[r][c] = live ? decode<P::W_BITS>(raw) : w_val_t(0);
                    w_col[c][r] = raw[0];
                }
            }
            CS_COUNT_CYCLES(P::ROWS * P::COLS);
            STREAM_M: for (int i = 0; i < tm; ++i) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILE_M
#pragma HLS PIPELINE II=1
                ap_uint<P::A_BITS> a_raw[P::ROWS];
                a_val_t a_vec[P::ROWS];
                ap_uint<P::ROWS> planes[P::A_BITS];
#pragma HLS ARRAY_PARTITION variable=a_raw type=complete
#pragma HLS ARRAY_PARTITION variable=a_vec type=complete
#pragma HLS ARRAY_PARTITION variable=planes type=complete
                A_IN: for (int r = 0; r < P::ROWS; ++r) {
#pragma HLS UNROLL
                    a_raw[r] = r < kv ? get_raw<P::A_BITS, CS_IFMAP_WORD_BITS>(a_tile, i * tk + k0 + r)
                                      : ap_uint<P::A_BITS>(0);
                    a_vec[r] = r < kv ? decode<P::A_BITS>(a_raw[r]) : a_val_t(0);
                }
                if (xnor) bit_planes<P::A_BITS, P::ROWS>(a_raw, planes);
                COLS: for (int c = 0; c < P::COLS; ++c) {
#pragma HLS UNROLL
                    if (c >= cv) continue;
                    const int o = i * tn + c0 + c;
                    acc_t psum = first && kb == 0 ? acc_t(0) : acc_t(get_raw<CS_ACCUM_BITS, CS_OFMAP_WORD_BITS>(o_tile, o));
                    if (xnor) {
                        psum += binary_dot<P::A_BITS, P::ROWS>(planes, w_col[c], mask, kv);
                    } else {
                        ROWS: for (int r = 0; r < P::ROWS; ++r) {
#pragma HLS UNROLL
                            psum += a_vec[r] * w_reg[r][c];
                        }
                    }
                    put_raw<CS_ACCUM_BITS, CS_OFMAP_WORD_BITS>(o_tile, o, ap_uint<CS_ACCUM_BITS>(psum));
                }
            }
            CS_COUNT_CYCLES(tm);
        }
    }
}

// Output stationary: rows hold m, columns hold n, the tile's k streams through; the sums stay in
// the PEs for one R x C block of the tile and drain to the ofmap buffer (binary operands take the
// multiply path: +-1 is a sign select).
template <class P>
void pe_array_os(int tm, int tn, int tk, bool first, const ifmap_word_t a_tile[CS_IFMAP_FILL_WORDS],
                 const weight_word_t b_tile[CS_WEIGHT_FILL_WORDS], ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS]) {
    acc_t acc[P::ROWS][P::COLS];
#pragma HLS ARRAY_PARTITION variable=acc type=complete dim=0
    M_FOLDS: for (int mb = 0; mb < ceil_div(tm, P::ROWS); ++mb) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_M_FOLDS
        const int r0 = mb * P::ROWS;
        const int rv = min_int(P::ROWS, tm - r0);
        N_FOLDS: for (int nb = 0; nb < ceil_div(tn, P::COLS); ++nb) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_N_FOLDS
            const int c0 = nb * P::COLS;
            const int cv = min_int(P::COLS, tn - c0);
            LOAD: for (int r = 0; r < P::ROWS; ++r)
                for (int c = 0; c < P::COLS; ++c) {
#pragma HLS PIPELINE II=1
                    const bool live = !first && r < rv && c < cv;
                    acc[r][c] = live ? acc_t(get_raw<CS_ACCUM_BITS, CS_OFMAP_WORD_BITS>(o_tile, (r0 + r) * tn + c0 + c))
                                     : acc_t(0);
                }
            if (!first) CS_COUNT_CYCLES(rv * cv);
            STREAM_K: for (int kk = 0; kk < tk; ++kk) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILE_K
#pragma HLS PIPELINE II=1
                typename Value<P::A_BITS>::type a_col[P::ROWS];   // column kk of the A block, one per PE row
                typename Value<P::W_BITS>::type b_row[P::COLS];   // row kk of the B block, one per PE column
#pragma HLS ARRAY_PARTITION variable=a_col type=complete
#pragma HLS ARRAY_PARTITION variable=b_row type=complete
                A_IN: for (int r = 0; r < P::ROWS; ++r) {
#pragma HLS UNROLL
                    a_col[r] = 0;
                    if (r < rv) a_col[r] = get_value<P::A_BITS, CS_IFMAP_WORD_BITS>(a_tile, (r0 + r) * tk + kk);
                }
                B_IN: for (int c = 0; c < P::COLS; ++c) {
#pragma HLS UNROLL
                    b_row[c] = 0;
                    if (c < cv) b_row[c] = get_value<P::W_BITS, CS_WEIGHT_WORD_BITS>(b_tile, (c0 + c) * tk + kk);
                }
                ROWS: for (int r = 0; r < P::ROWS; ++r) {
#pragma HLS UNROLL
                    if (r >= rv) continue;
                    COLS: for (int c = 0; c < P::COLS; ++c) {
#pragma HLS UNROLL
                        acc[r][c] += a_col[r] * b_row[c];
                    }
                }
            }
            CS_COUNT_CYCLES(tk);
            DRAIN: for (int r = 0; r < rv; ++r)
                for (int c = 0; c < cv; ++c) {
#pragma HLS PIPELINE II=1
                    put_raw<CS_ACCUM_BITS, CS_OFMAP_WORD_BITS>(o_tile, (r0 + r) * tn + c0 + c,
                                                               ap_uint<CS_ACCUM_BITS>(acc[r][c]));
                }
            CS_COUNT_CYCLES(rv * cv);
        }
    }
}

// Input stationary: rows hold k, columns hold m, the tn columns of B stream through; each k fold
// and each column fold pins its own block of A. A binary B runs as XNOR-popcount against the
// pinned activations' bit planes.
template <class P>
void pe_array_is(int tm, int tn, int tk, bool first, const ifmap_word_t a_tile[CS_IFMAP_FILL_WORDS],
                 const weight_word_t b_tile[CS_WEIGHT_FILL_WORDS], ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS]) {
    typedef typename Value<P::W_BITS>::type w_val_t;
    typedef typename Value<P::A_BITS>::type a_val_t;
    const bool xnor = P::W_BITS == 1;
    a_val_t a_reg[P::ROWS][P::COLS];              // the pinned block of A (k x m), one per PE
    ap_uint<P::ROWS> a_planes[P::COLS][P::A_BITS];
#pragma HLS ARRAY_PARTITION variable=a_reg type=complete dim=0
#pragma HLS ARRAY_PARTITION variable=a_planes type=complete dim=0
    K_FOLDS: for (int kb = 0; kb < ceil_div(tk, P::ROWS); ++kb) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_K_FOLDS
        const int k0 = kb * P::ROWS;
        const int kv = min_int(P::ROWS, tk - k0);
        const ap_uint<P::ROWS> mask = low_mask<P::ROWS>(kv);
        M_FOLDS: for (int mb = 0; mb < ceil_div(tm, P::COLS); ++mb) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_M_FOLDS
            const int c0 = mb * P::COLS;
            const int cv = min_int(P::COLS, tm - c0);
            PIN: for (int c = 0; c < P::COLS; ++c) {
                ap_uint<P::A_BITS> col_raw[P::ROWS];
                for (int r = 0; r < P::ROWS; ++r) {
#pragma HLS PIPELINE II=1
                    const bool live = r < kv && c < cv;
                    col_raw[r] = live ? get_raw<P::A_BITS, CS_IFMAP_WORD_BITS>(a_tile, (c0 + c) * tk + k0 + r)
                                      : ap_uint<P::A_BITS>(0);
                    a_reg[r][c] = live ? decode<P::A_BITS>(col_raw[r]) : a_val_t(0);
                }
                if (xnor) bit_planes<P::A_BITS, P::ROWS>(col_raw, a_planes[c]);
            }
            CS_COUNT_CYCLES(P::ROWS * P::COLS);
            STREAM_N: for (int j = 0; j < tn; ++j) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILE_N
#pragma HLS PIPELINE II=1
                ap_uint<P::ROWS> b_bits = 0;
                w_val_t b_vec[P::ROWS];
#pragma HLS ARRAY_PARTITION variable=b_vec type=complete
                B_IN: for (int r = 0; r < P::ROWS; ++r) {
#pragma HLS UNROLL
                    const ap_uint<P::W_BITS> raw = r < kv ? get_raw<P::W_BITS, CS_WEIGHT_WORD_BITS>(b_tile, j * tk + k0 + r)
                                                          : ap_uint<P::W_BITS>(0);
                    b_bits[r] = raw[0];
                    b_vec[r] = r < kv ? decode<P::W_BITS>(raw) : w_val_t(0);
                }
                COLS: for (int c = 0; c < P::COLS; ++c) {
#pragma HLS UNROLL
                    if (c >= cv) continue;
                    const int o = (c0 + c) * tn + j;
                    acc_t psum = first && kb == 0 ? acc_t(0) : acc_t(get_raw<CS_ACCUM_BITS, CS_OFMAP_WORD_BITS>(o_tile, o));
                    if (xnor) {
                        psum += binary_dot<P::A_BITS, P::ROWS>(a_planes[c], b_bits, mask, kv);
                    } else {
                        ROWS: for (int r = 0; r < P::ROWS; ++r) {
#pragma HLS UNROLL
                            psum += a_reg[r][c] * b_vec[r];
                        }
                    }
                    put_raw<CS_ACCUM_BITS, CS_OFMAP_WORD_BITS>(o_tile, o, ap_uint<CS_ACCUM_BITS>(psum));
                }
            }
            CS_COUNT_CYCLES(tn);
        }
    }
}

}  // namespace cs
#endif
