"""Hypothesis property tests: physical bounds and monotonicity over random layers and accelerators.
Each property holds for every dataflow, buffer size, bandwidth and bit width drawn.
"""
import dataclasses
import os

import numpy as np
from hypothesis import given, settings, strategies as st

from accel_sim import Layer, LayerKind, LutArray, Workload, simulate_workload
from accel_sim.config import Residency
from accel_sim.engine import cost_schedule
from accel_sim.mapper import map_workload
from accel_sim import cost_model as cm
from accel_sim.cost_model import NEAR_TIE
from accel_sim import mapper
from naive_sim import make_accelerator, naive_rate

SETTINGS = settings(max_examples=int(os.environ.get("CODESIGN_PROPERTY_EXAMPLES", "50")), deadline=None)
BITS = st.sampled_from([1, 2, 4, 8, 16])
TABLES = st.sampled_from([(), {"w16a16": 0.5, "w8a8": 1, "w4a4": 2}, {"w8a8": 1, "w4a4": 4, "w2a2": 8},
                          {"w16a16": 0.25, "w8a16": 0.5, "w4a4": 1}])
LUT_ARRAYS = st.none() | st.builds(LutArray, rows=st.integers(1, 16), cols=st.integers(1, 16),
                                   macs_per_pe_per_cycle=st.integers(1, 64), luts_per_pe=st.just(100.0),
                                   a_bits=st.sampled_from([1, 2, 8]))


@st.composite
def layers(draw):
    """A few layers; each may read the previous one's output (so fusion and residency apply)."""
    out = []
    for i in range(draw(st.integers(1, 4))):
        graph = {"producer": i - 1 if i and draw(st.booleans()) else -1, "consumers": draw(st.integers(1, 2))}
        choice = draw(st.integers(0, 5))
        if choice == 0:
            family = draw(st.sampled_from(["exp_softmax", "layernorm", "gelu", "activation",
                                           "eltwise", "pooling"]))
            elems = draw(st.integers(1, 50_000))
            if graph["producer"] >= 0 and family != "pooling":   # it reads what its producer wrote
                prev = out[graph["producer"]]
                elems = int(prev.o_elems or prev.m * prev.n or prev.elems) * max(prev.batch, 1)
            out.append(Layer(f"v{i}", LayerKind.VECTOR, vector_family=family, elems=elems,
                             a_bits=draw(BITS), foldable=draw(st.booleans()), **graph))
        elif choice == 1:
            oh, ow, c, kh, s = (draw(st.integers(1, 20)), draw(st.integers(1, 20)), draw(st.integers(1, 16)),
                                draw(st.integers(1, 3)), draw(st.integers(1, 2)))
            iw, ih = (ow - 1) * s + kh, (oh - 1) * s + kh
            out.append(Layer(f"c{i}", LayerKind.CONV, m=oh * ow, n=draw(st.integers(1, 64)), k=c * kh * kh,
                             kh=kh, kw=kh, stride=s, oh=oh, ow=ow, iw=iw, a_elems=c * ih * iw,
                             w_bits=draw(BITS), a_bits=draw(BITS), **graph))
        else:
            out.append(Layer(f"g{i}", m=draw(st.integers(1, 300)), n=draw(st.integers(1, 300)),
                             k=draw(st.integers(1, 300)), batch=draw(st.integers(1, 3)),
                             b_is_activation=draw(st.booleans()), w_bits=draw(BITS), a_bits=draw(BITS),
                             **graph))
    return Workload.from_layers(out)


@st.composite
def accelerators(draw):
    return make_accelerator(
        rows=draw(st.integers(1, 32)), cols=draw(st.integers(1, 32)),
        dataflow=draw(st.sampled_from(["ws", "os", "is", "rs"])),
        ifmap_kib=draw(st.floats(8, 256)), weight_kib=draw(st.floats(8, 256)),
        ofmap_kib=draw(st.floats(8, 256)), bandwidth_gbps=draw(st.floats(0.05, 200)),
        double_buffered=draw(st.booleans()), port_words=draw(st.floats(1, 64)),
        operand_bits=draw(st.sampled_from([4, 8, 16])), macs_per_cycle=draw(TABLES),
        lut_array=draw(LUT_ARRAYS), pipelined_folds=draw(st.booleans()), activations=draw(st.booleans()),
        weights=draw(st.booleans()), on_output_path=draw(st.booleans()),
        efficiency=draw(st.floats(0.5, 1.0)), latency_ns=draw(st.sampled_from([0.0, 100.0])))


