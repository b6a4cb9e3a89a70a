"""Reference models with committed weights: they are models like any other, and their accuracy is real.

Every test reads the committed weights; the only training is one short fine-tuning epoch.
"""
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from codesign.errors import UserError
from codesign.fidelity import evaluate
from codesign.fidelity.datasets import load_dataset, stratified_split
from codesign.fidelity.reference import record
from codesign.frontend import extract
from codesign.frontend.reference import REFERENCE_MODELS
from codesign.transforms import parse_prune

VIT, CNN = "ref_vit_mnist", "ref_resnet_mnist"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fidelity"))


@pytest.fixture(scope="module")
def vit_graph():
    return extract(VIT)


def measure(cache, precision=None, pruning=None, **kw):
    return evaluate(VIT, precision, pruning, cache_dir=cache, **kw)


@pytest.mark.parametrize("name", [VIT, CNN])
def test_committed_weights_score_the_recorded_accuracy(name, cache):
    rec = record(REFERENCE_MODELS[name])
    res = evaluate(name, cache_dir=cache)
    assert res.metric == "top1" and res.test_images == rec["test_images"] == 1000
    assert res.float_top1 == res.top1 == rec["test_top1"]            # w16a16 changes nothing
    assert res.float_top1 >= 0.95
    low, high = res.top1_ci95
    assert low < res.top1 < high and high - low < 0.04                # Wilson interval of 1000 images
    assert res.top1_ci95 == rec["test_top1_ci95"]


