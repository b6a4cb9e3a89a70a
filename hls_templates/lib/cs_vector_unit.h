// cs_vector_unit.h - the vector unit: requantisation, LUT-exp softmax, LayerNorm, GELU, ReLU, add,
// pooling, table activations (sigmoid, SiLU, hardswish).
// Integer algorithms mirrored bit for bit by codesign/hls/golden.py.
#ifndef CS_VECTOR_UNIT_H
#define CS_VECTOR_UNIT_H

#include "cs_config.h"
#include "cs_dram.h"
#include "cs_pack.h"

namespace cs {

// PE-array accumulator -> O_BITS activation: round((acc + bias) * mult / 2^shift), saturated.
// A binary output (O_BITS == 1) is the sign of acc + bias (bit 1 = +1).
template <int O_BITS>
ap_uint<O_BITS> requantize(acc_t acc, acc_t bias, ap_uint<CS_MULT_BITS> mult, int shift) {
#pragma HLS INLINE
    typedef ap_int<CS_ACCUM_BITS + CS_MULT_BITS + 3> wide_t;
    const ap_int<CS_ACCUM_BITS + 1> biased = ap_int<CS_ACCUM_BITS + 1>(acc) + ap_int<CS_ACCUM_BITS + 1>(bias);
    if (O_BITS == 1) return biased >= 0 ? ap_uint<O_BITS>(1) : ap_uint<O_BITS>(0);
    wide_t prod = wide_t(biased) * wide_t(mult);
    if (shift > 0) prod = (prod + (wide_t(1) << (shift - 1))) >> shift;
    return encode<O_BITS>(saturate<(O_BITS < 2 ? 2 : O_BITS)>(prod));
}

// floor(sqrt(v)), two result bits per step (fixed 32 steps for a 64-bit operand), unrolled: one
// pipelined unit that takes a row's variance per cycle, its latency hidden behind the next row's passes.
inline ap_uint<32> isqrt64(ap_uint<64> v) {
    ap_uint<64> rem = v, root = 0;
    ISQRT: for (int i = 31; i >= 0; --i) {
#pragma HLS UNROLL
        const ap_uint<64> trial = root + (ap_uint<64>(1) << (2 * i));
        if (rem >= trial) {
            rem -= trial;
            root = (root >> 1) + (ap_uint<64>(1) << (2 * i));
        } else {
            root >>= 1;
        }
    }
    return ap_uint<32>(root);
}

inline int bit_length(ap_uint<32> v) {
    int n = 0;
    BITLEN: for (int i = 0; i < 32; ++i) {
#pragma HLS UNROLL
        if (v[i]) n = i + 1;
    }
    return n;
}

// Softmax over rows of row_len elements. exp(-(max - x)) from two LUTs (high and low bits of
// the distance, Q1.15 each), a row sum, one normalised reciprocal per row, a multiply per element.
template <class V>
void softmax_layer(const LayerDesc &d, const dram_word_t *act_in, dram_word_t *act_out) {
    CS_STREAM_COUNT;
    ap_int<V::BITS> x[CS_MAX_ROW];
    ap_uint<16> e[CS_MAX_ROW];
#pragma HLS ARRAY_PARTITION variable=x type=cyclic factor=CS_VEC_LANES
#pragma HLS ARRAY_PARTITION variable=e type=cyclic factor=CS_VEC_LANES
    const int lo_mask = (1 << V::EXP_SPLIT) - 1;
    SOFTMAX_ROWS: for (int row = 0; row < d.rows; ++row) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_ROWS
        ap_int<V::BITS> mx = -(ap_int<V::BITS + 1>(1) << (V::BITS - 1));
        LOAD: for (int i = 0; i < d.row_len; ++i) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_ROW
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=CS_VEC_LANES
            x[i] = ap_int<V::BITS>(dram_get<V::BITS>(PORT_ACT_IN, ST_A, act_in + d.a_off, row * d.row_len + i));
            if (x[i] > mx) mx = x[i];
        }
        ap_uint<32> sum = 0;
        EXP: for (int i = 0; i < d.row_len; ++i) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_ROW
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=CS_VEC_LANES
            const int dist = (ap_int<V::BITS + 1>(mx) - ap_int<V::BITS + 1>(x[i])).to_int();
            ap_uint<16> ex = 0;
            if (dist < V::EXP_CUT) {
                const ap_uint<32> prod = ap_uint<32>(V::exp_hi(dist >> V::EXP_SPLIT)) * V::exp_lo(dist & lo_mask);
                ex = ap_uint<16>((prod + (1 << 14)) >> 15);
            }
            e[i] = ex;
            sum += ex;
        }
        // one normalised reciprocal per row (a pipelined divider, one row a cycle): 2^p / sum in
        // [2^16, 2^17) (sum >= 2^15: the max's own term)
        const int p = bit_length(sum) + 16;
        const ap_uint<64> recip = (ap_uint<64>(1) << p) / sum;
        const int out_shift = p - V::SOFTMAX_OUT_FRAC;
        const ap_uint<64> top = (ap_uint<64>(1) << (V::BITS - 1)) - 1;
        NORM: for (int i = 0; i < d.row_len; ++i) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_ROW
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=CS_VEC_LANES
            ap_uint<64> y = (ap_uint<64>(e[i]) * recip + (ap_uint<64>(1) << (out_shift - 1))) >> out_shift;
            if (y > top) y = top;
            dram_put<V::BITS>(ST_OUT, act_out + d.o_off, row * d.row_len + i, ap_uint<V::BITS>(y));
        }
        CS_COUNT_CYCLES(3 * ceil_div(d.row_len, CS_VEC_LANES));    // LOAD, EXP, NORM
    }
}

