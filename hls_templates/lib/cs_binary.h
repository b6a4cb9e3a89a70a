// cs_binary.h - XNOR-popcount arithmetic of binary operands packed along the reduction axis.
// Bit 1 stands for +1 and bit 0 for -1; wider activations are taken bit-serially, plane by plane.
#ifndef CS_BINARY_H
#define CS_BINARY_H

#include "cs_base.h"

namespace cs {

template <int N>
int popcount(ap_uint<N> v) {
#pragma HLS INLINE
#ifndef __SYNTHESIS__
    int count = 0;
    for (int lo = 0; lo < N; lo += 64) {
        const int hi = lo + 63 < N - 1 ? lo + 63 : N - 1;
        count += __builtin_popcountll(v.range(hi, lo).to_uint64());
    }
    return count;
#else
    int count = 0;
    POPCOUNT: for (int i = 0; i < N; ++i) {
#pragma HLS UNROLL
        count += v[i];
    }
    return count;
#endif
}

// Sum over the `valid` low positions of x_r * w_r, where w is binary (bits `w`) and x is given
// as A_BITS two's-complement bit planes (plane j holds bit j of every x_r). With s = 2p - 1:
//   2 * x = sum_j coef_j * s_j - 1,  coef_j = 2^j (j < A_BITS - 1), coef_{A_BITS-1} = -2^(A_BITS-1)
// so 2 * sum_r x_r w_r = sum_j coef_j * xnor_popcount_j - sum_r w_r, where xnor_popcount_j =
// valid - 2 * popcount(plane_j ^ w) (masked). A_BITS == 1 means x itself is binary (+-1).
template <int A_BITS, int N>
ap_int<32> binary_dot(const ap_uint<N> planes[A_BITS], ap_uint<N> w, ap_uint<N> mask, int valid) {
#pragma HLS INLINE
    if (A_BITS == 1) {
        return valid - 2 * popcount<N>((planes[0] ^ w) & mask);
    }
    ap_int<40> twice = 0;
    PLANES: for (int j = 0; j < A_BITS; ++j) {
#pragma HLS UNROLL
        const ap_int<40> xnor = valid - 2 * popcount<N>((planes[j] ^ w) & mask);
        const ap_int<40> mag = ap_int<40>(1) << j;
        const ap_int<40> coef = j == A_BITS - 1 ? ap_int<40>(-mag) : mag;
        twice += coef * xnor;
    }
    twice -= 2 * popcount<N>(w & mask) - valid;
    return ap_int<32>(twice >> 1);   // exact: twice is even
}

// Bit planes of N raw A_BITS-bit values: plane j, bit r = bit j of value r.
template <int A_BITS, int N>
void bit_planes(const ap_uint<A_BITS> raw[N], ap_uint<N> planes[A_BITS]) {
#pragma HLS INLINE
    PLANE: for (int j = 0; j < A_BITS; ++j) {
#pragma HLS UNROLL
        ap_uint<N> p = 0;
        BIT: for (int r = 0; r < N; ++r) {
#pragma HLS UNROLL
            p[r] = raw[r][j];
        }
        planes[j] = p;
    }
}

template <int N>
ap_uint<N> low_mask(int valid) {
#pragma HLS INLINE
    ap_uint<N> mask = 0;
    MASK: for (int r = 0; r < N; ++r) {
#pragma HLS UNROLL
        mask[r] = r < valid ? 1 : 0;
    }
    return mask;
}

}  // namespace cs
#endif
