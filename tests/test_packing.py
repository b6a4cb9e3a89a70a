"""Operand width on the hardware: DSP packing makes narrow layers faster, binary-weight layers run
on the LUT array, energy per MAC falls with width, and the naive reference agrees throughout.
"""
import copy

import numpy as np
import pytest
import yaml

from accel_sim import (Layer, LayerKind, LutArray, UserError, Workload, accelerator_from_dict,
                       load_accelerator, simulate_workload)
from accel_sim.energy import LUT_MAC_ENERGY_X
from naive_sim import make_accelerator, naive_simulate

DSP_PACKING = {"w16a16": 0.5, "w8a8": 1, "w4a4": 2}      # the zcu102/zcu104/u250 presets' table
XNOR = LutArray(rows=8, cols=8, macs_per_pe_per_cycle=16, luts_per_pe=226.6, a_bits=1)


def fast_memory(**kw):
    """Ample DRAM and buffer ports, so cycles are compute cycles up to the exposed first/last tile."""
    return make_accelerator(16, 16, "ws", bandwidth_gbps=1e6, port_words=1e6, ifmap_kib=256,
                            weight_kib=256, ofmap_kib=256, **kw)


def one_layer(w, a, m=256, n=256, k=256, **kw):
    return Workload.from_layers([Layer("fc", m=m, n=n, k=k, w_bits=w, a_bits=a, **kw)])


def test_packing_speeds_up_narrow_layers_by_the_packing_factors():
    accel = fast_memory(macs_per_cycle=DSP_PACKING)
    runs = {bits: simulate_workload(one_layer(bits, bits), accel) for bits in (16, 8, 4)}
    compute = {bits: r.totals.compute_cycles for bits, r in runs.items()}
    assert compute[16] == 2 * compute[8] == 4 * compute[4]
    cycles = {bits: r.cycles for bits, r in runs.items()}
    assert cycles[16] > cycles[8] > cycles[4]
    assert cycles[16] / cycles[8] == pytest.approx(2, rel=0.01)
    assert cycles[8] / cycles[4] == pytest.approx(2, rel=0.01)
    for r in runs.values():                               # packed lanes count as peak, not as PEs
        assert 0 < r.utilization <= 1


def test_without_a_table_narrow_operands_are_not_faster():
    accel = fast_memory()                                 # operand_bits 8: one mode, w8a8: 1
    compute = {bits: simulate_workload(one_layer(bits, bits), accel).totals.compute_cycles for bits in (16, 8, 4, 2)}
    assert compute[4] == compute[8] == compute[2] and compute[16] == 4 * compute[8]


def test_the_rule_picks_the_fastest_covering_mode():
    pe = load_accelerator("zcu102").pe_array
    assert pe.modes == ((4, 4, 2.0), (8, 8, 1.0), (16, 16, 0.5))
    assert pe.rate(8, 8) == 1 and pe.rate(4, 4) == 2 and pe.rate(16, 16) == 0.5
    assert pe.rate(4, 8) == 1 and pe.rate(2, 3) == 2 and pe.rate(1, 8) == 1   # narrower: sign-extend
    assert pe.rate(8, 16) == 0.5 and pe.rate(32, 32) == pytest.approx(1 / 8)  # wider: passes
    default = make_accelerator(operand_bits=8).pe_array
    assert default.rate(16, 16) == 0.25 and default.rate(4, 4) == 1


def test_binary_weight_layers_run_on_the_lut_array():
    accel = fast_memory(macs_per_cycle=DSP_PACKING, lut_array=XNOR)
    layers = [Layer("bin", m=128, n=128, k=128, w_bits=1, a_bits=1),
              Layer("bin_a8", m=128, n=128, k=128, w_bits=1, a_bits=8),
              Layer("qk_bin", m=64, n=64, k=32, b_is_activation=True, w_bits=8, a_bits=1),
              Layer("qk_a8", m=64, n=64, k=32, b_is_activation=True, w_bits=1, a_bits=8),
              Layer("int8", m=128, n=128, k=128),
              Layer("sm", LayerKind.VECTOR, vector_family="exp_softmax", elems=4096)]
    result = simulate_workload(Workload.from_layers(layers), accel)
    assert result.arrays == ("lut", "lut", "lut", "pe", "pe", "vector")
    rows = {d["name"]: d for d in result.layer_dicts()}
    assert rows["bin"]["array"] == "lut" and rows["bin"]["peak_macs_per_cycle"] == 64 * 16
    # activations wider than the LUT PE's a_bits go bit-serially: 8 passes at a8
    assert rows["bin_a8"]["compute_cycles"] == 8 * rows["bin"]["compute_cycles"]
    assert rows["int8"]["peak_macs_per_cycle"] == 256
    assert np.all(result.layer_utilization() <= 1) and 0 < result.utilization <= 1


def test_without_a_lut_array_binary_layers_use_the_lowest_width_mode():
    accel = fast_memory(macs_per_cycle=DSP_PACKING)
    binary = simulate_workload(one_layer(1, 4), accel)
    int4 = simulate_workload(one_layer(4, 4), accel)
    assert binary.arrays == ("pe",)
    assert binary.totals.compute_cycles == int4.totals.compute_cycles


