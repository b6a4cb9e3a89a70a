"""Emitted projects compiled with g++ against the ap_types headers and run: every layer of a CNN
layer set and a ViT block, at w8a8, w4a4 and binary weights, must match the Python golden model
bit for bit, and the vector unit's outputs must be within the stated tolerance of the exact math."""
import json
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from codesign.frontend import extract
from codesign import emit_hls
from codesign.hls.compile import build_and_run

CNN_LAYERS = "conv,act,dw,pw,fc"
VIT_KINDS = {"layer_norm", "linear", "attn_qk", "softmax", "attn_av", "add", "gelu"}
# (name, model, layers, precision, accelerator, device, dataflow)
PROJECTS = [
    ("vit_w8a8", "vit", "blocks.0.*", "w8a8", "zcu102", "zcu102", None),
    ("vit_w4a4", "vit", "blocks.0.*", "w4a4", "zcu102", "zcu102", None),
    ("vit_w1a8", "vit", "blocks.0.*", "w1a8", "zcu102", "zcu102", None),
    ("cnn_w8a8", "cnn", CNN_LAYERS, "w8a8", "zcu102", "zcu102", None),
    ("cnn_w4a4", "cnn", CNN_LAYERS, "w4a4", "zcu102", "zcu102", None),
    ("cnn_w1a8", "cnn", CNN_LAYERS, "w1a8", "zcu102", "zcu102", None),
    ("cnn_w1a1_os", "cnn", CNN_LAYERS, "w1a1", "scalesim_default", "zcu104", None),
    ("cnn_w2a4_is", "cnn", CNN_LAYERS, "w2a4", "u250", "u250", "is"),
    ("cnn_w1a8_lut", "cnn", CNN_LAYERS, "w1a8", "zcu102+lut", "zcu102", None),   # binary layers on a LUT array
    ("cnn_ops_w8a8", "resnet", "maxpool,act1,act2,gate,pool,mean,se_gate,mul", "w8a8", "zcu102", "zcu102", None),
]
CNN_OP_KINDS = {"pool", "hardswish", "silu", "sigmoid", "mean", "hardsigmoid", "mul"}


def _accelerator(name):
    """A preset, or zcu102 with a 16 x 32 LUT array of XNOR-popcount PEs (as FINN builds them)."""
    if name != "zcu102+lut":
        return name
    from accel_sim.config import accelerator_from_dict
    from accel_sim.loading import load_accelerator
    data = load_accelerator("zcu102").to_dict()
    data.update(name="zcu102_lut", lut_array={"rows": 16, "cols": 32, "macs_per_pe_per_cycle": 64,
                                              "luts_per_pe": 120, "a_bits": 1})
    return accelerator_from_dict(data)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    graphs = {"vit": extract("deit_tiny_patch16_224"), "cnn": extract("fixture_models:tiny_cnn", input_size="3,32,32"),
              "resnet": extract("fixture_models:small_resnet", input_size="3,32,32")}
    root = tmp_path_factory.mktemp("hls")
    dirs = {}
    for name, model, layers, precision, accel, device, dataflow in PROJECTS:
        dirs[name] = str(root / name)
        emit_hls(graphs[model], accel=_accelerator(accel), device=device, precision=precision, layers=layers, tb_layers="all",
                 out_dir=dirs[name], dataflow=dataflow)
    with ThreadPoolExecutor(max_workers=2) as pool:     # g++ runs in subprocesses: two at a time
        results = dict(zip(dirs, pool.map(build_and_run, dirs.values())))
    return {name: (dirs[name], results[name]) for name in dirs}


def test_binary_layers_run_on_the_lut_array(runs):
    config = open(os.path.join(runs["cnn_w1a8_lut"][0], "src", "cs_config.h")).read()
    assert "const int CS_LUT_ROWS = 16;" in config and "const int CS_LUT_COLS = 32;" in config
    assert "struct prec_w1a8o8_lut {" in config and "ROWS = CS_LUT_ROWS, COLS = CS_LUT_COLS" in config


def _cases(project):
    return json.load(open(os.path.join(project, "tb", "data", "manifest.json")))["cases"]


