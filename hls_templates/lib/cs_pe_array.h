// cs_pe_array.h - the R x C systolic PE array under each dataflow, on one tm x tn x tk tile (any
// size: it folds over the array). WS pins an R x C weight block, IS a block of A, OS keeps R x C sums.
#ifndef CS_PE_ARRAY_H
#define CS_PE_ARRAY_H

#include "cs_config.h"
#include "cs_pack.h"

namespace cs {

// A PE completes P::LANES MACs a cycle on consecutive k (DSP packing: the accelerator's
// macs_per_cycle for these widths), so a k fold is R x LANES deep. On the LUT array wider
// activations go digit-serially: P::PASSES passes of P::DIGIT_BITS bits, low digits unsigned and
// the top one signed, each pass's column sums shifted into place. `digit` is the value a pass uses.
template <class P, int BITS>
ap_int<BITS + 2> digit(ap_uint<BITS> raw, int pass) {
#pragma HLS INLINE
    if (P::PASSES == 1) return decode<BITS>(raw);
    const int lo = pass * P::DIGIT_BITS;
    ap_int<BITS + 2> v = 0;
    DIGIT: for (int b = 0; b < P::DIGIT_BITS; ++b) {
#pragma HLS UNROLL
        if (lo + b < BITS) v[b] = raw[lo + b];
    }
    const int top = (BITS - lo < P::DIGIT_BITS ? BITS - lo : P::DIGIT_BITS) - 1;
    if (pass == P::PASSES - 1 && v[top]) v -= ap_int<BITS + 2>(1) << (top + 1);   // the sign digit
    return v;
}

// Weight stationary (PIN_B: B pinned, rows <- k, cols <- n, the tm rows of A stream) and input
// stationary (A pinned, rows <- k, cols <- m, the tn columns of B stream) are one systolic array
// with the operands' roles swapped (dataflows/base.py: pinned_operand_plan). A fold shifts its
// pinned block in, one row a cycle (R cycles), then streams: streamed element i enters row r at
// cycle i + r and moves one column a cycle, partial sums move one row a cycle, and column c's sum
// of element i leaves the bottom row at cycle i + R - 1 + c: stream + R + C - 2 cycles. Each k fold
// and each column fold of the tile pins its own block; a digit-serial layer repeats both per pass.
template <class P, bool PIN_B>
void pe_array_pinned(int tm, int tn, int tk, bool first, const ifmap_word_t a_tile[CS_IFMAP_FILL_WORDS],
                     const weight_word_t b_tile[CS_WEIGHT_FILL_WORDS], ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS]) {
    enum { R = P::ROWS, C = P::COLS, L = P::LANES, DEPTH = P::ROWS * P::LANES,
           PIN_BITS = PIN_B ? P::W_BITS : P::A_BITS, STR_BITS = PIN_B ? P::A_BITS : P::W_BITS };
    typedef ap_int<PIN_BITS + 2> pin_t;
    typedef ap_int<STR_BITS + 2> str_t;
    const int across = PIN_B ? tn : tm, stream = PIN_B ? tm : tn;
    const bool pin_digits = !PIN_B, str_digits = PIN_B;       // the activation operand goes by digits
    pin_t pin[R][C][L];            // the pinned block, L values a PE
    str_t s_reg[R][C][L];          // the streamed values moving right
    acc_t p_reg[R][C];             // the partial sums moving down
#pragma HLS ARRAY_PARTITION variable=pin type=complete dim=0
#pragma HLS ARRAY_PARTITION variable=s_reg type=complete dim=0
#pragma HLS ARRAY_PARTITION variable=p_reg type=complete dim=0
    K_FOLDS: for (int kb = 0; kb < ceil_div(tk, DEPTH); ++kb) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_K_FOLDS
        const int k0 = kb * DEPTH;
        COL_FOLDS: for (int cb = 0; cb < ceil_div(across, C); ++cb) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_N_FOLDS
            const int c0 = cb * C;
            const int cv = min_int(C, across - c0);
            PASSES: for (int pass = 0; pass < P::PASSES; ++pass) {
                PIN: for (int r = 0; r < R; ++r) {
#pragma HLS PIPELINE II=1
                    for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
                        for (int l = 0; l < L; ++l) {
#pragma HLS UNROLL
                            const int kk = k0 + r * L + l;
                            pin_t v = 0;
                            if (kk < tk && c < cv) {
                                const ap_uint<PIN_BITS> raw =
                                    PIN_B ? ap_uint<PIN_BITS>(get_raw<P::W_BITS, CS_WEIGHT_WORD_BITS>(b_tile, (c0 + c) * tk + kk))
                                          : ap_uint<PIN_BITS>(get_raw<P::A_BITS, CS_IFMAP_WORD_BITS>(a_tile, (c0 + c) * tk + kk));
                                v = pin_digits ? pin_t(digit<P, PIN_BITS>(raw, pass)) : pin_t(decode<PIN_BITS>(raw));
                            }
                            pin[r][c][l] = v;
                        }
                    }
                }
                CS_COUNT_CYCLES(R);
                CLEAR: for (int r = 0; r < R; ++r) {
#pragma HLS UNROLL
                    for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
                        p_reg[r][c] = 0;
                        for (int l = 0; l < L; ++l) s_reg[r][c][l] = 0;
                    }
                }
                STREAM: for (int t = 0; t < stream + R + C - 2; ++t) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_STREAM