def test_energy_per_mac_falls_with_width():
    accel = fast_memory(macs_per_cycle=DSP_PACKING)
    per_mac = [simulate_workload(one_layer(w, a), accel).totals.mac_pj / 256 ** 3
               for w, a in ((16, 16), (8, 8), (4, 8), (4, 4), (2, 2), (1, 1))]
    assert all(x > y for x, y in zip(per_mac, per_mac[1:])), per_mac
    # buffer and DRAM energy fall too: fewer bits move
    wide, narrow = simulate_workload(one_layer(16, 16), accel).totals, simulate_workload(one_layer(4, 4), accel).totals
    assert narrow.buffer_pj < wide.buffer_pj and narrow.dram_pj < wide.dram_pj
    # the same binary MAC costs LUT_MAC_ENERGY_X more in LUT fabric than in a DSP
    on_lut = simulate_workload(one_layer(1, 8), fast_memory(lut_array=XNOR)).totals.mac_pj
    on_dsp = simulate_workload(one_layer(1, 8), fast_memory()).totals.mac_pj
    assert on_lut == pytest.approx(LUT_MAC_ENERGY_X * on_dsp)


def test_preset_latency_falls_with_precision():
    latency = {}
    for bits in (16, 8, 4):
        layers = [Layer("qkv", m=197, n=576, k=192, w_bits=bits, a_bits=bits),
                  Layer("fc1", m=197, n=768, k=192, w_bits=bits, a_bits=bits)]
        latency[bits] = simulate_workload(Workload.from_layers(layers), load_accelerator("zcu102")).latency_ms
    assert latency[16] > latency[8] > latency[4]


@pytest.mark.parametrize("df", ["ws", "os", "is", "rs"])
@pytest.mark.parametrize("lut", [None, XNOR, LutArray(4, 6, 3, 50.0, a_bits=2)])
def test_naive_reference_agrees_with_packing_and_lut_arrays(df, lut):
    accel = make_accelerator(8, 4, df, ifmap_kib=4, weight_kib=2, ofmap_kib=8, bandwidth_gbps=3,
                             port_words=6, macs_per_cycle={"w16a8": 0.5, "w8a8": 1, "w4a4": 3,
                                                           "w2a2": 6}, lut_array=lut)
    layers = [Layer(f"fc{w}_{a}", m=50, n=70, k=90, w_bits=w, a_bits=a)
              for w, a in ((16, 16), (16, 8), (8, 8), (4, 8), (4, 4), (2, 2), (1, 2), (1, 8))]
    layers += [Layer("qk", m=33, n=33, k=16, batch=3, b_is_activation=True, w_bits=1, a_bits=1),
               Layer("conv", LayerKind.CONV, m=36, n=12, k=27, kh=3, kw=3, oh=6, ow=6, a_elems=192,
                     w_bits=1, a_bits=4),
               Layer("softmax", LayerKind.VECTOR, vector_family="exp_softmax", elems=3 * 33 * 33)]
    workload = Workload.from_layers(layers)
    result = simulate_workload(workload, accel)
    naive = naive_simulate(workload, accel, df)
    np.testing.assert_array_equal(result.columns["cycles"], [x[0] for x in naive])
    np.testing.assert_array_equal(result.columns["compute_cycles"], [x[1] for x in naive])


def _with(path, value, base="zcu102"):
    data = copy.deepcopy(load_accelerator(base).to_dict())
    node = data
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return data


@pytest.mark.parametrize("path, value, words", [
    (("pe_array", "macs_per_cycle"), {"w8": 1}, ["pe_array.macs_per_cycle", "w8a8", "'w8'"]),
    (("pe_array", "macs_per_cycle"), {"w8a8": 1.5}, ["pe_array.macs_per_cycle.w8a8", "1/n"]),
    (("pe_array", "macs_per_cycle"), {"w8a8": 0.3}, ["pe_array.macs_per_cycle.w8a8"]),
    (("pe_array", "macs_per_cycle"), {"w0a8": 1}, ["pe_array.macs_per_cycle", "'w0a8'"]),
    (("pe_array", "macs_per_cycle"), [1, 2], ["pe_array.macs_per_cycle"]),
    (("lut_array",), {"rows": 4, "cols": 4, "macs_per_pe_per_cycle": 8}, ["missing field lut_array.luts_per_pe"]),
    (("lut_array",), {"rows": 4, "cols": 0, "macs_per_pe_per_cycle": 8, "luts_per_pe": 9},
     ["lut_array.cols"]),
    (("lut_array",), {"rows": 4, "cols": 4, "macs_per_pe_per_cycle": 8, "luts_per_pe": 9, "simd": 2},
     ["'simd'", "lut_array"]),
    (("energy", "mac_mult_fraction"), 1.5, ["energy.mac_mult_fraction"]),
])
def test_bad_precision_fields_are_one_line_errors(path, value, words):
    with pytest.raises(UserError) as err:
        accelerator_from_dict(_with(path, value), "bad.yaml")
    msg = str(err.value)
    assert "\n" not in msg and "bad.yaml" in msg
    for word in words:
        assert word in msg, msg


def test_lut_array_and_table_round_trip_through_yaml():
    data = _with(("lut_array",), {"rows": 8, "cols": 8, "macs_per_pe_per_cycle": 16, "luts_per_pe": 226.6})
    accel = accelerator_from_dict(data, "mine.yaml")
    assert accel.lut_array == LutArray(8, 8, 16, 226.6, a_bits=1)
    again = accelerator_from_dict(yaml.safe_load(yaml.safe_dump(accel.to_dict())), "again.yaml")
    assert again == accel
    assert again.to_dict()["pe_array"]["macs_per_cycle"] == DSP_PACKING
    plain = load_accelerator("scalesim_default").to_dict()      # no table, no LUT array: no keys
    assert "macs_per_cycle" not in plain["pe_array"] and "lut_array" not in plain