// LayerNorm over rows of row_len = D elements. c_i = D x_i - sum(x) is exact; the standard
// deviation is isqrt(sum(c^2) / D + 1) = D sigma 2^FRAC; z = c / that with LN_Z_FRAC fraction bits
// (a normalised reciprocal, Q0.16, per row); y = z * gamma + beta, rounded and saturated.
template <class V>
void layernorm_layer(const LayerDesc &d, const dram_word_t *act_in, const dram_word_t *wgt, dram_word_t *act_out) {
    CS_STREAM_COUNT;
    ap_int<V::BITS> x[CS_MAX_ROW];
    ap_int<16> gamma[CS_MAX_ROW];
    ap_int<32> beta[CS_MAX_ROW];
#pragma HLS ARRAY_PARTITION variable=x type=cyclic factor=CS_VEC_LANES
#pragma HLS ARRAY_PARTITION variable=gamma type=cyclic factor=CS_VEC_LANES
#pragma HLS ARRAY_PARTITION variable=beta type=cyclic factor=CS_VEC_LANES
    const int D = d.row_len;
    const int y_shift = CS_LN_Z_FRAC + CS_LN_GAMMA_FRAC - V::FRAC;
    PARAMS: for (int i = 0; i < D; ++i) {           // gamma and beta once per layer
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_ROW
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=CS_VEC_LANES
        gamma[i] = ap_int<16>(dram_get<16>(PORT_WGT, ST_PARAM, wgt + d.b_off, i));
        beta[i] = ap_int<32>(dram_get<32>(PORT_WGT, ST_B, wgt + d.bias_off, i));
    }
    CS_COUNT_CYCLES(ceil_div(D, CS_VEC_LANES));
    LN_ROWS: for (int row = 0; row < d.rows; ++row) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_ROWS
        ap_int<48> s = 0;
        LOAD: for (int i = 0; i < D; ++i) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_ROW
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=CS_VEC_LANES
            x[i] = ap_int<V::BITS>(dram_get<V::BITS>(PORT_ACT_IN, ST_A, act_in + d.a_off, row * D + i));
            s += x[i];
        }
        ap_uint<64> sq = 0;
        VARIANCE: for (int i = 0; i < D; ++i) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_ROW
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=CS_VEC_LANES
            const ap_int<48> c = ap_int<48>(D) * x[i] - s;
            sq += ap_uint<64>(c * c);
        }
        const ap_uint<32> r = isqrt64(sq / ap_uint<64>(D) + 1);
        const int p = bit_length(r) + 15;
        const ap_uint<64> rec = (ap_uint<64>(1) << p) / r;             // in (2^15, 2^16]
        const int z_shift = p - CS_LN_Z_FRAC;
        NORMALISE: for (int i = 0; i < D; ++i) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_ROW
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=CS_VEC_LANES
            const ap_int<64> c = ap_int<64>(ap_int<48>(D) * x[i] - s);
            const ap_int<64> z = (c * ap_int<64>(rec) + (ap_int<64>(1) << (z_shift - 1))) >> z_shift;
            const ap_int<64> y = (z * ap_int<64>(gamma[i]) + ap_int<64>(beta[i]) + (ap_int<64>(1) << (y_shift - 1))) >> y_shift;
            dram_put<V::BITS>(ST_OUT, act_out + d.o_off, row * D + i, encode<V::BITS>(saturate<V::BITS>(y)));
        }
        CS_COUNT_CYCLES(3 * ceil_div(D, CS_VEC_LANES));                // LOAD, VARIANCE, NORMALISE
    }
}

