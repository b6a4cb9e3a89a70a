"""The numba cost model against the plain-Python reference (tests/naive_sim.py), and the engine's
contracts: results add up, identical layers share results, bad requests raise one-line UserErrors.
"""
import json
import subprocess
import sys

import numpy as np
import pytest

from accel_sim import Layer, LayerKind, UserError, Workload, load_accelerator, simulate_workload
from accel_sim import cost_model as cm
from accel_sim.energy import MAC_MULT_FRACTION
from accel_sim.mapper import map_workload
from naive_sim import make_accelerator, naive_cost, record_dict

V = LayerKind.VECTOR


def mixed_layers(bits=8):
    return [
        Layer("fc", m=50, n=70, k=90, w_bits=bits, a_bits=bits),
        Layer("qk", m=33, n=33, k=16, batch=3, b_is_activation=True, a_bits=bits, w_bits=bits),
        Layer("conv", LayerKind.CONV, m=36, n=12, k=27, kh=3, kw=3, oh=6, ow=6, iw=8, a_elems=192),
        Layer("softmax", V, vector_family="exp_softmax", elems=3 * 33 * 33),
        Layer("big", m=200, n=300, k=400),
        Layer("fc_again", m=50, n=70, k=90, w_bits=bits, a_bits=bits),
        Layer("add", V, vector_family="eltwise", elems=500, a_elems=1000, o_elems=500),
    ]


