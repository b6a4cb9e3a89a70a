// cs_pack.h - elements of any width packed into words (DRAM words and on-chip buffer words).
// An element never straddles a word when it is narrower; a wider one spans whole words.
#ifndef CS_PACK_H
#define CS_PACK_H

#include "cs_base.h"

namespace cs {

// Layout rule shared with the Python side (codesign/hls/pack.py): element i of BITS bits in
// WORD_BITS-bit words sits in word i / PER_WORD at bit (i % PER_WORD) * BITS when BITS <=
// WORD_BITS, and in words i * SPAN .. i * SPAN + SPAN - 1 (low bits first) otherwise.
template <int BITS, int WORD_BITS>
struct Packing {
    enum {
        PER_WORD = BITS <= WORD_BITS ? WORD_BITS / BITS : 1,
        SPAN = BITS <= WORD_BITS ? 1 : (BITS + WORD_BITS - 1) / WORD_BITS
    };
    static int words(int elems) { return BITS <= WORD_BITS ? ceil_div(elems, PER_WORD) : elems * SPAN; }
};

template <int BITS, int WORD_BITS>
ap_uint<BITS> get_raw(const ap_uint<WORD_BITS> *mem, int idx) {
#pragma HLS INLINE
    ap_uint<BITS> raw = 0;
    if (BITS <= WORD_BITS) {
        const int per = Packing<BITS, WORD_BITS>::PER_WORD;
        const ap_uint<WORD_BITS> word = mem[idx / per];
        const int lo = (idx % per) * BITS;
        raw = word.range(lo + BITS - 1, lo);
    } else {
        const int span = Packing<BITS, WORD_BITS>::SPAN;
        for (int j = 0; j < span; ++j) {
            const int lo = j * WORD_BITS;
            const int hi = lo + WORD_BITS - 1 < BITS - 1 ? lo + WORD_BITS - 1 : BITS - 1;
            raw.range(hi, lo) = mem[idx * span + j].range(hi - lo, 0);
        }
    }
    return raw;
}

template <int BITS, int WORD_BITS>
void put_raw(ap_uint<WORD_BITS> *mem, int idx, ap_uint<BITS> raw) {
#pragma HLS INLINE
    if (BITS <= WORD_BITS) {
        const int per = Packing<BITS, WORD_BITS>::PER_WORD;
        ap_uint<WORD_BITS> word = mem[idx / per];
        const int lo = (idx % per) * BITS;
        word.range(lo + BITS - 1, lo) = raw;
        mem[idx / per] = word;
    } else {
        const int span = Packing<BITS, WORD_BITS>::SPAN;
        for (int j = 0; j < span; ++j) {
            const int lo = j * WORD_BITS;
            const int hi = lo + WORD_BITS - 1 < BITS - 1 ? lo + WORD_BITS - 1 : BITS - 1;
            ap_uint<WORD_BITS> word = 0;
            word.range(hi - lo, 0) = raw.range(hi, lo);
            mem[idx * span + j] = word;
        }
    }
}

// Values: a BITS-bit two's-complement integer, except BITS == 1, a binary operand whose bit 1
// stands for +1 and bit 0 for -1 (the XNOR-popcount encoding).
template <int BITS>
struct Value {
    typedef ap_int<(BITS == 1 ? 2 : BITS)> type;
};

template <int BITS>
typename Value<BITS>::type decode(ap_uint<BITS> raw) {
#pragma HLS INLINE
    typename Value<BITS>::type v;
    if (BITS == 1) {
        v = raw[0] ? 1 : -1;
    } else {
        v = ap_int<BITS>(raw);
    }
    return v;
}

template <int BITS, int W>
ap_uint<BITS> encode(ap_int<W> v) {
#pragma HLS INLINE
    ap_uint<BITS> raw;
    if (BITS == 1) {
        raw = v > 0 ? 1 : 0;
    } else {
        const ap_int<BITS> narrow = v;   // keeps the low BITS bits (the caller saturated first)
        raw = ap_uint<BITS>(narrow);
    }
    return raw;
}

template <int BITS, int WORD_BITS>
typename Value<BITS>::type get_value(const ap_uint<WORD_BITS> *mem, int idx) {
#pragma HLS INLINE
    return decode<BITS>(get_raw<BITS, WORD_BITS>(mem, idx));
}

}  // namespace cs
#endif