def dram(result):
    return sum(result.columns[k] for k in ("dram_ifmap_bytes", "dram_weight_bytes", "dram_ofmap_bytes"))


@SETTINGS
@given(layers(), accelerators())
def test_physical_bounds(workload, accel):
    result = simulate_workload(workload, accel)
    cycles = result.columns["cycles"]
    for i in np.flatnonzero(~workload.is_vector):       # cycles >= MACs / (PEs x MACs per PE-cycle)
        b_bits = workload.a_bits[i] if workload.b_is_activation[i] else workload.w_bits[i]
        rate, rows, cols = naive_rate(accel, int(b_bits), int(workload.a_bits[i]))
        assert cycles[i] * rows * cols * rate >= result.columns["macs"][i]
        assert result.arrays[i] == ("lut" if accel.lut_array and b_bits == 1 else "pe")
    assert np.all(cycles >= result.columns["compute_cycles"])
    assert np.all(cycles + 1e-6 >= dram(result) / accel.dram_bytes_per_cycle)    # >= DRAM-bound
    assert result.cycles + 1e-6 >= result.roofline_cycles                        # latency >= roofline
    assert 0 <= result.utilization <= 1
    assert np.all(result.layer_utilization() <= 1)
    assert np.all(result.columns["stall_cycles"] >= 0)


@SETTINGS
@given(layers(), accelerators())
def test_dram_traffic_at_least_compulsory(workload, accel):
    """Weights, inputs and outputs cross DRAM at least once, except what the schedule keeps on chip."""
    result = simulate_workload(workload, accel)
    assert np.all(dram(result) >= result.schedule.compulsory_bytes() * (1 - 1e-9))
    plain = dataclasses.replace(accel, residency=Residency(), vector_unit=dataclasses.replace(
        accel.vector_unit, on_output_path=False))
    alone = simulate_workload(workload, plain)
    b_bits = np.where(workload.b_is_activation, workload.a_bits, workload.w_bits)
    weights_and_outputs = workload.batch * (workload.b_elems * b_bits + workload.o_elems * workload.a_bits) / 8
    assert np.all(dram(alone) >= alone.schedule.compulsory_bytes() * (1 - 1e-9))
    kept = ~alone.schedule.folded         # a folded BatchNorm has no traffic of its own
    assert np.all(alone.schedule.compulsory_bytes()[kept] >= weights_and_outputs[kept] * (1 - 1e-9))


@SETTINGS
@given(layers(), accelerators())
def test_searched_never_slower_than_scalesim(workload, accel):
    """Every layer's searched mapping is at least as fast as SCALE-Sim's (up to the near-tie band
    inside which the mapper prefers less energy); with fusion and residency the network too."""
    plain = dataclasses.replace(accel, residency=Residency(), vector_unit=dataclasses.replace(
        accel.vector_unit, on_output_path=False))
    searched = simulate_workload(workload, plain).columns["cycles"]
    scalesim = simulate_workload(workload, plain, mapping="scalesim").columns["cycles"]
    assert np.all(searched <= scalesim * (1 + NEAR_TIE) + 1)
    assert simulate_workload(workload, accel).cycles <= simulate_workload(workload, accel, mapping="scalesim").cycles * (1 + NEAR_TIE) + 1


def exhaustive_tiling(sched, i, objective):
    """Layer i's best tiling ranked over every candidate, none pruned, on the schedule's hardware."""
    layer, hw = sched.layers[i:i + 1].copy(), sched.hw
    for attempt in range(2):
        tm, tn, tk = mapper._candidates(layer[0])
        size = len(tm) * len(tn) * len(tk) * len(cm.ORDERS)
        picks, costs = np.empty((size, 4), dtype=np.int64), np.zeros(size, dtype=cm.COST_DTYPE)
        count = cm.candidate_costs(layer[0], hw[0], tm, tn, tk, np.zeros(1, dtype=cm.TILING_DTYPE), picks, costs)
        if count:
            break
        layer[0]["full_rows"] = False
    fixed = mapper._fixed_energy(layer, sched.accelerator)[0]
    return tuple(picks[cm.choose(layer[0], hw[0], costs, count, objective, fixed)])


