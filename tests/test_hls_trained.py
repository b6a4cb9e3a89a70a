"""The whole-network testbench with trained weights: the reference models' weights and calibrated
ranges in the emitted integers, test images C-simulated one after another, the logits bit-exact
against the integer reference and the top-1 next to the torch fake-quantised model's."""
import json

import numpy as np

from codesign import emit_hls
from codesign.hls.compile import build_and_run
from codesign.hls.trained import agreement


def test_ref_vit_mnist_at_w8a8_runs_its_trained_weights_on_test_images(tmp_path):
    """Four MNIST test images through cs_top, every layer bit-exact on each; the weights in the arena
    are the torch model's per-channel codes and the input codes are what torch's quantiser makes of
    the image. Measured (seed 0): 4 of 4 top-1 agree with torch (32 of 32 on 32 images, docs/hls.md),
    logits within 2.8 % of torch's logit range on 8 images."""
    from codesign.fidelity import compressed_model
    from codesign.fidelity.quantizers import weight_codes

    result = emit_hls("ref_vit_mnist", precision="w8a8", out_dir=str(tmp_path / "p"), images=4)
    network, design = result.network, result.design
    trained = network.trained
    assert design["testbench_data"] == "trained" and network.images == 4 and trained.labels is not None
    qkv = trained.params["blocks.0.attn.qkv"]["b"]                   # [batch][n][k] codes
    compressed = compressed_model("ref_vit_mnist", "w8a8")
    module = dict(compressed.float_model.named_modules())["blocks.0.attn.qkv"]
    assert np.array_equal(qkv[0], weight_codes(module.weight.detach(), 8)[0].numpy())
    image = compressed.split.test.images[trained.indices[:1]]
    torch_input = compressed.compressor.sites[("input", "patch_embed.proj")].quantize(image).double().numpy()
    assert np.allclose(trained.inputs[:1] * trained.scales["<input>"], torch_input, atol=1e-6)

    run = build_and_run(str(tmp_path / "p"))
    assert run.passed and len(run.cases) == len(result.table.entries), run.stdout
    logits = np.fromfile(tmp_path / "p" / "build" / "tb_out" / "logits.out.i32", dtype="<i4")
    assert np.array_equal(logits, network.logits.reshape(-1)) and logits.size == 4 * 10
    report = agreement(trained, logits)
    assert report["top1_agree"] == 4 and report["hls_correct"] == report["torch_correct"] == 4, report
    assert report["logit_max_error_over_range"] < 0.05 and report["tied_top_codes"] == 0, report
    assert design["trained"]["reference_vs_torch"]["hls_top1"] == report["hls_top1"]


def test_ref_resnet_mnist_at_w8a8_from_the_command_line(tmp_path):
    """`codesign emit-hls ref_resnet_mnist --precision w8a8 --csim --images 4 --json`: BatchNorm folded
    into the trained convs' requantisation, every layer bit-exact on each image, and the C++ top-1
    beside torch's. Measured (seed 0): 4 of 4 agree (32 of 32 on 32 images), logits within 14 % of
    torch's logit range on 8 images."""
    from test_cli import codesign

    r = codesign("emit-hls", "ref_resnet_mnist", "--precision", "w8a8", "--images", "4", "-o", str(tmp_path / "p"),
                 "--csim", "--json", timeout=300)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["csim"]["passed"] and all(c["mismatches"] == 0 for c in out["csim"]["cases"])
    assert len(out["design"]["batchnorm_folded_into"]) == 13
    top1 = out["csim"]["top1"]
    assert top1["images"] == 4 and top1["top1_agree"] == 4 and top1["hls_correct"] == 4, top1
    assert top1["logit_max_error_over_range"] < 0.2, top1
    assert top1["hls_top1"] == out["design"]["trained"]["reference_vs_torch"]["hls_top1"]


def test_pruned_heads_and_mlp_units_emit_the_kept_rows_and_columns(tmp_path):
    """--prune-heads 0.5 --prune-mlp 0.5 on ref_vit_mnist: torch masks the pruned heads and units
    (Taylor importance), the emitted network drops them; the kept rows of qkv and fc1 and columns of
    proj and fc2 carry torch's codes, so the integer reference (which the C++ equals bit for bit)
    keeps torch's top-1. Measured (seed 0): 32 of 32 agree on 32 images in the C-simulation."""
    result = emit_hls("ref_vit_mnist", precision="w8a8", prune_heads="0.5", prune_mlp=0.5,
                      out_dir=str(tmp_path / "p"), images=4)
    params = result.network.trained.params
    assert params["blocks.0.attn.qkv"]["b"].shape == (1, 3 * 2 * 16, 64)        # 2 of 4 heads of 16
    assert params["blocks.0.attn.proj"]["b"].shape == (1, 64, 2 * 16)
    assert params["blocks.0.mlp.fc2"]["b"].shape == (1, 64, 64)                 # 64 of 128 units
    report = result.design["trained"]["reference_vs_torch"]
    assert report["top1_agree"] == 4 and report["logit_max_error_over_range"] < 0.1, report


def test_images_without_trained_weights_is_a_one_line_error(tmp_path):
    from test_cli import assert_one_line_error, codesign

    r = codesign("emit-hls", "fixture_models:tiny_cnn", "--input-size", "3,32,32", "--images", "4",
                 "-o", str(tmp_path / "p"))
    assert_one_line_error(r, "--images needs trained weights")
    r = codesign("emit-hls", "ref_vit_mnist", "--images", "4", "--layers", "head", "-o", str(tmp_path / "q"))
    assert_one_line_error(r, "drop --layers")