#pragma HLS PIPELINE II=1
                    PE_ROWS: for (int r = R - 1; r >= 0; --r) {         // bottom-right first: each PE reads
#pragma HLS UNROLL
                        PE_COLS: for (int c = C - 1; c >= 0; --c) {     // its neighbours' previous values
#pragma HLS UNROLL
                            acc_t sum = r == 0 ? acc_t(0) : p_reg[r - 1][c];
                            for (int l = 0; l < L; ++l) {
#pragma HLS UNROLL
                                str_t in = 0;
                                if (c > 0) {
                                    in = s_reg[r][c - 1][l];
                                } else {
                                    const int i = t - r, kk = k0 + r * L + l;
                                    if (i >= 0 && i < stream && kk < tk) {
                                        const ap_uint<STR_BITS> raw =
                                            PIN_B ? ap_uint<STR_BITS>(get_raw<P::A_BITS, CS_IFMAP_WORD_BITS>(a_tile, i * tk + kk))
                                                  : ap_uint<STR_BITS>(get_raw<P::W_BITS, CS_WEIGHT_WORD_BITS>(b_tile, i * tk + kk));
                                        in = str_digits ? str_t(digit<P, STR_BITS>(raw, pass)) : str_t(decode<STR_BITS>(raw));
                                    }
                                }
                                sum += in * pin[r][c][l];
                                s_reg[r][c][l] = in;
                            }
                            p_reg[r][c] = sum;
                        }
                    }
                    DRAIN: for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
                        const int i = t - (R - 1) - c;
                        if (c >= cv || i < 0 || i >= stream) continue;
                        const int o = PIN_B ? i * tn + c0 + c : (c0 + c) * tn + i;
                        const bool fresh = first && kb == 0 && pass == 0;
                        acc_t psum = fresh ? acc_t(0) : acc_t(get_raw<CS_ACCUM_BITS, CS_OFMAP_WORD_BITS>(o_tile, o));
                        psum += acc_t(p_reg[R - 1][c] << (pass * P::DIGIT_BITS));
                        put_raw<CS_ACCUM_BITS, CS_OFMAP_WORD_BITS>(o_tile, o, ap_uint<CS_ACCUM_BITS>(psum));
                    }
                }
                CS_COUNT_CYCLES(stream + R + C - 2);
            }
        }
    }
}

template <class P>
void pe_array_ws(int tm, int tn, int tk, bool first, const ifmap_word_t a_tile[CS_IFMAP_FILL_WORDS],
                 const weight_word_t b_tile[CS_WEIGHT_FILL_WORDS], ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS]) {
    pe_array_pinned<P, true>(tm, tn, tk, first, a_tile, b_tile, o_tile);
}

template <class P>
void pe_array_is(int tm, int tn, int tk, bool first, const ifmap_word_t a_tile[CS_IFMAP_FILL_WORDS],
                 const weight_word_t b_tile[CS_WEIGHT_FILL_WORDS], ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS]) {
    pe_array_pinned<P, false>(tm, tn, tk, first, a_tile, b_tile, o_tile);
}