@pytest.mark.parametrize("df", ["ws", "os", "is", "rs"])
@pytest.mark.parametrize("pipelined", [False, True])
def test_kernel_matches_naive_on_every_tiling(df, pipelined):
    """Every tiling the mapper could try, every loop order: closed forms equal the walked loop nest."""
    rng = np.random.default_rng(7)
    for trial in range(4):
        double = bool(trial % 2)
        accel = make_accelerator(8, 4, df, ifmap_kib=float(rng.choice([1, 4, 64])), weight_kib=float(rng.choice([1, 2, 64])),
                                 ofmap_kib=float(rng.choice([2, 8, 64])), bandwidth_gbps=3, double_buffered=double,
                                 port_words=6, pipelined_folds=pipelined, latency_ns=float(rng.choice([0, 100])),
                                 launch_cycles=float(rng.choice([0, 50])))
        sched = map_workload(Workload.from_layers(mixed_layers()), accel)
        hw = record_dict(sched.hw[0])
        for i in np.flatnonzero(~sched.layers["vector"]):
            rec = sched.layers[i].copy()
            rec["a_on_chip"], rec["o_on_chip"], rec["b_preloaded"] = rng.random(3) < 0.3
            r = record_dict(rec)
            for tm, tn, tk in [(r["m"], r["n"], r["k"]), (16, 8, 24), (6, 12, 9), (64, 32, 100)]:
                if r["conv"]:
                    tm = max(tm // r["ow"], 1) * r["ow"]
                if -(-r["m"] // tm) * -(-r["n"] // tn) * -(-r["k"] // tk) > 3000:
                    continue
                for order in range(len(cm.ORDERS)):
                    til = np.array([(tm, tn, tk, order)], dtype=cm.TILING_DTYPE)
                    out = np.zeros(1, dtype=cm.COST_DTYPE)
                    cm.cost_layer(rec, sched.hw[0], til[0], out[0])
                    ref = naive_cost(r, hw, tm, tn, tk, order)
                    for key in ("compute", "dram_a", "dram_b", "dram_o_write", "dram_o_read", "arr_a", "arr_b"):
                        assert out[0][key] == pytest.approx(ref[key], rel=1e-9, abs=1e-9), (df, key, tm, tn, tk, order)
                    assert out[0]["cycles"] == pytest.approx(ref["cycles"], rel=1e-9)


def test_layers_add_up_to_totals():
    result = simulate_workload(Workload.from_layers(mixed_layers()), make_accelerator())
    total = sum(result.layers())
    assert total.cycles == result.cycles == result.totals.cycles
    assert total.energy_pj == pytest.approx(result.totals.energy_pj, rel=1e-12)
    assert total.dram_bytes == pytest.approx(result.dram_bytes, rel=1e-12)
    assert result.totals.stall_cycles == result.cycles - result.totals.compute_cycles
    assert result.latency_ms == pytest.approx(result.cycles / (500 * 1e3))
    assert result.energy_mj == pytest.approx(result.totals.energy_pj * 1e-9)


def test_identical_layers_share_results():
    result = simulate_workload(Workload.from_layers(mixed_layers()), make_accelerator())
    assert result.layer(0) == result.layer(5)
    alone = simulate_workload(Workload.from_layers(mixed_layers()[:1]), make_accelerator())
    assert alone.layer(0) == result.layer(0)


def test_to_dict_is_json_with_the_contract_keys():
    out = json.loads(json.dumps(simulate_workload(Workload.from_layers(mixed_layers()), load_accelerator("zcu102")).to_dict()))
    for key in ("cycles", "compute_cycles", "stall_cycles", "latency_ms", "fps", "energy_mj",
                "dram_bytes", "utilization"):
        assert key in out["totals"]
    for key in ("name", "kind", "macs", "cycles", "compute_cycles", "stall_cycles", "utilization",
                "energy_pj", "dram_bytes", "dataflow", "mac_pj", "dram_ifmap_bytes"):
        assert key in out["layers"][0]
    assert out["layers"][3]["dataflow"] == "vector"


def test_buffer_too_small_names_the_buffer():
    accel = make_accelerator(32, 32, "ws", weight_kib=1)     # a 32x32 weight block is 1 KiB > half
    with pytest.raises(UserError) as err:
        simulate_workload(Workload.from_layers(mixed_layers()[:1]), accel)
    msg = str(err.value)
    assert "buffers.weight.size_kib" in msg and "'fc'" in msg and "\n" not in msg


def test_row_stationary_needs_a_register_file():
    with pytest.raises(UserError) as err:
        simulate_workload(Workload.from_layers(mixed_layers()), load_accelerator("tpu_v1"), dataflow="rs")
    assert "register_file" in str(err.value)


def test_dataflow_overrides():
    workload = Workload.from_layers(mixed_layers())
    result = simulate_workload(workload, load_accelerator("zcu102"), dataflow_per_layer=["os"] + [None] * (len(workload) - 1))
    assert result.dataflows[:3] == ("os", "ws", "ws")
    with pytest.raises(UserError) as err:
        simulate_workload(workload, load_accelerator("zcu102"), dataflow="diagonal")
    assert "ws, os, is, rs" in str(err.value)
    with pytest.raises(UserError):
        simulate_workload(workload, load_accelerator("zcu102"), dataflow_per_layer=["os"])


def test_activation_operand_uses_activation_bits():
    # B of QK^T is an activation: it moves at a_bits even if w_bits is lower
    layers = [Layer("qk", m=64, n=64, k=64, b_is_activation=True, w_bits=4, a_bits=8),
              Layer("fc", m=64, n=64, k=64, w_bits=4, a_bits=8)]
    result = simulate_workload(Workload.from_layers(layers), make_accelerator(bandwidth_gbps=1e6, weight_kib=64))
    assert result.columns["dram_weight_bytes"][0] == 64 * 64          # 8 bits
    assert result.columns["dram_weight_bytes"][1] == 64 * 64 / 2      # 4 bits


def test_wider_operands_take_several_passes():
    narrow = simulate_workload(Workload.from_layers([Layer("fc", m=64, n=64, k=64)]), make_accelerator())
    wide = simulate_workload(Workload.from_layers([Layer("fc", m=64, n=64, k=64, w_bits=16, a_bits=16)]),
                    make_accelerator())
    assert wide.totals.compute_cycles == 4 * narrow.totals.compute_cycles
    # multiplier share x (16*16)/(8*8) = 4, adder share x (16+16)/(8+8) = 2 (Horowitz ISSCC 2014)
    mult = MAC_MULT_FRACTION
    assert wide.totals.mac_pj == pytest.approx((4 * mult + 2 * (1 - mult)) * narrow.totals.mac_pj)


def test_vector_layer_cycles():
    # 1000 elements over 8 lanes at 4 cycles per element (exp_softmax) = 125 * 4 = 500
    layer = Layer("sm", V, vector_family="exp_softmax", elems=1000)
    result = simulate_workload(Workload.from_layers([layer]), make_accelerator(bandwidth_gbps=1e6))
    assert result.totals.compute_cycles == 500 and result.totals.vector_pj > 0
    assert result.totals.macs == 0


def test_memory_bound_layer_stalls():
    slow = simulate_workload(Workload.from_layers([Layer("fc", m=1, n=4096, k=4096)]),
                    make_accelerator(bandwidth_gbps=0.5))
    assert slow.totals.stall_cycles > slow.totals.compute_cycles
    assert slow.bound == "memory"
    assert slow.cycles >= slow.roofline_cycles


def test_every_preset_runs():
    workload = Workload.from_layers(mixed_layers(bits=16))
    for name in ("eyeriss", "scalesim_default", "tpu_v1", "u250", "zcu102", "zcu104"):
        accel = load_accelerator(name)
        result = simulate_workload(workload, accel)
        assert result.cycles > 0 and 0 < result.utilization <= 1
        assert result.cycles >= result.totals.macs / accel.pes


def test_engine_takes_accelerators_not_names():
    with pytest.raises(TypeError, match="load_accelerator"):
        simulate_workload(Workload.from_layers(mixed_layers()), "zcu102")


def test_import_does_not_pull_torch():
    code = ("import sys, accel_sim, dataflows; "
            "assert not {'torch', 'timm', 'codesign'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)
