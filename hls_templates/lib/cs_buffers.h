// cs_buffers.h - the operand buffers' fill stages: DRAM -> A tile / B panel, O tile -> DRAM.
// A tile: tm rows x tk (row stride tk); B panel: tn columns x tk (k contiguous, the XNOR packing).
#ifndef CS_BUFFERS_H
#define CS_BUFFERS_H

#include "cs_config.h"
#include "cs_dram.h"
#include "cs_pack.h"
#include "cs_vector_unit.h"

namespace cs {

// One B operand element from either arena: the weight arena (weights) or the activation arena (the
// B operand of QK^T / A.V / matmul).
template <int BITS>
ap_uint<BITS> read_operand(int arena, const dram_word_t *act_b, const dram_word_t *wgt, int off, int idx) {
#pragma HLS INLINE
    ap_uint<BITS> raw;
    if (arena == ARENA_ACT) {
        raw = dram_get<BITS>(PORT_ACT_B, ST_B, act_b + off, idx);
    } else {
        raw = dram_get<BITS>(PORT_WGT, ST_B, wgt + off, idx);
    }
    return raw;
}

// The load and store loops are pipelined at II=1 and unrolled by the elements of one DRAM word
// (PER): each iteration moves one word of a stream that runs in address order, so a stage's beats
// are the words it touches (cs_dram.h).

// A convolution's A tile (rows m0 .. m0 + tm, columns k0 .. k0 + tk of its im2col matrix) from the
// input strip those output pixels need: each input row of the strip is read once, in DRAM address
// order, and every element is written to each A position that uses it (im2col on chip, one buffer
// word per bank a cycle). Positions that padding leaves are zeroed first (raw 0: value 0, or -1
// for binary activations).
template <class P>
void load_conv_strip(const LayerDesc &d, int b, int m0, int tm, int k0, int tk, const dram_word_t *act_in,
                     ifmap_word_t a_tile[CS_IFMAP_FILL_WORDS]) {
    const int PER = Packing<P::A_BITS, CS_DRAM_WORD_BITS>::PER_WORD;
    const int WRITE = CS_IFMAP_BANKS * Packing<P::A_BITS, CS_IFMAP_WORD_BITS>::PER_WORD;   // elements a cycle
    const dram_word_t *src = act_in + d.a_off;
    const int cin_g = d.in_c / d.batch, ohw = d.out_h * d.out_w, m_last = m0 + tm - 1;
    if (d.pad_h > 0 || d.pad_w > 0) {
        ZERO: for (int e = 0; e < tm * tk; ++e) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_IFMAP_FILL_WORDS
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=WRITE
            put_raw<P::A_BITS, CS_IFMAP_WORD_BITS>(a_tile, e, ap_uint<P::A_BITS>(0));
        }
        CS_COUNT_CYCLES(ceil_div(tm * tk, WRITE));
    }
    const int ky_lo = k0 / (cin_g * d.kw), ky_hi = (k0 + tk - 1) / (cin_g * d.kw);
    long long writes = 0;
    IMAGES: for (int img = m0 / ohw; img <= m_last / ohw; ++img) {
        const int oy_lo = img == m0 / ohw ? (m0 % ohw) / d.out_w : 0;
        const int oy_hi = img == m_last / ohw ? (m_last % ohw) / d.out_w : d.out_h - 1;
        const int ih_lo = oy_lo * d.stride_h - d.pad_h + ky_lo, ih_hi = oy_hi * d.stride_h - d.pad_h + ky_hi;
        STRIP_ROWS: for (int ih = ih_lo < 0 ? 0 : ih_lo; ih <= ih_hi && ih < d.in_h; ++ih) {
            bool used = false;                      // a strided conv's tile may skip rows of the strip
            ROW_USED: for (int ky = ky_lo; ky <= ky_hi; ++ky) {
                const int ty = ih + d.pad_h - ky;
                used |= ty >= 0 && ty % d.stride_h == 0 && ty / d.stride_h >= oy_lo && ty / d.stride_h <= oy_hi;
            }
            if (!used) continue;
            STRIP_ROW: for (int e = 0; e < d.in_w * cin_g; ++e) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_ROW
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=PER
                const int iw = e / cin_g, ci = e % cin_g;
                int uses[CS_MAX_USES];              // the A positions this element fills
                int n_uses = 0;
                USES_Y: for (int ky = ky_lo; ky <= ky_hi; ++ky) {
                    const int ty = ih + d.pad_h - ky;
                    if (ty < 0 || ty % d.stride_h != 0 || ty / d.stride_h >= d.out_h) continue;
                    USES_X: for (int kx = 0; kx < d.kw; ++kx) {
                        const int tx = iw + d.pad_w - kx;
                        if (tx < 0 || tx % d.stride_w != 0 || tx / d.stride_w >= d.out_w) continue;
                        const int m = (img * d.out_h + ty / d.stride_h) * d.out_w + tx / d.stride_w;
                        const int kg = (ky * d.kw + kx) * cin_g + ci;
                        if (m < m0 || m > m_last || kg < k0 || kg >= k0 + tk) continue;
                        uses[n_uses++] = (m - m0) * tk + kg - k0;
                    }
                }
                if (n_uses == 0) continue;          // a word no position needs is not fetched
                const ap_uint<P::A_BITS> raw = dram_get<P::A_BITS>(
                    PORT_ACT_IN, ST_A, src, d.a_base + ((img * d.in_h + ih) * d.in_w + iw) * d.in_c + b * cin_g + ci);
                SCATTER: for (int u = 0; u < n_uses; ++u) put_raw<P::A_BITS, CS_IFMAP_WORD_BITS>(a_tile, uses[u], raw);
                writes += n_uses;
            }
        }
    }
    CS_COUNT_CYCLES(ceil_div((int)writes, WRITE));
}