// GELU(x) = x * Phi(x): Phi from a LUT over [-4, 4) (one entry per input value when that fits
// CS_GELU_LUT_MAX entries, else per segment, sampled at its midpoint); identity above 4, 0 below -4.
template <class V>
void gelu_layer(const LayerDesc &d, const dram_word_t *act_in, dram_word_t *act_out) {
    CS_STREAM_COUNT;
    typedef ap_fixed<V::BITS, V::BITS - V::FRAC> x_t;
    typedef ap_fixed<V::BITS, V::BITS - V::FRAC, AP_RND, AP_SAT> y_t;
    typedef ap_ufixed<16, 1> phi_t;                     // Q1.15: Phi in [0, 1]
    GELU: for (int i = 0; i < d.elems; ++i) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_ELEMS
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=CS_VEC_LANES
        const ap_uint<V::BITS> raw = dram_get<V::BITS>(PORT_ACT_IN, ST_A, act_in + d.a_off, i);
        const int xi = ap_int<V::BITS>(raw).to_int();
        ap_uint<V::BITS> out;
        if (xi >= V::GELU_HI) {
            out = raw;
        } else if (xi < -V::GELU_HI) {
            out = 0;
        } else {
            x_t xv;
            xv.range(V::BITS - 1, 0) = raw;
            phi_t phi;
            phi.range(15, 0) = V::phi((xi + V::GELU_HI) >> V::PHI_SHIFT);
            const y_t y = xv * phi;                     // AP_RND: floor(v + 1/2); AP_SAT: clip
            out = y.range(V::BITS - 1, 0);
        }
        dram_put<V::BITS>(ST_OUT, act_out + d.o_off, i, out);
    }
    CS_COUNT_CYCLES(ceil_div(d.elems, CS_VEC_LANES));
}

template <class V>
void relu_layer(const LayerDesc &d, const dram_word_t *act_in, dram_word_t *act_out) {
    CS_STREAM_COUNT;
    RELU: for (int i = 0; i < d.elems; ++i) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_ELEMS
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=CS_VEC_LANES
        const ap_int<V::BITS> x = ap_int<V::BITS>(dram_get<V::BITS>(PORT_ACT_IN, ST_A, act_in + d.a_off, i));
        dram_put<V::BITS>(ST_OUT, act_out + d.o_off, i, ap_uint<V::BITS>(x > 0 ? x : ap_int<V::BITS>(0)));
    }
    CS_COUNT_CYCLES(ceil_div(d.elems, CS_VEC_LANES));
}

// x1 + x2, saturated; x2 is another activation or a parameter tensor (a position embedding),
// broadcast over the leading dimensions when it is smaller (index i % in2_elems).
template <class V>
void add_layer(const LayerDesc &d, const dram_word_t *act_in, const dram_word_t *wgt, dram_word_t *act_out) {
    CS_STREAM_COUNT;
    ADD: for (int i = 0; i < d.elems; ++i) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_ELEMS
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=CS_VEC_LANES
        const ap_int<V::BITS + 1> x1 = ap_int<V::BITS>(dram_get<V::BITS>(PORT_ACT_IN, ST_A, act_in + d.a_off, i));
        ap_uint<V::BITS> raw2;
        if (d.b_src == ARENA_ACT) {
            raw2 = dram_get<V::BITS>(PORT_ACT_IN, ST_B, act_in + d.b_off, i % d.in2_elems);
        } else {
            raw2 = dram_get<V::BITS>(PORT_WGT, ST_B, wgt + d.b_off, i % d.in2_elems);
        }
        const ap_int<V::BITS + 1> x2 = ap_int<V::BITS>(raw2);
        const ap_int<V::BITS + 1> sum = x1 + x2;
        dram_put<V::BITS>(ST_OUT, act_out + d.o_off, i, encode<V::BITS>(saturate<V::BITS>(sum)));
    }
    CS_COUNT_CYCLES(ceil_div(d.elems, CS_VEC_LANES));
}