@SETTINGS
@given(layers(), accelerators(), st.floats(0.05, 20.0), st.floats(0.2, 5.0), st.sampled_from(list(cm.OBJECTIVES)))
def test_plan_reranked_equals_exhaustive_search(workload, accel, bandwidth_x, clock_x, objective):
    """A plan drops dominated tilings once and re-ranks the rest for each DRAM speed and clock:
    the choice is the one ranking every candidate would make."""
    for variant in (accel, dataclasses.replace(
            accel, clock_mhz=accel.clock_mhz * clock_x,
            dram=dataclasses.replace(accel.dram, bandwidth_gbps=accel.dram.bandwidth_gbps * bandwidth_x))):
        if variant.dram_bytes_per_cycle < 1e-3:
            continue
        sched = map_workload(workload, variant, objective=objective)
        for i in np.flatnonzero(~sched.layers["vector"]):
            got = tuple(int(sched.tilings[i][f]) for f in ("tm", "tn", "tk", "order"))
            assert got == exhaustive_tiling(sched, i, cm.OBJECTIVES[objective])


@SETTINGS
@given(layers(), accelerators())
def test_fusion_never_adds_dram_bytes(workload, accel):
    """Under the same tiles, fusing only removes traffic; the mapper may re-tile a fused producer
    for speed, so the network is never slower (up to the near-tie band)."""
    off = dataclasses.replace(accel, vector_unit=dataclasses.replace(accel.vector_unit, on_output_path=False))
    on = dataclasses.replace(accel, vector_unit=dataclasses.replace(accel.vector_unit, on_output_path=True))
    fused, plain = map_workload(workload, on), map_workload(workload, off)
    same_tiles = cost_schedule(dataclasses.replace(plain, tilings=fused.tilings))
    assert cost_schedule(fused).dram_bytes <= same_tiles.dram_bytes * (1 + 1e-9)
    assert cost_schedule(fused).cycles <= cost_schedule(plain).cycles * (1 + NEAR_TIE) + len(workload)


@SETTINGS
@given(layers(), accelerators())
def test_every_dataflow_agrees_on_macs(workload, accel):
    expected = np.where(workload.is_vector, 0, workload.m * workload.n * workload.k * workload.batch)
    for df in ("ws", "os", "is", "rs"):
        result = simulate_workload(workload, accel, dataflow=df)
        np.testing.assert_array_equal(result.columns["macs"], expected)
        assert result.totals.macs == expected.sum()


@SETTINGS
@given(layers(), accelerators())
def test_narrower_operands_never_take_more_compute(workload, accel):
    def at(bits):
        return Workload.from_layers([Layer(n, m=int(m), n=int(k), k=int(k), w_bits=bits, a_bits=bits)
                                     for n, m, k in zip(workload.names, workload.m + 1, workload.k + 1)])
    compute = [simulate_workload(at(bits), accel, mapping="scalesim").columns["compute_cycles"] for bits in (16, 8, 4, 2)]
    for wide, narrow in zip(compute, compute[1:]):
        assert np.all(narrow <= wide)


@SETTINGS
@given(layers(), accelerators(), st.floats(1.0, 50.0))
def test_more_bandwidth_never_slower(workload, accel, factor):
    """Per layer, up to the near-tie band inside which the mapper prefers less energy."""
    faster = dataclasses.replace(accel, dram=dataclasses.replace(
        accel.dram, bandwidth_gbps=accel.dram.bandwidth_gbps * factor))
    before, after = simulate_workload(workload, accel), simulate_workload(workload, faster)
    assert np.all(after.columns["cycles"] <= before.columns["cycles"] * (1 + NEAR_TIE) + 1)


@SETTINGS
@given(layers(), accelerators(), st.floats(1.0, 20.0), st.sampled_from(["ifmap", "weight", "ofmap", "all"]))
def test_bigger_buffers_never_slower(workload, accel, factor, which):
    """Per layer under SCALE-Sim's fixed tiles (more reuse is only ever kept), and for the network
    under the searched mapping (the old tiling stays available; fusion and residency only grow)."""
    def grow(name, buf):
        return dataclasses.replace(buf, size_kib=buf.size_kib * factor) if which in (name, "all") else buf
    bigger = dataclasses.replace(accel, buffers=dataclasses.replace(
        accel.buffers, **{name: grow(name, buf) for name, buf in accel.buffers.items()}))
    before, after = simulate_workload(workload, accel, mapping="scalesim"), simulate_workload(workload, bigger, mapping="scalesim")
    assert np.all(dram(after) <= dram(before) * (1 + 1e-9))
    plain, plain_big = (dataclasses.replace(a, residency=Residency()) for a in (accel, bigger))
    assert simulate_workload(workload, plain_big).cycles <= simulate_workload(workload, plain).cycles * (1 + NEAR_TIE) + len(workload)
