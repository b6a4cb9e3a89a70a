"""A slow, plain-Python reference of the engine's memory model and tile pipeline.
It walks every fold and every tile explicitly, where the numba kernel uses closed forms.
"""
from __future__ import annotations

import math
from fractions import Fraction

import dataflows
from accel_sim.workload import LayerKind

IFMAP, WEIGHT, OFMAP = 0, 1, 2


def _overlap(lo: float, hi: float, cap: float) -> float:
    """Bytes of [lo, hi) inside the retained prefix [0, cap)."""
    return max(0.0, min(hi, cap) - lo)


def fold_traffic(order, fr, fc, row_op, col_op, pin_op, size, acc, cap):
    """Per outer step: [ifmap load, weight load, psum read, write] by walking every fold.

    A buffer keeps the first `cap` bytes of an operand that is streamed again (in fold order),
    and keeps as much of a reused panel as fits; anything else is fetched again.
    """
    if order == 0:
        n_out, n_in, outer, inner = fc, fr, col_op, row_op
    else:
        n_out, n_in, outer, inner = fr, fc, row_op, col_op
    steps = []
    for x in range(n_out):
        t = [0.0, 0.0, 0.0, 0.0]
        for y in range(n_in):
            if pin_op == OFMAP:
                t[3] += size[OFMAP] / (n_out * n_in)
            else:
                t[pin_op] += size[pin_op] / (n_out * n_in)
            if outer == OFMAP:
                p_acc = acc / n_out
                spill = p_acc - min(p_acc, cap[OFMAP])
                if y > 0:
                    t[2] += spill
                t[3] += size[OFMAP] / n_out if y == n_in - 1 else spill
            else:
                panel = size[outer] / n_out
                t[outer] += panel if y == 0 else panel - min(panel, cap[outer])
            if inner == OFMAP:
                lo, hi = y * acc / n_in, (y + 1) * acc / n_in
                outside = (hi - lo) - _overlap(lo, hi, cap[OFMAP])
                if x > 0:
                    t[2] += outside
                t[3] += size[OFMAP] / n_in if x == n_out - 1 else outside
            else:
                q = size[inner] / n_in
                t[inner] += q if x == 0 else q - _overlap(y * q, (y + 1) * q, cap[inner])
        steps.append(t)
    return steps


def tiles_of(step, step_compute, fill, double):
    """The equal tiles of one step, as a list of (compute, load_db, load_sb, write_db, write_sb)."""
    n = max(1, max(math.ceil(step[b] / fill[b] - 1e-9) for b in range(3)),
            math.ceil(step[3] / fill[OFMAP] - 1e-9))
    l_db = sum(step[b] for b in range(3) if double[b]) / n
    l_sb = sum(step[b] for b in range(3) if not double[b]) / n
    w = step[3] / n
    return [(step_compute / n, l_db, l_sb, w if double[OFMAP] else 0.0,
             0.0 if double[OFMAP] else w)] * n


def pipeline(tiles, bpc):
    """Three-stage pipeline over explicit tiles: load i+1 | compute i | write back i-1."""
    t = tiles[0][1] / bpc
    for i, (comp, l_db, l_sb, w_db, w_sb) in enumerate(tiles):
        next_load = tiles[i + 1][1] if i + 1 < len(tiles) else 0.0
        prev_write = tiles[i - 1][3] if i > 0 else 0.0
        t += max(comp, (next_load + prev_write) / bpc) + (l_sb + w_sb) / bpc
    return t + tiles[-1][3] / bpc


def naive_layer(is_vec, batch, fr, fc, compute, port, row_op, col_op, pin_op, size, acc, cap, fill,
                double, bpc):
    """(cycles, [ifmap, weight, psum read, write] bytes, order) of one layer, as the kernel does."""
    busy = max(compute, port)
    if is_vec:
        steps, order = [[size[IFMAP], size[WEIGHT], 0.0, size[OFMAP]]], 0
    else:
        by_order = [fold_traffic(o, fr, fc, row_op, col_op, pin_op, size, acc, cap) for o in (0, 1)]
        totals = [sum(sum(t) for t in s) for s in by_order]
        order = 1 if totals[1] < totals[0] * (1 - 1e-12) else 0
        steps = by_order[order]
    tiles, dram = [], [0.0] * 4
    for _ in range(batch):
        for step in steps:
            tiles += tiles_of(step, busy / len(steps), fill, double)
            dram = [d + s for d, s in zip(dram, step)]
    return pipeline(tiles, bpc), dram, order


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