// x1 * x2 (x2 broadcast as in add_layer: a per-channel gate of an NHWC map), the product's extra
// fraction bits dropped with rounding half up, saturated.
template <class V>
void mul_layer(const LayerDesc &d, const dram_word_t *act_in, dram_word_t *act_out) {
    CS_STREAM_COUNT;
    MUL: for (int i = 0; i < d.elems; ++i) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_ELEMS
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=CS_VEC_LANES
        const ap_int<2 * V::BITS> x1 = ap_int<V::BITS>(dram_get<V::BITS>(PORT_ACT_IN, ST_A, act_in + d.a_off, i));
        const ap_int<2 * V::BITS> x2 = ap_int<V::BITS>(dram_get<V::BITS>(PORT_ACT_IN, ST_B, act_in + d.b_off, i % d.in2_elems));
        ap_int<2 * V::BITS + 1> prod = x1 * x2;
        if (V::FRAC > 0) prod = (prod + (ap_int<2 * V::BITS + 1>(1) << (V::FRAC - 1))) >> V::FRAC;
        dram_put<V::BITS>(ST_OUT, act_out + d.o_off, i, encode<V::BITS>(saturate<V::BITS>(prod)));
    }
    CS_COUNT_CYCLES(ceil_div(d.elems, CS_VEC_LANES));
}

// Max or average pooling over NHWC maps (global average pooling is a window of the whole map).
// Max: padding never wins; average: the window's sum over kh * kw (padding counts as 0, torch's
// count_include_pad), rounded half up: floor((2 sum + count) / (2 count)).
template <class V>
void pool_layer(const LayerDesc &d, const dram_word_t *act_in, dram_word_t *act_out) {
    CS_STREAM_COUNT;
    const bool is_max = d.kind == OP_POOL_MAX;
    const int count = d.kh * d.kw;
    ap_int<32> acc[CS_MAX_ROW];                     // one output pixel's channels, CS_VEC_LANES a cycle
#pragma HLS ARRAY_PARTITION variable=acc type=cyclic factor=CS_VEC_LANES
    POOL_PIXELS: for (int p = 0; p < d.images * d.out_h * d.out_w; ++p) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_ELEMS
        const int ox = p % d.out_w, oy = (p / d.out_w) % d.out_h, img = p / (d.out_w * d.out_h);
        WINDOW: for (int w = 0; w < count; ++w) {
            const int ih = oy * d.stride_h - d.pad_h + w / d.kw, iw = ox * d.stride_w - d.pad_w + w % d.kw;
            const bool inside = ih >= 0 && ih < d.in_h && iw >= 0 && iw < d.in_w;
            POOL_CHANNELS: for (int c = 0; c < d.in_c; ++c) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_ROW
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=CS_VEC_LANES
                ap_int<32> a = w == 0 ? (is_max ? ap_int<32>(-(1 << (V::BITS - 1))) : ap_int<32>(0)) : acc[c];
                if (inside) {
                    const ap_int<V::BITS> x = ap_int<V::BITS>(dram_get<V::BITS>(
                        PORT_ACT_IN, ST_A, act_in + d.a_off, ((img * d.in_h + ih) * d.in_w + iw) * d.in_c + c));
                    if (is_max) {
                        if (x > a) a = x;
                    } else {
                        a += x;
                    }
                }
                acc[c] = a;
            }
        }
        OUT_CHANNELS: for (int c = 0; c < d.in_c; ++c) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_ROW
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=CS_VEC_LANES
            ap_int<32> a = acc[c];
            if (!is_max) {
                const ap_int<32> num = 2 * a + count, den = 2 * count;
                a = num >= 0 ? ap_int<32>(num / den) : ap_int<32>(-((-num + den - 1) / den));
            }
            dram_put<V::BITS>(ST_OUT, act_out + d.o_off, p * d.in_c + c, ap_uint<V::BITS>(ap_int<V::BITS>(a)));
        }
        CS_COUNT_CYCLES((count + 1) * ceil_div(d.in_c, CS_VEC_LANES));
    }
}

// An activation taken from a table indexed by the input code (F::at: one output code per input
// code, the function rounded: codesign/hls/golden.py act_lut): sigmoid, SiLU, hardswish.
template <class V, class F>
void lut_layer(const LayerDesc &d, const dram_word_t *act_in, dram_word_t *act_out) {
    CS_STREAM_COUNT;
    LUT: for (int i = 0; i < d.elems; ++i) {
#pragma HLS LOOP_TRIPCOUNT min=1 max=CS_MAX_ELEMS
#pragma HLS PIPELINE II=1
#pragma HLS UNROLL factor=CS_VEC_LANES
        const ap_uint<V::BITS> raw = dram_get<V::BITS>(PORT_ACT_IN, ST_A, act_in + d.a_off, i);
        dram_put<V::BITS>(ST_OUT, act_out + d.o_off, i, F::at(raw.to_int()));
    }
    CS_COUNT_CYCLES(ceil_div(d.elems, CS_VEC_LANES));
}

}  // namespace cs
#endif
