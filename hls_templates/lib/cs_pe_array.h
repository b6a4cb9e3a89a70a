// cs_pe_array.h - the R x C PE array under each dataflow, on one output tile held in the ofmap buffer.
// WS pins an R x C weight block, OS keeps R x C outputs in the PEs, IS pins an R x C block of A.
#ifndef CS_PE_ARRAY_H
#define CS_PE_ARRAY_H

#include "cs_binary.h"
#include "cs_config.h"
#include "cs_pack.h"

namespace cs {

// Weight stationary: rows hold k, columns hold n, the tm rows of A stream through; each K fold
// adds its partial sums to the tile in the ofmap buffer. A binary B operand (W_BITS == 1) runs
// as XNOR-popcount over the R rows, the activations bit-serially (one pass per bit plane).
template <class P>
void pe_array_ws(const LayerDesc &d, int tm, int tn, const ifmap_word_t a_tile[CS_IFMAP_FILL_WORDS],
                 const weight_word_t b_tile[CS_WEIGHT_FILL_WORDS], ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS]) {
    typedef typename Value<P::W_BITS>::type w_val_t;
    typedef typename Value<P::A_BITS>::type a_val_t;
    const bool xnor = P::W_BITS == 1;
    w_val_t w_reg[P::ROWS][P::COLS];          // the pinned weight block, one register per PE
    ap_uint<P::ROWS> w_col[P::COLS];          // the same block packed per column (XNOR path)
#pragma HLS ARRAY_PARTITION variable=w_reg type=complete dim=0
#pragma HLS ARRAY_PARTITION variable=w_col type=complete dim=1
    K_FOLDS: for (int kb = 0; kb < d.k_folds; ++kb) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_K_FOLDS
        const int k0 = kb * P::ROWS;
        const int kv = min_int(P::ROWS, d.k - k0);
        const ap_uint<P::ROWS> mask = low_mask<P::ROWS>(kv);
        PIN: for (int c = 0; c < P::COLS; ++c) {
            for (int r = 0; r < P::ROWS; ++r) {
#pragma HLS PIPELINE II=1
                const bool live = r < kv && c < tn;
                const ap_uint<P::W_BITS> raw = live ? get_raw<P::W_BITS, CS_WEIGHT_WORD_BITS>(b_tile, c * d.k + k0 + r)
                                                    : ap_uint<P::W_BITS>(0);
                w_reg[r][c] = live ? decode<P::W_BITS>(raw) : w_val_t(0);
                w_col[c][r] = raw[0];
            }
        }
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
                a_raw[r] = r < kv ? get_raw<P::A_BITS, CS_IFMAP_WORD_BITS>(a_tile, i * d.k + k0 + r)
                                  : ap_uint<P::A_BITS>(0);
                a_vec[r] = r < kv ? decode<P::A_BITS>(a_raw[r]) : a_val_t(0);
            }
            if (xnor) bit_planes<P::A_BITS, P::ROWS>(a_raw, planes);
            COLS: for (int c = 0; c < P::COLS; ++c) {
#pragma HLS UNROLL
                if (c >= tn) continue;
                acc_t psum = kb == 0 ? acc_t(0) : acc_t(get_raw<CS_ACCUM_BITS, CS_OFMAP_WORD_BITS>(o_tile, i * tn + c));
                if (xnor) {
                    psum += binary_dot<P::A_BITS, P::ROWS>(planes, w_col[c], mask, kv);
                } else {
                    ROWS: for (int r = 0; r < P::ROWS; ++r) {
#pragma HLS UNROLL
                        psum += a_vec[r] * w_reg[r][c];
                    }
                }
                put_raw<CS_ACCUM_BITS, CS_OFMAP_WORD_BITS>(o_tile, i * tn + c, ap_uint<CS_ACCUM_BITS>(psum));
            }
        }
    }
}