def naive_simulate(workload, accel, dataflow=None):
    """Per-layer (cycles, compute_cycles, dram_bytes) of `simulate`, one layer at a time."""
    df = dataflows.Dataflow(dataflow or accel.pe_array.dataflow)
    pe, bufs, vec = accel.pe_array, accel.buffers, accel.vector_unit
    caps = [b.fill_bytes for _, b in bufs.items()]
    double = [b.double_buffered for _, b in bufs.items()]
    cpe = vec.cycles_per_element.as_tuple()
    out = []
    for i in range(len(workload)):
        a_bits, w_bits = int(workload.a_bits[i]), int(workload.w_bits[i])
        b_bits = a_bits if workload.b_is_activation[i] else w_bits
        size = [workload.a_elems[i] * a_bits / 8, workload.b_elems[i] * b_bits / 8,
                workload.o_elems[i] * a_bits / 8]
        acc = workload.o_elems[i] * pe.accum_bits / 8
        if workload.kind[i] == LayerKind.VECTOR:
            compute = math.ceil(math.ceil(workload.vec_elems[i] / vec.lanes) * cpe[workload.vec_family[i]])
            port = max(size[IFMAP] * 8 / (bufs.ifmap.read_bw_words_per_cycle * bufs.ifmap.word_bits),
                       size[OFMAP] * 8 / (bufs.ofmap.write_bw_words_per_cycle * bufs.ofmap.word_bits))
            t, dram, _ = naive_layer(True, 1, 1, 1, compute, port, 0, 0, 0, size, acc, caps, caps,
                                     double, accel.dram_bytes_per_cycle)
            out.append((max(math.ceil(t - 1e-6), compute), compute, sum(dram)))
            continue
        rate, rows, cols = naive_rate(accel, b_bits, a_bits)
        spads = accel.register_file.spad_words() if accel.register_file else (0, 0, 0)
        plan = dataflows.plan(df, workload.dims(slice(i, i + 1)), dataflows.ArrayShape(rows, cols, *spads))
        per_batch = math.ceil(int(plan.row_folds[0] * plan.col_folds[0] * plan.fold_cycles[0]) / rate)
        o_bits = pe.accum_bits if plan.col_operand == OFMAP else a_bits
        port = max(plan.ifmap_reads[0] * a_bits / (bufs.ifmap.read_bw_words_per_cycle * bufs.ifmap.word_bits),
                   plan.weight_reads[0] * b_bits / (bufs.weight.read_bw_words_per_cycle * bufs.weight.word_bits),
                   plan.ofmap_writes[0] * o_bits / (bufs.ofmap.write_bw_words_per_cycle * bufs.ofmap.word_bits),
                   plan.ofmap_reads[0] * pe.accum_bits / (bufs.ofmap.read_bw_words_per_cycle * bufs.ofmap.word_bits))
        batch = int(workload.batch[i])
        t, dram, _ = naive_layer(False, batch, int(plan.row_folds[0]), int(plan.col_folds[0]),
                                 per_batch, port, int(plan.row_operand), int(plan.col_operand),
                                 int(plan.pin_operand), size, acc, caps, caps, double,
                                 accel.dram_bytes_per_cycle)
        compute = batch * per_batch
        out.append((max(math.ceil(t - 1e-6), compute), compute, sum(dram)))
    return out


def make_accelerator(rows=8, cols=8, dataflow="os", *, ifmap_kib=16.0, weight_kib=16.0,
                     ofmap_kib=16.0, bandwidth_gbps=8.0, double_buffered=True, port_words=64.0,
                     operand_bits=8, register_file=True, lanes=8, clock_mhz=500.0,
                     macs_per_cycle=(), lut_array=None):
    """A small accelerator for tests, every knob a keyword (`lut_array`: a LutArray or None)."""
    from accel_sim import (Accelerator, Buffer, Buffers, Dram, PEArray, RegisterFile, VectorCycles,
                           VectorUnit)
    from accel_sim.energy import horowitz_45nm

    def buf(kib, bits=8):
        return Buffer(size_kib=kib, word_bits=bits, banks=1, read_bw_words_per_cycle=port_words,
                      write_bw_words_per_cycle=port_words, double_buffered=double_buffered)

    return Accelerator(
        name="test", clock_mhz=clock_mhz,
        pe_array=PEArray(rows, cols, dataflow, operand_bits=operand_bits, macs_per_cycle=macs_per_cycle),
        buffers=Buffers(buf(ifmap_kib), buf(weight_kib), buf(ofmap_kib, 32)),
        register_file=RegisterFile(520, 16) if register_file else None,
        dram=Dram(bandwidth_gbps=bandwidth_gbps, energy_pj_per_bit=20.0),
        vector_unit=VectorUnit(lanes, VectorCycles(4, 3, 2, 1, 1, 1)),
        energy=horowitz_45nm(operand_bits), lut_array=lut_array)