// Rows m0 .. m0 + tm, columns k0 .. k0 + tk of A: a row at a time, k contiguous in DRAM.
template <class P>
void load_a_tile(const LayerDesc &d, int b, int m0, int tm, int k0, int tk, const dram_word_t *act_in,
                 ifmap_word_t a_tile[CS_IFMAP_FILL_WORDS]) {
    if (d.kind == OP_CONV) {
        load_conv_strip<P>(d, b, m0, tm, k0, tk, act_in, a_tile);
        return;
    }
    const int PER = Packing<P::A_BITS, CS_DRAM_WORD_BITS>::PER_WORD;
    const dram_word_t *src = act_in + d.a_off;
    A_ROWS: for (int i = 0; i < tm; ++i) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILE_M
        A_COLS: for (int kk = 0; kk < tk; ++kk) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILE_K
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=PER
            put_raw<P::A_BITS, CS_IFMAP_WORD_BITS>(a_tile, i * tk + kk, dram_get<P::A_BITS>(
                PORT_ACT_IN, ST_A, src, d.a_base + b * d.a_bstride + (m0 + i) * d.a_mstride + k0 + kk));
        }
    }
}

// Columns n0 .. n0 + tn, rows k0 .. k0 + tk of B, stored column-major (k contiguous per column).
// DRAM is read in its own address order: down each column when k is contiguous there (weights,
// K of QK^T), along each row when n is (V of A.V).
template <class P>
void load_b_panel(const LayerDesc &d, int b, int n0, int tn, int k0, int tk, const dram_word_t *act_b,
                  const dram_word_t *wgt, weight_word_t b_tile[CS_WEIGHT_FILL_WORDS]) {
    const int PER = Packing<P::W_BITS, CS_DRAM_WORD_BITS>::PER_WORD;
    const int base = d.b_base + b * d.b_bstride;
    if (d.b_kstride == 1) {
        B_COLS: for (int j = 0; j < tn; ++j) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILE_N
            B_ROWS: for (int kk = 0; kk < tk; ++kk) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILE_K
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=PER
                const int idx = base + (n0 + j) * d.b_nstride + k0 + kk;
                put_raw<P::W_BITS, CS_WEIGHT_WORD_BITS>(b_tile, j * tk + kk,
                                                        read_operand<P::W_BITS>(d.b_src, act_b, wgt, d.b_off, idx));
            }
        }
    } else {
        B_KROWS: for (int kk = 0; kk < tk; ++kk) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILE_K
            B_NCOLS: for (int j = 0; j < tn; ++j) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILE_N
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=PER
                const int idx = base + (n0 + j) * d.b_nstride + (k0 + kk) * d.b_kstride;
                put_raw<P::W_BITS, CS_WEIGHT_WORD_BITS>(b_tile, j * tk + kk,
                                                        read_operand<P::W_BITS>(d.b_src, act_b, wgt, d.b_off, idx));
            }
        }
    }
}

