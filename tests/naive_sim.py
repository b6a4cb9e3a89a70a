"""A slow, plain-Python reference of the cost model (accel_sim/cost_model.py).
It walks every tile step of the loop nest and every fold, with one resident tile per buffer,
where the numba kernel uses closed forms; the pipeline formula is the one the model states.
"""
from __future__ import annotations

import itertools
import math
from fractions import Fraction

from accel_sim.cost_model import DF_IS, DF_OS, DF_WS, DIM_K, DIM_M, DIM_N, ORDERS


def _tiles(extent: int, tile: int) -> list[tuple[int, int]]:
    """(start, size) of every tile of `extent`."""
    return [(s, min(tile, extent - s)) for s in range(0, extent, tile)]


def _a_tile_elems(r: dict, m_tile: int, n_tile: int, k_tile: int) -> float:
    if r["conv"]:
        rows = max(m_tile // r["ow"], 1)
        if r["depthwise"]:
            return n_tile * ((rows - 1) * r["stride"] + r["kh"]) * r["iw"]
        channels = r["k"] / max(r["kh"] * r["kw"], 1)
        return channels * (k_tile / r["k"]) * ((rows - 1) * r["stride"] + r["kh"]) * r["iw"]
    return float(m_tile * k_tile * (n_tile if r["depthwise"] else 1))


def _fits(r: dict, hw: dict, tm: int, tn: int, tk: int) -> tuple[bool, bool, bool]:
    need = {"a": 0.0 if r["a_on_chip"] else _a_tile_elems(r, tm, tn, tk) * r["a_bits"] / 8,
            "b": 0.0 if r["b_preloaded"] else tk * tn * r["b_bits"] / 8, "o": tm * tn * r["acc_bits"] / 8}
    room = {x: hw[f"fill_{x}"] + r[f"spad_{x}"] for x in "abo"}
    if hw["unified"] and sum(need.values()) <= sum(room.values()):
        return True, True, True
    return tuple(need[x] <= room[x] for x in "abo")


def _fold_work(r: dict, pipe: bool, tiles_m, tiles_n, tiles_k, chunked: bool):
    """Fold work and buffer<->array elements (a, b, o write, o read), fold by fold. A PE packing
    `lanes` MACs a cycle takes `lanes` consecutive k: WS/IS folds hold rows x lanes of k, OS streams
    ceil(k / lanes) cycles."""
    rows, cols, df, lanes = r["rows"], r["cols"], r["df"], r["lanes"]
    work = 0
    last = 0                            # the last fold's stream: no next fold to preload behind it
    if df == DF_OS:
        for (_, tm), (_, tn) in itertools.product(tiles_m, tiles_n):
            for _ in range(math.ceil(tm / rows) * math.ceil(tn / cols)):
                streams = [tk for _, tk in tiles_k] if chunked else [r["k"]]
                for length in streams:
                    cycles = math.ceil(length / lanes)
                    work += max(cycles, rows) if pipe else cycles + rows + cols - 2
                    last = cycles
        if pipe:
            work -= max(0, rows - last)
        m, n, k = r["m"], r["n"], r["k"]
        chunks = len(tiles_k) if chunked else 1
        a = sum(math.ceil(tn / cols) for _, tn in tiles_n) * m * k
        b = sum(math.ceil(tm / rows) for _, tm in tiles_m) * k * n
        ow, orr = chunks * m * n, (chunks - 1) * m * n
        return work + ((rows + cols - 2) if pipe else 0), a, b, ow, orr
    # WS: rows <- k, cols <- n, time <- m.  IS: rows <- k, cols <- m, time <- n.
    stream_tiles, col_tiles = (tiles_m, tiles_n) if df == DF_WS else (tiles_n, tiles_m)
    for (_, ts), (_, tc), (_, tk) in itertools.product(stream_tiles, col_tiles, tiles_k):
        for _ in range(math.ceil(tk / (rows * lanes)) * math.ceil(tc / cols)):
            work += max(ts, rows) if pipe else 2 * rows + cols - 2 + ts
            last = ts
    if pipe:
        work -= max(0, rows - last)
    m, n, k = r["m"], r["n"], r["k"]
    k_folds = sum(math.ceil(tk / (rows * lanes)) for _, tk in tiles_k)
    if df == DF_WS:
        a = sum(math.ceil(tn / cols) for _, tn in tiles_n) * m * k
        b = len(tiles_m) * k * n
    else:
        a = len(tiles_n) * m * k
        b = sum(math.ceil(tm / cols) for _, tm in tiles_m) * k * n
    return work + ((2 * rows + cols - 2) if pipe else 0), a, b, k_folds * m * n, (k_folds - 1) * m * n


def naive_cost(r: dict, hw: dict, tm: int, tn: int, tk: int, order: int) -> dict:
    """Cost of one PE-array layer record (a dict) under one tiling, by walking the loop nest."""
    m, n, k, batch = r["m"], r["n"], r["k"], r["batch"]
    tm, tn, tk = min(tm, m), min(tn, n), min(tk, k)
    tiles = {DIM_M: _tiles(m, tm), DIM_N: _tiles(n, tn), DIM_K: _tiles(k, tk)}
    a_ok, b_ok, o_ok = _fits(r, hw, tm, tn, tk)
    loops = list(ORDERS[order])
    held = {"a": None, "b": None, "o": None}
    done: dict = {}                      # output tile -> k tiles accumulated so far
    a_bytes = b_bytes = psum_w = psum_r = final_w = 0.0
    spilled = False
    steps = 0
    for idx in itertools.product(*(range(len(tiles[d])) for d in loops)):
        at = dict(zip(loops, idx))
        im, in_, ik = at[DIM_M], at[DIM_N], at[DIM_K]
        steps += 1
        a_id, b_id, o_id = ((im, in_) if r["depthwise"] else (im, ik)), (ik, in_), (im, in_)
        if not r["a_on_chip"] and (held["a"] != a_id or not a_ok):
            a_bytes += _a_tile_elems(r, tiles[DIM_M][im][1], tiles[DIM_N][in_][1],
                                     tiles[DIM_K][ik][1]) * r["a_bits"] / 8
        held["a"] = a_id
        if not r["b_preloaded"] and (held["b"] != b_id or not b_ok):
            b_bytes += tiles[DIM_K][ik][1] * tiles[DIM_N][in_][1] * r["b_bits"] / 8
        held["b"] = b_id
        o_elems = tiles[DIM_M][im][1] * tiles[DIM_N][in_][1]
        if held["o"] != o_id or not o_ok:
            if held["o"] is not None and held["o"] != o_id or (not o_ok and held["o"] is not None):
                prev = held["o"]
                if done[prev] < len(tiles[DIM_K]):                       # evicted unfinished: spill
                    pe = tiles[DIM_M][prev[0]][1] * tiles[DIM_N][prev[1]][1]
                    psum_w += pe * r["acc_bits"] / 8
                    spilled = True
            if done.get(o_id, 0) > 0:
                psum_r += o_elems * r["acc_bits"] / 8
        held["o"] = o_id
        done[o_id] = done.get(o_id, 0) + 1
        if done[o_id] == len(tiles[DIM_K]):
            final_w += o_elems * r["o_bits"] / 8
    kt = len(tiles[DIM_K]) if spilled else 1
    os_chunked = r["df"] == DF_OS and len(tiles[DIM_K]) > 1 and not (
        tm <= r["rows"] and tn <= r["cols"] and loops[2] == DIM_K)
    if r["df"] == DF_OS:
        work, ar, br, owr, orr = _fold_work(r, hw["pipelined_folds"], tiles[DIM_M], tiles[DIM_N], tiles[DIM_K],
                                            os_chunked)
    elif r["df"] in (DF_WS, DF_IS):
        work, ar, br, owr, orr = _fold_work(r, hw["pipelined_folds"], tiles[DIM_M], tiles[DIM_N], tiles[DIM_K],
                                            False)
    else:
        work, ar, br, owr, orr = (r["rs_compute"], r["rs_a_reads"], r["rs_b_reads"], r["rs_o_writes"],
                                  r["rs_o_reads"])
    if r["depthwise"]:
        ar = m * k * n
    if r["df"] not in (DF_WS, DF_IS, DF_OS):        # row stationary: its packing divides the work
        work = Fraction(int(work)) / r["lanes"]
    compute = math.ceil(Fraction(work) * r["passes"])
    acc_out = owr > m * n
    arr = {"a": ar * r["a_bits"] / 8, "b": br * r["b_bits"] / 8,
           "ow": owr * (r["acc_bits"] if acc_out else r["o_bits"]) / 8, "or": orr * r["acc_bits"] / 8}
    # a tile the buffer cannot hold streams: every array read of it is a DRAM read
    if not a_ok and not r["a_on_chip"]:
        a_bytes = max(a_bytes, arr["a"])
    if not b_ok and not r["b_preloaded"]:
        b_bytes = max(b_bytes, arr["b"])
    if not o_ok:
        psum_w = max(psum_w, arr["or"])
        psum_r = max(psum_r, arr["or"])
    if r["o_on_chip"] and psum_w == 0:
        final_w = 0.0
    port = max(arr["a"] / hw["port_a"], arr["b"] / hw["port_b"], arr["ow"] / hw["port_o_write"],
               arr["or"] / hw["port_o_read"] if arr["or"] > 0 else 0.0)
    busy = max(compute, port, r["fused_vec_cycles"] / batch)
    a_bytes += r["extra_read_bytes"]
    final_w += r["chain_write_bytes"]
    dram = {"a": batch * a_bytes, "b": batch * b_bytes, "ow": batch * (psum_w + final_w), "or": batch * psum_r}
    total_steps = batch * steps
    bpc = hw["dram_bytes_per_cycle"]
    loads = (dram["a"] if hw["double_a"] else 0) + (dram["b"] if hw["double_b"] else 0) + (
        dram["or"] if hw["double_o"] else 0)
    writes = dram["ow"] if hw["double_o"] else 0
    serial = (0 if hw["double_a"] else dram["a"]) + (0 if hw["double_b"] else dram["b"]) + (
        0 if hw["double_o"] else dram["or"] + dram["ow"])
    c, load, write = batch * busy / total_steps, loads / total_steps / bpc, writes / total_steps / bpc
    t = load + (total_steps - 1) * max(c, load + write) + c + write + serial / bpc
    if sum(dram.values()) > 0:
        t += hw["dram_latency_cycles"]
    t += hw["launch_cycles"]
    return {"cycles": max(t, batch * compute), "compute": batch * compute, "dram_a": dram["a"],
            "dram_b": dram["b"], "dram_o_write": dram["ow"], "dram_o_read": dram["or"], "kt": kt,
            "arr_a": batch * arr["a"], "arr_b": batch * arr["b"]}


def naive_rate(accel, b_bits, a_bits):
    """(MACs per PE per cycle, array rows, array cols) of a layer: the LUT array for binary B
    operands when there is one, else the best PE-array mode, trying every mode with its passes."""
    lut = accel.lut_array
    if lut is not None and b_bits == 1:
        return Fraction(lut.macs_per_pe_per_cycle, math.ceil(a_bits / lut.a_bits)), lut.rows, lut.cols
    pe = accel.pe_array
    modes = pe.macs_per_cycle or [(pe.operand_bits, pe.operand_bits, 1)]
    rates = []
    for w, a, r in modes:
        r = Fraction(1, round(1 / r)) if r < 1 else Fraction(int(r))
        rates.append(r / (math.ceil(b_bits / w) * math.ceil(a_bits / a)))
    return max(rates), pe.rows, pe.cols


def record_dict(rec) -> dict:
    """A numpy record as a plain dict of Python scalars."""
    return {name: rec[name].item() for name in rec.dtype.names}


def make_accelerator(rows=8, cols=8, dataflow="os", *, ifmap_kib=16.0, weight_kib=16.0,
                     ofmap_kib=16.0, bandwidth_gbps=8.0, double_buffered=True, port_words=64.0,
                     operand_bits=8, register_file=True, lanes=8, clock_mhz=500.0,
                     macs_per_cycle=(), lut_array=None, pipelined_folds=False, activations=False,
                     weights=False, on_output_path=False, efficiency=1.0, latency_ns=0.0,
                     launch_cycles=0.0):
    """A small accelerator for tests, every knob a keyword (`lut_array`: a LutArray or None)."""
    from accel_sim import (Accelerator, Buffer, Buffers, Dram, PEArray, RegisterFile, VectorCycles,
                           VectorUnit)
    from accel_sim.config import Residency
    from accel_sim.energy import horowitz_45nm

    def buf(kib, bits=8):
        return Buffer(size_kib=kib, word_bits=bits, banks=1, read_bw_words_per_cycle=port_words,
                      write_bw_words_per_cycle=port_words, double_buffered=double_buffered)

    return Accelerator(
        name="test", clock_mhz=clock_mhz,
        pe_array=PEArray(rows, cols, dataflow, operand_bits=operand_bits, macs_per_cycle=macs_per_cycle,
                         pipelined_folds=pipelined_folds),
        buffers=Buffers(buf(ifmap_kib), buf(weight_kib), buf(ofmap_kib, 32)),
        register_file=RegisterFile(520, 16) if register_file else None,
        dram=Dram(bandwidth_gbps=bandwidth_gbps, energy_pj_per_bit=20.0, efficiency=efficiency,
                  latency_ns=latency_ns),
        vector_unit=VectorUnit(lanes, VectorCycles(4, 3, 2, 1, 1, 1), on_output_path=on_output_path),
        energy=horowitz_45nm(operand_bits), lut_array=lut_array,
        residency=Residency(activations=activations, weights=weights), layer_launch_cycles=launch_cycles)


def naive_vector(r: dict, hw: dict) -> dict:
    """An unfused vector layer: lane-wide vectors streamed through the same pipeline."""
    bpc = hw["dram_bytes_per_cycle"]
    if r["fused"]:
        return {"cycles": 0.0, "compute": 0, "dram": 0.0}
    a = (0.0 if r["a_on_chip"] else r["a_elems"] * r["a_bits"] / 8) + r["extra_read_bytes"]
    b = r["b_elems"] * r["a_bits"] / 8
    o = 0.0 if r["o_on_chip"] else r["o_elems"] * r["a_bits"] / 8
    steps = max(1, r["vec_steps"], math.ceil((a + b) / hw["fill_a"] - 1e-9),
                math.ceil(r["o_elems"] * r["a_bits"] / 8 / hw["fill_o"] - 1e-9))
    c = r["vec_cycles"] / steps
    load = (a + b) / steps / bpc if hw["double_a"] else 0.0
    write = o / steps / bpc if hw["double_o"] else 0.0
    serial = (0.0 if hw["double_a"] else a + b) + (0.0 if hw["double_o"] else o)
    t = load + (steps - 1) * max(c, load + write) + c + write + serial / bpc
    t += (hw["dram_latency_cycles"] if a + b + o > 0 else 0) + hw["launch_cycles"]
    return {"cycles": t, "compute": r["vec_cycles"], "dram": a + b + o}


def naive_simulate(workload, accel, dataflow=None):
    """Per-layer (cycles, compute_cycles, dram_bytes) of `simulate`: the mapper's tilings and
    residency, costed layer by layer by walking the loop nests, with rates recomputed from the
    accelerator's modes (unfused layers only: fusion is the mapper's network-level decision)."""
    from accel_sim.mapper import map_workload

    sched = map_workload(workload, accel, dataflow=dataflow)
    hw = record_dict(sched.hw[0])
    out = []
    for i in range(len(workload)):
        r = record_dict(sched.layers[i])
        if r["vector"]:
            c = naive_vector(r, hw)
            out.append((max(math.ceil(c["cycles"] - 1e-6), int(c["compute"])), int(c["compute"]), c["dram"]))
            continue
        rate, rows, cols = naive_rate(accel, int(r["b_bits"]), int(r["a_bits"]))
        r.update(rows=rows, cols=cols, lanes=rate.numerator, passes=rate.denominator)
        t = sched.tilings[i]
        c = naive_cost(r, hw, int(t["tm"]), int(t["tn"]), int(t["tk"]), int(t["order"]))
        dram = c["dram_a"] + c["dram_b"] + c["dram_o_write"] + c["dram_o_read"]
        compute = int(c["compute"])
        out.append((max(math.ceil(c["cycles"] - 1e-6), compute), compute, dram))
    return out