@pytest.mark.parametrize("name", [p[0] for p in PROJECTS])
def test_every_layer_matches_the_golden_model_bit_for_bit(runs, name):
    project, run = runs[name]
    assert run.passed, run.stdout
    cases = _cases(project)
    assert [c.ident for c in run.cases] == [c["ident"] for c in cases]
    kinds = {c["kind"] for c in cases}
    assert kinds == (VIT_KINDS if name.startswith("vit") else CNN_OP_KINDS if name.startswith("cnn_ops")
                     else {"conv2d", "relu", "linear"})
    for result, case in zip(run.cases, cases):
        assert result.mismatches == 0 and result.max_abs_diff == 0 and result.elems == case["out_elems"]
        got = np.fromfile(os.path.join(project, "build", "tb_out", case["output"]), dtype="<i4")
        expected = np.fromfile(os.path.join(project, "tb", "data", case["expected"]), dtype="<i4")
        assert np.array_equal(got, expected)
        if case["kind"] in ("linear", "conv2d", "attn_qk", "attn_av"):   # real work, not a saturated constant
            if case["out_bits"] == 1:
                assert abs(expected.mean()) < 0.9              # both signs
            else:
                assert expected.std() > 0.3 and np.mean(np.abs(expected) >= 2 ** (case["out_bits"] - 1) - 1) < 0.1


@pytest.mark.parametrize("name", ["vit_w8a8", "vit_w4a4", "vit_w1a8", "cnn_ops_w8a8"])
def test_vector_unit_within_the_stated_tolerance_of_the_exact_math(runs, name):
    project, _ = runs[name]
    checked = set()
    for case in _cases(project):
        if case["exact"] is None:
            continue
        got = np.fromfile(os.path.join(project, "build", "tb_out", case["output"]), dtype="<i4")
        exact = np.fromfile(os.path.join(project, "tb", "data", case["exact"]), dtype="<f8")
        lsb, bits = 2.0 ** -case["out_frac"], case["out_bits"]
        clipped = np.clip(exact, -(2 ** (bits - 1)) * lsb, (2 ** (bits - 1) - 1) * lsb)
        err_lsb = np.abs(got * lsb - clipped).max() / lsb
        assert err_lsb <= case["tol_lsb_vs_exact"], (case["name"], err_lsb)
        checked.add(case["kind"])
    assert checked == (CNN_OP_KINDS if name.startswith("cnn") else {"layer_norm", "softmax", "gelu", "add"})


def test_emit_hls_csim_from_the_command_line(tmp_path):
    """`codesign emit-hls ... --csim` compiles and runs the testbench and reports every case."""
    import json

    from test_cli import codesign

    r = codesign("emit-hls", "deit_tiny_patch16_224", "--accel", "zcu102", "--device", "zcu102",
                 "--precision", "w8a8", "--layers", "blocks.0.attn.*", "-o", str(tmp_path / "p"), "--csim",
                 "--json", timeout=300)
    assert r.returncode == 0, r.stderr
    csim = json.loads(r.stdout)["csim"]
    assert csim["passed"] and len(csim["cases"]) >= 3
    assert all(c["mismatches"] == 0 for c in csim["cases"])