// The requantisation parameters of columns n0 .. n0 + tn (read by the load stage, so that only
// one process of the tile pipeline reads each AXI port).
template <class P>
void load_params(const LayerDesc &d, int b, int n0, int tn, const dram_word_t *wgt, acc_t bias[CS_MAX_TILE_N],
                 ap_uint<CS_MULT_BITS> mult[CS_MAX_TILE_N], int shift[1]) {
    shift[0] = ap_int<32>(dram_get<32>(PORT_WGT, ST_PARAM, wgt + d.shift_off, 0)).to_int();
    BIAS: for (int j = 0; j < tn; ++j) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILE_N
#pragma HLS PIPELINE II=1
        const int p = d.per_channel ? b * d.n + n0 + j : 0;
        bias[j] = acc_t(dram_get<CS_ACCUM_BITS>(PORT_WGT, ST_PARAM, wgt + d.bias_off, p));
    }
    MULT: for (int j = 0; j < tn; ++j) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILE_N
#pragma HLS PIPELINE II=1
        const int p = d.per_channel ? b * d.n + n0 + j : 0;
        mult[j] = dram_get<CS_MULT_BITS>(PORT_WGT, ST_PARAM, wgt + d.mult_off, p);
    }
}

// Requantise the accumulators of an output tile and write them to DRAM at O_BITS.
template <class P>
void store_o_tile(const LayerDesc &d, int b, int m0, int tm, int n0, int tn, const acc_t bias[CS_MAX_TILE_N],
                  const ap_uint<CS_MULT_BITS> mult[CS_MAX_TILE_N], const int shift[1],
                  const ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS], dram_word_t *act_out) {
    const int PER = Packing<P::O_BITS, CS_DRAM_WORD_BITS>::PER_WORD;
    O_ROWS: for (int i = 0; i < tm; ++i) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILE_M
        O_COLS: for (int j = 0; j < tn; ++j) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILE_N
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=PER
            const acc_t acc = acc_t(get_raw<CS_ACCUM_BITS, CS_OFMAP_WORD_BITS>(o_tile, i * tn + j));
            const ap_uint<P::O_BITS> raw = requantize<P::O_BITS>(acc, bias[j], mult[j], shift[0]);
            dram_put<P::O_BITS>(ST_OUT, act_out + d.o_off, d.o_base + b * d.o_bstride + (m0 + i) * d.o_mstride + n0 + j, raw);
        }
    }
}

// Partial sums of an output tile between k tiles, when the k loop runs outside the output tile's
// loops: accumulator-wide elements of a (batch, m, n) region of the activation arena.
inline void store_psums(const LayerDesc &d, int b, int m0, int tm, int n0, int tn,
                        const ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS], dram_word_t *act_out) {
    const int PER = Packing<CS_ACCUM_BITS, CS_DRAM_WORD_BITS>::PER_WORD;
    PSUM_OUT: for (int i = 0; i < tm; ++i) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILE_M
        for (int j = 0; j < tn; ++j) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILE_N
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=PER
            dram_put<CS_ACCUM_BITS>(ST_PSUM_OUT, act_out + d.psum_off, (b * d.m + m0 + i) * d.n + n0 + j,
                                    get_raw<CS_ACCUM_BITS, CS_OFMAP_WORD_BITS>(o_tile, i * tn + j));
        }
    }
}

inline void load_psums(const LayerDesc &d, int b, int m0, int tm, int n0, int tn, const dram_word_t *act_in,
                       ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS]) {
    const int PER = Packing<CS_ACCUM_BITS, CS_DRAM_WORD_BITS>::PER_WORD;
    PSUM_IN: for (int i = 0; i < tm; ++i) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILE_M
        for (int j = 0; j < tn; ++j) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_TILE_N
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=PER
            put_raw<CS_ACCUM_BITS, CS_OFMAP_WORD_BITS>(o_tile, i * tn + j,
                dram_get<CS_ACCUM_BITS>(PORT_ACT_IN, ST_PSUM_IN, act_in + d.psum_off, (b * d.m + m0 + i) * d.n + n0 + j));
        }
    }
}

}  // namespace cs
#endif
