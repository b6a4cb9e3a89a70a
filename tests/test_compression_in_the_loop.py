"""Compression reaches the simulated hardware: pruned heads and narrower widths change the cycles."""
import json

from codesign.frontend import extract
from codesign import simulate
from codesign.transforms import apply_precision, apply_pruning, parse_precision, parse_prune
from test_cli import assert_one_line_error, codesign


def _by_name(sim):
    return {d["name"]: d for d in sim.result.layer_dicts()}


def test_keeping_6_of_12_heads_halves_attention_in_the_simulated_cycles():
    base = extract("vit_base_patch16_224")
    pruned = apply_pruning(base, parse_prune(heads="0.5"))
    accel = "scalesim_default"  # output stationary: the attention GEMMs' folds scale with batch
    full, half = _by_name(simulate(base, accel)), _by_name(simulate(pruned, accel))
    for name in ("blocks.0.attn.qk", "blocks.0.attn.av", "blocks.7.attn.softmax"):
        assert half[name]["compute_cycles"] * 2 == full[name]["compute_cycles"], name
    # QKV: n 2304 -> 1152 (36 -> 18 column folds of 32); proj: k 768 -> 384
    assert half["blocks.0.attn.qkv"]["macs"] * 2 == full["blocks.0.attn.qkv"]["macs"]
    assert half["blocks.0.attn.qkv"]["compute_cycles"] * 2 == full["blocks.0.attn.qkv"]["compute_cycles"]
    assert half["blocks.0.attn.proj"]["compute_cycles"] < full["blocks.0.attn.proj"]["compute_cycles"]
    assert half["blocks.0.mlp.fc1"]["compute_cycles"] == full["blocks.0.mlp.fc1"]["compute_cycles"]


def test_precision_speeds_up_a_packing_fpga_array():
    graph = extract("deit_tiny_patch16_224")
    latency = {spec: simulate(apply_precision(graph, parse_precision(spec)), "zcu102").result.latency_ms
               for spec in ("w16a16", "w8a8", "w4a4")}
    assert latency["w16a16"] > latency["w8a8"] > latency["w4a4"]


def test_simulate_cli_carries_compression_resources_and_fidelity(tmp_path, monkeypatch):
    monkeypatch.setenv("CODESIGN_CACHE_DIR", str(tmp_path))
    r = codesign("simulate", "deit_tiny_patch16_224", "--accel", "zcu102", "--device", "zcu102",
                 "--precision", "w8a8", "--prune-heads", "2,2,2,2,2,2,2,2,2,2,2,2", "--fidelity", "--json",
                 timeout=300)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["compression"]["precision"] == "default=w8a8"
    assert data["resources"]["fits"] is True
    assert 0.9 < data["fidelity"]["cosine_similarity"] < 1.0
    assert {d["name"]: d for d in data["layers"]}["blocks.0.attn.qk"]["macs"] == 2 * 197 * 197 * 64


def test_simulate_compression_bad_input():
    assert_one_line_error(codesign("simulate", "deit_tiny_patch16_224", "--precision", "w3a8"), "--precision")
    assert_one_line_error(codesign("simulate", "deit_tiny_patch16_224", "--prune-heads", "4,4"), "heads")
    assert_one_line_error(codesign("simulate", "deit_tiny_patch16_224", "--device", "zcu999"), "zcu999")


def test_python_api_measures_fidelity_and_types_the_results(tmp_path, monkeypatch):
    """codesign.simulate(..., fidelity=True) orchestrates what the CLI does: compression, resources,
    fidelity on trained weights and labelled data, all typed on the Simulation."""
    import pytest

    import codesign
    from codesign.errors import UserError
    from codesign.fidelity import FidelityResult

    monkeypatch.setenv("CODESIGN_CACHE_DIR", str(tmp_path))
    sim = codesign.simulate("ref_vit_mnist", "zcu104", device="zcu104", precision="w8a8", fidelity=True)
    assert isinstance(sim.fidelity, FidelityResult) and sim.fidelity.metric == "top1"
    assert 0.9 < sim.fidelity.top1 <= 1.0 and sim.fidelity.test_images > 0
    assert sim.resources.fits and sim.compression.precision_spec == "default=w8a8"
    data = sim.to_dict()
    assert data["fidelity"]["top1"] == sim.fidelity.top1 and data["compression"]["precision"] == "default=w8a8"
    assert data["resources"]["device"] == "ZCU104"
    with pytest.raises(UserError, match="checkpoint= has an effect only with fidelity="):
        codesign.simulate("ref_vit_mnist", "zcu104", checkpoint="weights.pt")
    with pytest.raises(UserError, match="fidelity='yes' .str. is not valid"):
        codesign.simulate("ref_vit_mnist", "zcu104", fidelity="yes")
