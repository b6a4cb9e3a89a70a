// cs_dram.h - every DRAM access of the kernels goes through dram_get / dram_put, on one of the four
// AXI ports; the counting build tallies the words (beats) each port moves and times a stage from them.
#ifndef CS_DRAM_H
#define CS_DRAM_H

#include "cs_config.h"
#include "cs_pack.h"

namespace cs {

enum DramPort { PORT_ACT_IN = 0, PORT_ACT_B = 1, PORT_WGT = 2, PORT_ACT_OUT = 3, DRAM_PORTS = 4 };
// The address-ordered streams a loop reads or writes: a beat is one more word of a stream.
enum DramStream { ST_A = 0, ST_B = 1, ST_PARAM = 2, ST_PSUM_IN = 3, ST_OUT = 4, ST_PSUM_OUT = 5, DRAM_STREAMS = 6 };

// What a stretch of work took (counting build): loop cycles and the beats of each port.
struct Tally {
    long long cycles;
    long long beats[DRAM_PORTS];
};

#ifdef CS_COUNT_CYCLES_BUILD
inline long long *port_beats() {
    static long long beats[DRAM_PORTS] = {0, 0, 0, 0};
    return beats;
}

inline const dram_word_t *&last_word(int stream) {
    static const dram_word_t *last[DRAM_STREAMS] = {0, 0, 0, 0, 0, 0};
    return last[stream];
}

template <int BITS>
void touch(int port, int stream, const dram_word_t *mem, int idx) {
    const int span = Packing<BITS, CS_DRAM_WORD_BITS>::SPAN;
    const dram_word_t *first = BITS <= CS_DRAM_WORD_BITS ? mem + idx / Packing<BITS, CS_DRAM_WORD_BITS>::PER_WORD
                                                         : mem + idx * span;
    for (int j = 0; j < span; ++j) {
        if (last_word(stream) != first + j) {
            last_word(stream) = first + j;
            port_beats()[port] += 1;
        }
    }
}

inline Tally tally_now() {
    Tally t;
    t.cycles = cycle_count();
    for (int p = 0; p < DRAM_PORTS; ++p) t.beats[p] = port_beats()[p];
    return t;
}

inline Tally tally_between(const Tally &from, const Tally &to) {
    Tally d;
    d.cycles = to.cycles - from.cycles;
    for (int p = 0; p < DRAM_PORTS; ++p) d.beats[p] = to.beats[p] - from.beats[p];
    return d;
}

// Two stages that run at once and share the DRAM (a tile's write-back beside the next tile's loads).
inline Tally concurrent(const Tally &a, const Tally &b) {
    Tally d;
    d.cycles = a.cycles > b.cycles ? a.cycles : b.cycles;
    for (int p = 0; p < DRAM_PORTS; ++p) d.beats[p] = a.beats[p] + b.beats[p];
    return d;
}

// A stage's cycles: its loops at their II, each port at one word a cycle, and all its words at the
// DRAM's sustained bytes per cycle (peak x efficiency, as the simulator's cost model charges them).
inline long long stage_cycles(const Tally &d) {
    long long t = d.cycles, words = 0;
    for (int p = 0; p < DRAM_PORTS; ++p) {
        if (d.beats[p] > t) t = d.beats[p];
        words += d.beats[p];
    }
    const double bytes = (double)words * (CS_DRAM_WORD_BITS / 8);
    const long long dram = (long long)(bytes / CS_DRAM_BYTES_PER_CYCLE + 0.999999);
    return dram > t ? dram : t;
}

// A vector-unit layer streams through DRAM: it takes the larger of its loops and its traffic.
struct StreamCount {
    Tally start;
    StreamCount() : start(tally_now()) {}
    ~StreamCount() { cycle_count() = start.cycles + stage_cycles(tally_between(start, tally_now())); }
};
#define CS_STREAM_COUNT cs::StreamCount stream_count_
#else
#define CS_STREAM_COUNT ((void)0)
#endif

template <int BITS>
ap_uint<BITS> dram_get(int port, int stream, const dram_word_t *mem, int idx) {
#pragma HLS INLINE
#ifdef CS_COUNT_CYCLES_BUILD
    touch<BITS>(port, stream, mem, idx);
#endif
    return get_raw<BITS, CS_DRAM_WORD_BITS>(mem, idx);
}

template <int BITS>
void dram_put(int stream, dram_word_t *mem, int idx, ap_uint<BITS> raw) {
#pragma HLS INLINE
#ifdef CS_COUNT_CYCLES_BUILD
    touch<BITS>(PORT_ACT_OUT, stream, mem, idx);
#endif
    put_raw<BITS, CS_DRAM_WORD_BITS>(mem, idx, raw);
}

}  // namespace cs
#endif
