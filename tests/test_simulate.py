"""The IR through the scheduler and engine: totals add up, attention costs show, CLI contracts hold."""
import csv
import json
import os

import pytest

from codesign.frontend import extract
from codesign.scheduler import dataflow_per_layer, parse_overrides
from codesign import simulate
from test_cli import assert_one_line_error, codesign

REF = os.path.join(os.path.dirname(__file__), "reference", "scalesim")


@pytest.fixture(scope="module")
def deit():
    return extract("deit_tiny_patch16_224")


def test_every_op_becomes_a_layer_and_layers_add_up(deit):
    sim = simulate(deit, "zcu102")
    r = sim.result
    assert list(r.names) == [op.name for op in deit.ops]
    assert int(r.columns["macs"].sum()) == deit.totals().macs
    t = r.to_dict()["totals"]
    layers = r.layer_dicts()
    assert t["cycles"] == sum(d["cycles"] for d in layers)
    assert t["stall_cycles"] == sum(d["stall_cycles"] for d in layers)
    assert abs(t["dram_bytes"] - sum(d["dram_bytes"] for d in layers)) < 1e-6 * t["dram_bytes"]
    assert abs(t["energy_mj"] * 1e9 - sum(d["energy_pj"] for d in layers)) < 1e-6 * t["energy_mj"] * 1e9
    assert t["latency_ms"] == pytest.approx(t["cycles"] / (200e3))
    assert {d["dataflow"] for d in layers if d["kind"] == "softmax"} == {"vector"}


def test_attention_operand_is_loaded_at_run_time_under_weight_stationary(deit):
    """QK^T has no weights: under WS its K operand is an activation fetched while running."""
    sim = simulate(deit, "zcu102", dataflow="ws")
    qk = next(d for d in sim.result.layer_dicts() if d["name"] == "blocks.0.attn.qk")
    op = deit.by_name["blocks.0.attn.qk"]
    assert qk["dram_weight_bytes"] >= op.weight_elems * op.a_bits / 8  # every K element at least once


def test_dataflow_overrides(deit):
    per = dict(zip([op.name for op in deit.ops], dataflow_per_layer(deit, parse_overrides("blocks.*.attn.qk=os,head=is"))))
    assert per["blocks.3.attn.qk"] == "os" and per["head"] == "is" and per["blocks.3.attn.qkv"] is None
    sim = simulate(deit, "zcu102", dataflow="ws", layer_dataflows={"blocks.*.attn.qk": "os"})
    flows = dict(zip(sim.result.names, sim.result.dataflows))
    assert flows["blocks.0.attn.qk"] == "os" and flows["blocks.0.attn.qkv"] == "ws"


def test_depthwise_runs_channel_parallel_under_the_searched_mapping():
    """SCALE-Sim's mapping runs a depthwise conv as a batch of one-column GEMMs; the searched
    mapping puts its channels on the array columns, bound by the ifmap port instead."""
    graph = extract("fixture_models:tiny_cnn", (3, 64, 64))
    util = {m: {d["name"]: d["utilization"] for d in simulate(graph, "zcu102", mapping=m).result.layer_dicts()}
            for m in ("scalesim", "searched")}
    assert util["scalesim"]["dw"] < util["scalesim"]["pw"] / 4
    assert util["searched"]["dw"] > 3 * util["scalesim"]["dw"]


def test_scalesim_files_through_the_cli_match_scalesim():
    r = codesign("simulate", os.path.join(REF, "vit_b16_gemm.csv"), "--accel",
                 os.path.join(REF, "scale_32x32_os.cfg"), "--mapping", "scalesim", "--json")
    assert r.returncode == 0, r.stderr
    layers = json.loads(r.stdout)["layers"]
    with open(os.path.join(REF, "vit_b16_gemm_32x32_os", "COMPUTE_REPORT.csv")) as f:
        ref = [int(row[" Total Cycles"]) for row in csv.DictReader(f)]
    assert [d["name"] for d in layers] == ["qkv", "proj", "fc1", "fc2"]
    for d, cycles in zip(layers, ref):
        assert abs(d["compute_cycles"] - cycles) <= 0.005 * cycles, (d["name"], d["compute_cycles"], cycles)


def test_simulate_json_contract_and_plots(tmp_path):
    r = codesign("simulate", "fixture_models:tiny_cnn", "--input-size", "32", "--accel", "eyeriss",
                 "--json", "--plot", str(tmp_path / "plots"))
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert {"cycles", "compute_cycles", "stall_cycles", "latency_ms", "fps", "energy_mj", "dram_bytes",
            "utilization"} <= set(data["totals"])
    assert {"name", "kind", "macs", "cycles", "compute_cycles", "stall_cycles", "utilization", "energy_pj",
            "dram_bytes"} <= set(data["layers"][0])
    assert {"extract_s", "schedule_s", "simulate_s"} <= set(data["timing"])
    for png in ("roofline.png", "breakdown.png"):
        with open(tmp_path / "plots" / png, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_simulate_table_and_csv():
    r = codesign("simulate", "fixture_models:tiny_cnn", "--input-size", "32", "--accel", "tpu_v1", "--csv")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("name,kind,dataflow,macs,cycles")
    r = codesign("simulate", "fixture_models:tiny_cnn", "--input-size", "32", "--accel", "tpu_v1")
    assert r.returncode == 0 and "latency" in r.stdout and "roofline" in r.stdout


@pytest.mark.parametrize("args,fragment", [
    (["--accel", "zcu999"], "unknown accelerator"),
    (["--dataflow", "xs"], "ws, os, is, rs"),
    (["--layer-dataflow", "nomatch.*=os"], "matches no"),
    (["--layer-dataflow", "conv"], "PATTERN=DATAFLOW"),
])
def test_simulate_bad_input(args, fragment):
    r = codesign("simulate", "fixture_models:tiny_cnn", "--input-size", "32", *args)
    assert_one_line_error(r, fragment)


def test_malformed_accelerator_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: x\nclock_mhz: [\n")
    assert_one_line_error(codesign("simulate", "fixture_models:tiny_cnn", "--accel", str(bad)), "bad.yaml")
    neg = tmp_path / "neg.yaml"
    r = codesign("presets", "--show", "zcu102")
    neg.write_text(r.stdout.replace("bandwidth_gbps: 19.2", "bandwidth_gbps: -1"))
    assert_one_line_error(codesign("simulate", "fixture_models:tiny_cnn", "--accel", str(neg)), "bandwidth_gbps")


def test_presets_command():
    r = codesign("presets")
    assert r.returncode == 0
    names = [line.split()[0] for line in r.stdout.splitlines()]
    assert {"eyeriss", "tpu_v1", "zcu102", "zcu104", "u250", "scalesim_default"} <= set(names)