@pytest.mark.parametrize("mapping", ["hls", "searched"])
def test_a_layer_larger_than_the_buffers_runs_in_k_tiles(tmp_path, mapping):
    """fc2 on tpu_v1: K = 768 does not fit its weight buffer beside 192 columns (refused before the
    Schedule tiled k). Both mappings cut K into tiles, which accumulate in the ofmap buffer, and the
    layer C-simulates bit for bit."""
    import re

    graph = extract("deit_tiny_patch16_224")
    result = emit_hls(graph, accel="tpu_v1", device="u250", precision="w8a8", layers="blocks.0.mlp.fc2",
                      tb_layers="all", out_dir=str(tmp_path / "p"), mapping=mapping)
    v = result.table.entries[0].values
    assert v["tile_k"] < v["k"] == 768 and v["k_tiles"] == -(-768 // v["tile_k"]) > 1 and v["spill"] == 0
    rows = re.findall(r"^\s*\{ ([-0-9, ]+) \},$", open(tmp_path / "p" / "src" / "cs_layers.h").read(), re.M)
    assert len(rows) == 1
    run = build_and_run(str(tmp_path / "p"))
    assert run.passed and run.cases[0].mismatches == 0 and run.cases[0].elems == 197 * 192, run.stdout


def test_any_tile_shape_and_loop_order_is_bit_exact(tmp_path, monkeypatch):
    """Tiles of several array folds in m and n, k tiles, and loop orders with k outside the output
    tile's loops (partial sums spill to DRAM and come back), under each dataflow: set by hand in the
    Schedule the emitter reads, since the mapper picks them only for some hardware."""
    import dataclasses

    import codesign.scheduler as scheduler

    hand = {"blocks.0.attn.qkv": (100, 150, 70, "k>m>n"), "blocks.0.mlp.fc1": (70, 130, 64, "k>n>m"),
            "blocks.0.mlp.fc2": (99, 96, 256, "n>k>m")}
    real = scheduler.schedule

    def with_hand_tiles(*args, **kwargs):
        from accel_sim.cost_model import ORDER_NAMES

        sched = real(*args, **kwargs)
        tilings = sched.tilings.copy()          # a Schedule's arrays are shared and read-only
        for i, name in enumerate(sched.workload.names):
            if name in hand:
                tm, tn, tk, order = hand[name]
                tilings[i]["tm"], tilings[i]["tn"], tilings[i]["tk"] = tm, tn, tk
                tilings[i]["order"] = ORDER_NAMES.index(order)
        return dataclasses.replace(sched, tilings=tilings)

    monkeypatch.setattr(scheduler, "schedule", with_hand_tiles)
    result = emit_hls(extract("deit_tiny_patch16_224"), precision="w4a4", layers="blocks.0.attn.qkv,blocks.0.mlp.*",
                      tb_layers="all", out_dir=str(tmp_path / "p"),
                      layer_dataflows={"blocks.0.attn.qkv": "is", "blocks.0.mlp.fc1": "os", "blocks.0.mlp.fc2": "ws"})
    by_name = {e.op.name: e.values for e in result.table.entries}
    assert all(by_name[name]["spill"] == 1 and by_name[name]["k_tiles"] > 1 for name in hand)
    run = build_and_run(str(tmp_path / "p"))
    assert run.passed and len(run.cases) == 4 and all(c.mismatches == 0 for c in run.cases), run.stdout


@pytest.mark.parametrize("precision", ["w8a8", "w4a4"])
def test_the_whole_network_in_one_testbench_is_bit_exact(tmp_path, precision):
    """A timm VisionTransformer built as deit_tiny is (class token, position embedding, pre-norm
    blocks), small enough for every test run: emitted without --layers, every layer runs in one call
    of the top function, the layout ops the IR folded out (flatten, token concat, head split and
    merge, class token) are the kernels' addressing, and every layer's output and the logits equal
    the integer reference network. deit_tiny itself runs in `make demo` and benchmarks/bench_hls_network.py."""
    graph = extract("fixture_models:tiny_vit", input_size="3,32,32")
    result = emit_hls(graph, precision=precision, out_dir=str(tmp_path / "p"))
    table = result.table
    assert [e.op.name for e in table.entries] == [op.name for op in graph.ops]
    assert all(src is not None for e in table.entries[1:] for src, _ in e.links)     # nothing left to the host
    kinds = {seen.kind for e in table.entries for _, seen in e.links if seen is not None}
    assert kinds == {"identity", "token_concat", "head_split", "head_merge", "class_token"}
    qk = next(e.values for e in table.entries if e.op.name == "blocks.0.attn.qk")
    assert (qk["a_base"], qk["a_mstride"], qk["b_base"], qk["b_nstride"]) == (0, 192, 64, 192)
    run = build_and_run(str(tmp_path / "p"))
    assert run.passed and len(run.cases) == len(graph.ops), run.stdout
    logits = np.fromfile(tmp_path / "p" / "build" / "tb_out" / "logits.out.i32", dtype="<i4")
    assert np.array_equal(logits, result.network.logits.reshape(-1)) and logits.shape == (10,)
    assert len(set(logits.tolist())) > 3                                   # not a saturated constant
    bits = int(precision[-1])
    for e in table.entries:                  # every layer does real work; GEMMs are calibrated, not saturated
        out = result.network.outputs[e.op.name]
        assert out.std() > 0.3, e.op.name
        if e.op.on_pe_array:
            assert np.mean(np.abs(out) >= 2 ** (bits - 1) - 1) < 0.1, e.op.name


def test_the_counting_build_counts_each_loop_at_its_requested_ii(tmp_path):
    """The counting build (-DCS_COUNT_CYCLES_BUILD) of the whole-network testbench reports every
    layer. A single-tile weight-stationary layer (the classifier, 10 x 64 weights) counts, by hand:
    loads of one DRAM word a beat (A: 1 word; B: a word per column, plus the shift, bias and
    multiplier words) or the DRAM's bytes per cycle when slower; the systolic array's R cycles to pin
    and 1 + R + C - 2 to stream one row; one word stored; plus the layer's DRAM latency. A lane-wide
    GELU is DRAM-bound: its words in and out at the DRAM's rate. The logits stay bit-exact."""
    from codesign.hls.compile import build, run

    graph = extract("fixture_models:tiny_vit", input_size="3,32,32")
    result = emit_hls(graph, precision="w8a8", out_dir=str(tmp_path / "p"))
    tb = run(str(tmp_path / "p"), build(str(tmp_path / "p"), counting=True))
    assert tb.passed and [c.layer for c in tb.cycles] == list(range(len(graph.ops))), tb.stdout
    hw = result.table.hw
    word_bytes, bpc, overhead = hw.dram_word_bits // 8, hw.dram_bytes_per_cycle, hw.layer_overhead_cycles
    assert word_bytes == 64 and overhead == 20       # zcu102: 512-bit AXI words; 100 ns at 200 MHz
    dram = lambda words: -(-words * word_bytes // bpc)  # noqa: E731
    head = tb.cycles[-1]
    v = result.table.entries[-1].values
    assert (v["m"], v["n"], v["m_tiles"], v["n_tiles"], v["k_tiles"], v["tile_k"]) == (1, 10, 1, 1, 1, 64)
    rows, cols = hw.pe_rows, hw.pe_cols
    a_words, wgt_words = 1, 10 + 3              # 64 int8 of A; 10 columns of 64 int8, shift, 10 biases, 10 mults
    assert head.load == max(wgt_words, dram(a_words + wgt_words))
    assert head.compute == rows + (1 + rows + cols - 2) and head.store == 1
    assert head.counted == overhead + head.load + head.compute + head.store      # one tile: nothing overlaps
    assert head.simulated == result.table.entries[-1].sim["cycles"] > 0
    qkv = next(c for c in tb.cycles if c.ident == "blocks_0_attn_qkv")
    assert qkv.counted - overhead < qkv.load + qkv.compute + qkv.store        # loads overlap across tiles
    gelu = next(c for c in tb.cycles if c.ident == "blocks_0_mlp_act")
    vectors = -(-17 * 128 // hw.vec_lanes)
    assert gelu.counted == overhead + max(vectors, dram(2 * vectors)) and gelu.compute == 0
    # the emitted design is the simulated one: every layer within 10 % of the simulator's cycles,
    # except softmax over 17-token rows (3 lane-wide passes of a 64-lane unit a row, where the
    # simulator spreads the tensor's elements over the lanes: docs/hls.md)
    ratios = {c.ident: c.counted / c.simulated for c in tb.cycles}
    off = {name: round(r, 2) for name, r in ratios.items() if abs(r - 1) > 0.10}
    assert set(off) == {"blocks_0_attn_softmax", "blocks_1_attn_softmax"}, off
    assert abs(sum(c.counted for c in tb.cycles) / sum(c.simulated for c in tb.cycles) - 1) < 0.10


@pytest.mark.parametrize("precision", ["w8a8", "w4a4"])
def test_a_whole_cnn_with_batchnorm_pooling_and_table_activations_is_bit_exact(tmp_path, precision):
    """The CNN operators of ResNet and MobileNetV3 (fixture_models.SmallResNet): BatchNorm folded
    into the conv before it (no layer of its own), max pooling with padding, a depthwise conv, a
    residual add, hardswish, SiLU, hardsigmoid and sigmoid from tables, a squeeze-excite gate
    (spatial mean, per-channel mul), global average pooling, flatten, a classifier; emitted whole,
    one C-simulation, bit-exact. resnet18 and mobilenetv3_small_100 themselves run in
    benchmarks/bench_hls_network.py (about a minute each)."""
    graph = extract("fixture_models:small_resnet", input_size="3,32,32")
    result = emit_hls(graph, precision=precision, out_dir=str(tmp_path / "p"))
    names = [e.op.name for e in result.table.entries]
    assert result.design["batchnorm_folded_into"] == {"stem.1": "stem.0", "bn1": "conv1", "bn2": "conv2"}
    assert not any(op.kind.value == "batch_norm" for op in (e.op for e in result.table.entries))
    assert len(names) == len(graph.ops) - 3
    by_name = {e.op.name: e for e in result.table.entries}
    assert by_name["act1"].sources["a"] == "conv1" and by_name["conv2"].values["batch"] == 32   # depthwise: 32 groups
    assert by_name["maxpool"].values["kind"] == 7 and by_name["pool"].values["kind"] == 8
    run = build_and_run(str(tmp_path / "p"))
    assert run.passed and len(run.cases) == len(names), run.stdout
    logits = np.fromfile(tmp_path / "p" / "build" / "tb_out" / "logits.out.i32", dtype="<i4")
    assert np.array_equal(logits, result.network.logits.reshape(-1)) and len(set(logits.tolist())) > 3


def test_emit_hls_csim_of_a_whole_network_from_the_command_line(tmp_path):
    """`codesign emit-hls MODEL --csim` without --layers: the whole network (BatchNorm folded,
    average pooling, flatten) in one C-simulation, every layer bit-exact."""
    import json

    from test_cli import codesign

    r = codesign("emit-hls", "fixture_models:tiny_cnn", "--input-size", "3,32,32", "--precision", "w8a8",
                 "-o", str(tmp_path / "p"), "--csim", "--json", timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["testbench"] == "network" and out["layers"] == ["conv", "act", "dw", "pw", "pool", "fc"]
    assert out["design"]["batchnorm_folded_into"] == {"bn": "conv"}
    assert out["csim"]["passed"] and [c["ident"] for c in out["csim"]["cases"]] == out["layers"]
    assert all(c["mismatches"] == 0 for c in out["csim"]["cases"])