// Output stationary: rows hold m, columns hold n, the tile's k streams through (L k a cycle): row
// r of A enters at cycle g + r for k group g and moves right, column c of B enters at g + c and
// moves down, so PE (r, c) meets group g at cycle g + r + c: ceil(tk / L) + R + C - 2 cycles. The
// sums of the R x C block stay in the PEs; a block's starting sums (after the first k tile) come in,
// and its finished sums go out to the ofmap buffer, a row (C sums) a cycle through a second
// (shadow) register set, beside the previous or next fold's stream (R <= its R + C - 2 cycles of
// skew), as SCALE-Sim's OS model assumes: only the streams are counted.
template <class P>
void pe_array_os(int tm, int tn, int tk, bool first, const ifmap_word_t a_tile[CS_IFMAP_FILL_WORDS],
                 const weight_word_t b_tile[CS_WEIGHT_FILL_WORDS], ofmap_word_t o_tile[CS_OFMAP_FILL_WORDS]) {
    enum { R = P::ROWS, C = P::COLS, L = P::LANES };
    typedef ap_int<P::A_BITS + 2> a_t;
    typedef ap_int<P::W_BITS + 2> b_t;
    acc_t acc[R][C];
    a_t a_reg[R][C][L];
    b_t b_reg[R][C][L];
#pragma HLS ARRAY_PARTITION variable=acc type=complete dim=0
#pragma HLS ARRAY_PARTITION variable=a_reg type=complete dim=0
#pragma HLS ARRAY_PARTITION variable=b_reg type=complete dim=0
    const int groups = ceil_div(tk, L);
    M_FOLDS: for (int mb = 0; mb < ceil_div(tm, R); ++mb) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_M_FOLDS
        const int r0 = mb * R;
        const int rv = min_int(R, tm - r0);
        N_FOLDS: for (int nb = 0; nb < ceil_div(tn, C); ++nb) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_N_FOLDS
            const int c0 = nb * C;
            const int cv = min_int(C, tn - c0);
            LOAD: for (int r = 0; r < R; ++r) {
#pragma HLS PIPELINE II=1
                for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
                    const bool live = !first && r < rv && c < cv;
                    acc[r][c] = live ? acc_t(get_raw<CS_ACCUM_BITS, CS_OFMAP_WORD_BITS>(o_tile, (r0 + r) * tn + c0 + c))
                                     : acc_t(0);
                }
            }
            PASSES: for (int pass = 0; pass < P::PASSES; ++pass) {
                acc_t part[R][C];
#pragma HLS ARRAY_PARTITION variable=part type=complete dim=0
                CLEAR: for (int r = 0; r < R; ++r) {
#pragma HLS UNROLL
                    for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
                        part[r][c] = 0;
                        for (int l = 0; l < L; ++l) {
                            a_reg[r][c][l] = 0;
                            b_reg[r][c][l] = 0;
                        }
                    }
                }
                STREAM_K: for (int t = 0; t < groups + R + C - 2; ++t) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_STREAM
#pragma HLS PIPELINE II=1
                    PE_ROWS: for (int r = R - 1; r >= 0; --r) {
#pragma HLS UNROLL
                        PE_COLS: for (int c = C - 1; c >= 0; --c) {
#pragma HLS UNROLL
                            for (int l = 0; l < L; ++l) {
#pragma HLS UNROLL
                                a_t a = 0;
                                b_t w = 0;
                                if (c > 0) {
                                    a = a_reg[r][c - 1][l];
                                } else {
                                    const int kk = (t - r) * L + l;
                                    if (t - r >= 0 && kk < tk && r < rv)
                                        a = digit<P, P::A_BITS>(get_raw<P::A_BITS, CS_IFMAP_WORD_BITS>(a_tile, (r0 + r) * tk + kk), pass);
                                }
                                if (r > 0) {
                                    w = b_reg[r - 1][c][l];
                                } else {
                                    const int kk = (t - c) * L + l;
                                    if (t - c >= 0 && kk < tk && c < cv)
                                        w = decode<P::W_BITS>(get_raw<P::W_BITS, CS_WEIGHT_WORD_BITS>(b_tile, (c0 + c) * tk + kk));
                                }
                                part[r][c] += a * w;
                                a_reg[r][c][l] = a;
                                b_reg[r][c][l] = w;
                            }
                        }
                    }
                }
                CS_COUNT_CYCLES(groups + R + C - 2);
                SHIFT_IN: for (int r = 0; r < R; ++r) {
#pragma HLS UNROLL
                    for (int c = 0; c < C; ++c) {
#pragma HLS UNROLL
                        acc[r][c] += acc_t(part[r][c] << (pass * P::DIGIT_BITS));
                    }
                }
            }
            DRAIN: for (int r = 0; r < rv; ++r) {
#pragma HLS PIPELINE II=1
                for (int c = 0; c < cv; ++c) {
#pragma HLS UNROLL
                    put_raw<CS_ACCUM_BITS, CS_OFMAP_WORD_BITS>(o_tile, (r0 + r) * tn + c0 + c,
                                                               ap_uint<CS_ACCUM_BITS>(acc[r][c]));
                }
            }
        }
    }
}

}  // namespace cs
#endif