// Output stationary: rows hold m, columns hold n, K streams through; the outputs stay in the
// PEs until the fold ends (binary operands take the multiply path: +-1 is a sign select).
template <class P>
void pe_array_os(const LayerDesc &d, int tm, int tn, const ifmap_word_t a_tile[CS_IFMAP_FILL_WORDS],
                 const weight_word_t b_tile[CS_WEIGHT_FILL_WORDS], ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS]) {
    acc_t acc[P::ROWS][P::COLS];
#pragma HLS ARRAY_PARTITION variable=acc type=complete dim=0
    CLEAR: for (int r = 0; r < P::ROWS; ++r)
        for (int c = 0; c < P::COLS; ++c) acc[r][c] = 0;
    STREAM_K: for (int kk = 0; kk < d.k; ++kk) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_K
#pragma HLS PIPELINE II=1
        typename Value<P::A_BITS>::type a_col[P::ROWS];   // column kk of the A block, one per PE row
        typename Value<P::W_BITS>::type b_row[P::COLS];   // row kk of the B block, one per PE column
#pragma HLS ARRAY_PARTITION variable=a_col type=complete
#pragma HLS ARRAY_PARTITION variable=b_row type=complete
        A_IN: for (int r = 0; r < P::ROWS; ++r) {
#pragma HLS UNROLL
            a_col[r] = 0;
            if (r < tm) a_col[r] = get_value<P::A_BITS, CS_IFMAP_WORD_BITS>(a_tile, r * d.k + kk);
        }
        B_IN: for (int c = 0; c < P::COLS; ++c) {
#pragma HLS UNROLL
            b_row[c] = 0;
            if (c < tn) b_row[c] = get_value<P::W_BITS, CS_WEIGHT_WORD_BITS>(b_tile, c * d.k + kk);
        }
        ROWS: for (int r = 0; r < P::ROWS; ++r) {
#pragma HLS UNROLL
            if (r >= tm) continue;
            COLS: for (int c = 0; c < P::COLS; ++c) {
#pragma HLS UNROLL
                acc[r][c] += a_col[r] * b_row[c];
            }
        }
    }
    DRAIN: for (int r = 0; r < tm; ++r)
        for (int c = 0; c < tn; ++c) {
#pragma HLS PIPELINE II=1
            put_raw<CS_ACCUM_BITS, CS_OFMAP_WORD_BITS>(o_tile, r * tn + c, ap_uint<CS_ACCUM_BITS>(acc[r][c]));
        }
}

// Input stationary: rows hold k, columns hold m, the tn columns of B stream through; each K
// fold adds its partial sums to the tile in the ofmap buffer. A binary B runs as XNOR-popcount
// against the pinned activations' bit planes.
template <class P>
void pe_array_is(const LayerDesc &d, int tm, int tn, const ifmap_word_t a_tile[CS_IFMAP_FILL_WORDS],
                 const weight_word_t b_tile[CS_WEIGHT_FILL_WORDS], ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS]) {
    typedef typename Value<P::W_BITS>::type w_val_t;
    typedef typename Value<P::A_BITS>::type a_val_t;
    const bool xnor = P::W_BITS == 1;
    a_val_t a_reg[P::ROWS][P::COLS];              // the pinned block of A (k x m), one per PE
    ap_uint<P::ROWS> a_planes[P::COLS][P::A_BITS];
#pragma HLS ARRAY_PARTITION variable=a_reg type=complete dim=0
#pragma HLS ARRAY_PARTITION variable=a_planes type=complete dim=0
    K_FOLDS: for (int kb = 0; kb < d.k_folds; ++kb) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_K_FOLDS
        const int k0 = kb * P::ROWS;
        const int kv = min_int(P::ROWS, d.k - k0);
        const ap_uint<P::ROWS> mask = low_mask<P::ROWS>(kv);
        PIN: for (int c = 0; c < P::COLS; ++c) {
            ap_uint<P::A_BITS> col_raw[P::ROWS];
            for (int r = 0; r < P::ROWS; ++r) {
#pragma HLS PIPELINE II=1
                const bool live = r < kv && c < tm;
                col_raw[r] = live ? get_raw<P::A_BITS, CS_IFMAP_WORD_BITS>(a_tile, c * d.k + k0 + r)
                                  : ap_uint<P::A_BITS>(0);
                a_reg[r][c] = live ? decode<P::A_BITS>(col_raw[r]) : a_val_t(0);
            }
            if (xnor) bit_planes<P::A_BITS, P::ROWS>(col_raw, a_planes[c]);
        }
        STREAM_N: for (int j = 0; j < tn; ++j) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILE_N
#pragma HLS PIPELINE II=1
            ap_uint<P::ROWS> b_bits = 0;
            w_val_t b_vec[P::ROWS];
#pragma HLS ARRAY_PARTITION variable=b_vec type=complete
            B_IN: for (int r = 0; r < P::ROWS; ++r) {
#pragma HLS UNROLL
                const ap_uint<P::W_BITS> raw = r < kv ? get_raw<P::W_BITS, CS_WEIGHT_WORD_BITS>(b_tile, j * d.k + k0 + r)
                                                      : ap_uint<P::W_BITS>(0);
                b_bits[r] = raw[0];
                b_vec[r] = r < kv ? decode<P::W_BITS>(raw) : w_val_t(0);
            }
            COLS: for (int c = 0; c < P::COLS; ++c) {
#pragma HLS UNROLL
                if (c >= tm) continue;
                acc_t psum = kb == 0 ? acc_t(0) : acc_t(get_raw<CS_ACCUM_BITS, CS_OFMAP_WORD_BITS>(o_tile, c * tn + j));
                if (xnor) {
                    psum += binary_dot<P::A_BITS, P::ROWS>(a_planes[c], b_bits, mask, kv);
                } else {
                    ROWS: for (int r = 0; r < P::ROWS; ++r) {
#pragma HLS UNROLL
                        psum += a_reg[r][c] * b_vec[r];
                    }
                }
                put_raw<CS_ACCUM_BITS, CS_OFMAP_WORD_BITS>(o_tile, c * tn + j, ap_uint<CS_ACCUM_BITS>(psum));
            }
        }
    }
}

}  // namespace cs
#endif