def test_reference_names_work_like_model_names(vit_graph):
    assert vit_graph.input_shape == (1, 1, 28, 28) and vit_graph.param_count == 139_018
    assert sum(op.kind.value == "attn_qk" for op in vit_graph.ops) == 4
    out = subprocess.run([sys.executable, "-m", "codesign.cli", "models", "ref_*"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.split() == [VIT, CNN]


def test_w8a8_is_within_a_point_of_float(cache):
    res = measure(cache, "w8a8")
    assert abs(res.top1 - res.float_top1) <= 0.01
    assert res.top1_agreement >= 0.98


def test_attention_and_vector_ops_are_quantised_at_their_widths(cache):
    """Only the attention GEMMs, softmax, LayerNorm and GELU at 2 bits: that alone must cost accuracy."""
    everything_else = "default=w16a16,kind:attn_qk=w16a2,kind:softmax=w16a2,kind:attn_av=w16a2," \
                      "kind:layer_norm=w16a2,kind:gelu=w16a2"
    res = measure(cache, everything_else)
    assert res.top1 < res.float_top1 - 0.05


def test_finetuning_recovers_binary_weights_and_is_deterministic(cache):
    untuned = measure(cache, "w1a8")
    tuned = measure(cache, "w1a8", finetune=1)
    assert untuned.top1 < 0.6 and tuned.top1 >= untuned.top1 + 0.30
    assert tuned.finetune_epochs == 1 and not tuned.from_cache
    again = measure(cache, "w1a8", finetune=1, use_cache=False)
    assert again.top1 == tuned.top1 and again.cosine_similarity == tuned.cosine_similarity
    assert measure(cache, "w1a8", finetune=1).from_cache


def test_data_driven_heads_are_never_worse_than_l1(cache):
    for keep in ("0.5", "0.25"):
        by_l1 = measure(cache, pruning=dataclasses.replace(parse_prune(keep), importance="l1"))
        by_default = measure(cache, pruning=keep)           # labelled data: Taylor unless L1 is asked for
        assert by_default.importance == "taylor" and by_l1.importance == "l1"
        low, high = by_l1.top1_ci95
        assert by_default.top1 >= by_l1.top1 - (high - low) / 2
        assert by_default.kept_heads != by_l1.kept_heads


def test_random_weights_get_no_accuracy_and_say_so(tmp_path):
    res = evaluate("fixture_models:tiny_cnn", "w8a8", samples=2, cache_dir=str(tmp_path))
    assert res.metric == "cosine" and res.top1 is None and "no accuracy" in res.note
    with pytest.raises(UserError, match="--dataset needs --checkpoint"):
        evaluate("fixture_models:tiny_cnn", dataset=str(tmp_path), cache_dir=str(tmp_path))
    with pytest.raises(UserError, match="--finetune needs labelled data"):
        evaluate("fixture_models:tiny_cnn", finetune=1, cache_dir=str(tmp_path))
    with pytest.raises(UserError, match="--calibration is for models without labelled data"):
        evaluate(VIT, calibration=str(tmp_path), cache_dir=str(tmp_path))


def test_user_dataset_npz_with_checkpoint_gives_accuracy(tmp_path):
    """The ResNet's weights as a user checkpoint of a timm model, MNIST written out as an .npz."""
    from codesign.fidelity.datasets import mnist5k
    pixels, labels = mnist5k()
    path = tmp_path / "digits.npz"
    np.savez(path, images=pixels[:, 0], labels=labels)           # N x H x W uint8
    ref = REFERENCE_MODELS[CNN]
    split = load_dataset(str(path), ref.input_size, ref.mean, ref.std)
    assert (len(split.train), len(split.calibration), len(split.test)) == (3500, 500, 1000)
    res = evaluate(CNN, dataset=str(path), cache_dir=str(tmp_path))
    assert res.dataset.startswith("npz:") and res.top1 == record(ref)["test_top1"]   # same split, same images


def test_split_is_stratified_and_fixed():
    labels = np.repeat(np.arange(10), 500)
    train, cal, test = stratified_split(labels)
    assert (len(train), len(cal), len(test)) == (3500, 500, 1000)
    assert not set(train) & set(test) and not set(cal) & set(test)
    assert np.bincount(labels[test]).tolist() == [100] * 10
    assert [a.tolist() for a in stratified_split(labels)] == [train.tolist(), cal.tolist(), test.tolist()]


def test_record_matches_the_committed_weights():
    from codesign.fidelity.inputs import file_sha256
    for ref in REFERENCE_MODELS.values():
        rec = json.load(open(ref.record_path))
        assert rec["weights_sha256"] == file_sha256(ref.weights_path)
        assert rec["split_sizes"] == {"train": 3500, "calibration": 500, "test": 1000}


def test_simulate_cli_reports_accuracy_and_refuses_labels_without_weights(capsys, tmp_path, monkeypatch):
    from codesign.cli import main
    monkeypatch.setenv("CODESIGN_CACHE_DIR", str(tmp_path))
    assert main(["simulate", VIT, "--accel", "zcu104", "--precision", "w8a8", "--prune-heads", "0.5",
                 "--prune-importance", "l1", "--fidelity", "--summary"]) == 0
    out = capsys.readouterr().out
    float_top1 = record(REFERENCE_MODELS[VIT])["test_top1"]
    assert "fidelity    top-1 " in out and f"on 1000 test images; float {100 * float_top1:.1f}%" in out
    assert "pruned by l1 importance" in out
    assert main(["simulate", "fixture_models:tiny_cnn", "--accel", "zcu104", "--fidelity", "--summary",
                 "--dataset", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["codesign: error: --dataset needs --checkpoint: fixture_models:tiny_cnn with random weights "
                   "has no accuracy to measure"]


def test_user_dataset_folder_of_class_subfolders(tmp_path):
    """A folder with one subfolder per class (PNG files), read, resized and split like the .npz."""
    from PIL import Image

    from codesign.fidelity.datasets import mnist5k
    pixels, labels = mnist5k()
    root = tmp_path / "digits"
    for cls in range(10):
        (root / f"class_{cls}").mkdir(parents=True)
        for i in np.flatnonzero(labels == cls)[:20]:
            Image.fromarray(np.kron(pixels[i, 0], np.ones((2, 2), np.uint8))).save(root / f"class_{cls}" / f"{i}.png")
    res = evaluate(CNN, "w8a8", dataset=str(root), cache_dir=str(tmp_path))   # 56x56 files, resized to 28x28
    assert res.dataset.startswith("folder:") and res.test_images == 40
    assert res.float_top1 >= 0.85 and res.top1_ci95[0] < res.top1 - 0.05   # 40 images: a wide interval
