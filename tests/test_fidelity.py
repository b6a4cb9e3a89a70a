"""Fidelity on the real torch model: quantisers, exact head masking, orderings on DeiT-tiny, cache, inputs."""
import math

import pytest
import torch

from codesign.errors import UserError
from codesign.fidelity import cache, evaluate
from codesign.fidelity.compress import Compressor, quantize_weight
from codesign.fidelity.inputs import calibration_batch, calibration_digest, load_model
from codesign.frontend import extract

DEIT = "deit_tiny_patch16_224"
CNN = "fixture_models:tiny_cnn"


@pytest.fixture(scope="module")
def deit_graph():
    return extract(DEIT)


@pytest.fixture(scope="module")
def deit_results(deit_graph):
    """One measurement per setting, 8 seeded random images, no cache (shared by the ordering tests)."""
    settings = {"w16a16": ("w16a16", None), "w8a8": ("w8a8", None), "w4a8": ("w4a8", None),
                "w4a4": ("w4a4", None), "w2a8": ("w2a8", None), "w1a8": ("w1a8", None),
                "w1a1": ("w1a1", None),
                "keep 2 of 3": (None, "0.5"), "keep 1 of 3": (None, "0.34")}
    return {name: evaluate(DEIT, p, h, samples=8, graph=deit_graph, use_cache=False)
            for name, (p, h) in settings.items()}


# --- quantisers ----------------------------------------------------------------------------------

def test_weight_quantiser_levels_and_error():
    torch.manual_seed(0)
    w = torch.randn(16, 64)
    for bits in (8, 6, 4, 2):
        q = quantize_weight(w, bits)
        assert max(len(torch.unique(row)) for row in q) <= 2 ** bits - 1
        sqnr = 10 * math.log10(float((w ** 2).sum() / ((w - q) ** 2).sum()))
        assert sqnr > {8: 40, 6: 28, 4: 16, 2: 4}[bits], (bits, sqnr)
    b = quantize_weight(w, 1)
    for row, orig in zip(b, w):
        assert torch.allclose(row.abs(), orig.abs().mean().expand(64))
        assert torch.equal(torch.sign(row), torch.where(orig >= 0, 1.0, -1.0))
    plain = w.abs().amax(dim=1, keepdim=True) / 1   # 2 bits with max scaling: {-max, 0, max}
    max_scaled = (w / plain).round().clamp(-1, 1) * plain
    assert float(((quantize_weight(w, 2) - w) ** 2).sum()) < 0.8 * float(((max_scaled - w) ** 2).sum())


def test_masked_heads_equal_removed_heads():
    model = load_model(DEIT, seed=0, checkpoint=None)
    attn = model.blocks[0].attn
    x = torch.randn(2, 197, 192, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = attn(x)
        kept = [0, 2]
        mask = torch.zeros(3, 64)
        mask[kept] = 1.0
        import copy
        masked_attn = copy.deepcopy(attn)
        Compressor(masked_attn, bits={}, masks={"proj": mask.reshape(-1)})
        masked = masked_attn(x)
        # the same attention written out with only the kept heads
        qkv = torch.nn.functional.linear(x, attn.qkv.weight, attn.qkv.bias).reshape(2, 197, 3, 3, 64)
        q, k, v = (qkv[:, :, i, kept].transpose(1, 2) for i in range(3))
        heads = torch.softmax(q @ k.transpose(-2, -1) * 64 ** -0.5, dim=-1) @ v
        cols = torch.cat([attn.proj.weight[:, h * 64:(h + 1) * 64] for h in kept], dim=1)
        removed = torch.nn.functional.linear(heads.transpose(1, 2).reshape(2, 197, 128), cols, attn.proj.bias)
    assert torch.allclose(masked, removed, atol=1e-5)
    assert (masked - full).abs().max() > 1e-2


# --- orderings on DeiT-tiny ----------------------------------------------------------------------

def test_precision_ordering(deit_results):
    cos = {name: r.cosine_similarity for name, r in deit_results.items()}
    assert cos["w16a16"] > 0.99999
    assert cos["w16a16"] >= cos["w8a8"] >= cos["w4a8"] >= cos["w4a4"] >= cos["w1a8"] >= cos["w1a1"]
    assert cos["w2a8"] >= cos["w1a8"]
    assert cos["w8a8"] > 0.99 and cos["w1a1"] < 0.5
    sqnr = {name: r.mean_sqnr_db for name, r in deit_results.items()}
    assert sqnr["w16a16"] > sqnr["w8a8"] + 20 > sqnr["w4a4"] + 30
    r = deit_results["w8a8"]
    assert r.quantized_layers == 50 and len(r.layer_sqnr_db) == 50 and r.layer_sqnr_db["head"] > 10


def test_pruning_fewer_heads_is_never_worse(deit_results, deit_graph):
    full, two, one = (deit_results[k] for k in ("w16a16", "keep 2 of 3", "keep 1 of 3"))
    assert full.cosine_similarity >= two.cosine_similarity >= one.cosine_similarity
    assert one.cosine_similarity < 0.999
    for name, kept in one.kept_heads.items():            # same importance order: nested choices
        assert set(kept) <= set(two.kept_heads[name]) and len(kept) == 1 and len(two.kept_heads[name]) == 2
    model = load_model(DEIT, seed=0, checkpoint=None)     # importance: L1 of QKV rows + proj columns
    a = model.blocks[0].attn
    score = a.qkv.weight.abs().reshape(3, 3, 64, 192).sum(dim=(0, 2, 3)) + \
        a.proj.weight.abs().reshape(192, 3, 64).sum(dim=(0, 2))
    assert one.kept_heads["blocks.0.attn"] == [int(score.argmax())]
    assert two.kept_heads["blocks.0.attn"] == sorted(score.argsort(descending=True)[:2].tolist())


def test_proxy_is_not_degenerate(deit_results):
    r = deit_results["w16a16"]
    assert r.float_top1_classes >= 4          # timm's init gives input-dependent logits
    assert 0.5 < r.cross_image_cosine < 0.99   # ... with a large shared component: read cosine against it
    assert deit_results["w1a1"].cosine_similarity < r.cross_image_cosine


def test_mlp_pruning_ordering(deit_graph):
    from codesign.transforms import parse_prune
    half, quarter = (evaluate(DEIT, None, parse_prune(mlp=m), samples=4, graph=deit_graph, use_cache=False)
                     for m in ("0.5", "0.25"))
    assert quarter.cosine_similarity <= half.cosine_similarity < 0.99


# --- cache, evaluator, checkpoint, calibration -----------------------------------------------------

def test_cache_makes_repeats_free(tmp_path, monkeypatch):
    first = evaluate(CNN, "w4a8", input_size=(3, 32, 32), samples=4, cache_dir=str(tmp_path))
    again = evaluate(CNN, "w4a8", input_size=(3, 32, 32), samples=4, cache_dir=str(tmp_path))
    other = evaluate(CNN, "w8a8", input_size=(3, 32, 32), samples=4, cache_dir=str(tmp_path))
    assert not first.from_cache and again.from_cache and not other.from_cache
    assert again.to_dict() == {**first.to_dict(), "from_cache": True}
    assert (tmp_path / f"{first.cache_key}.json").is_file() and first.cache_key != other.cache_key
    assert first.quantized_layers == 4 and first.cosine_similarity < other.cosine_similarity
    monkeypatch.setenv("CODESIGN_CACHE_DIR", str(tmp_path / "root"))
    assert cache.cache_dir() == str(tmp_path / "root" / "fidelity")


def weight_change(compressed, float_model):
    return float((compressed.fc.weight - float_model.fc.weight).abs().max())


def returns_text(compressed, float_model):
    return "good"


def test_user_evaluator_replaces_the_proxy():
    r = evaluate(CNN, "w2a8", input_size=(3, 32, 32), samples=2, evaluator="test_fidelity:weight_change",
                 use_cache=False)
    assert r.evaluator == "test_fidelity:weight_change" and 0 < r.score < 1 and r.score != r.cosine_similarity
    for spec, fragment in [("nope_pkg:f", "cannot import 'nope_pkg' for evaluator 'nope_pkg:f'"),
                           ("test_fidelity:missing", "has no attribute 'missing'"),
                           ("test_fidelity", "write pkg.module:name"),
                           ("test_fidelity:returns_text", r"returned good \(str\), not a finite number")]:
        with pytest.raises(UserError, match=fragment):
            evaluate(CNN, input_size=(3, 32, 32), samples=2, evaluator=spec, use_cache=False)


def test_checkpoint_loading(tmp_path):
    from safetensors.torch import save_file

    trained = load_model(CNN, seed=7, checkpoint=None)
    state = trained.state_dict()
    torch.save(state, tmp_path / "ok.pt")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "ok.safetensors"))
    torch.save({"state_dict": state}, tmp_path / "nested.pth")
    for name in ("ok.pt", "ok.safetensors", "nested.pth"):
        loaded = load_model(CNN, seed=0, checkpoint=str(tmp_path / name))
        assert torch.equal(loaded.fc.weight, trained.fc.weight)
    assert not torch.equal(load_model(CNN, seed=0, checkpoint=None).fc.weight, trained.fc.weight)
    bad = {"missing.pt": ({k: v for k, v in state.items() if k != "fc.bias"},
                          "first mismatching key 'fc.bias' (missing from the checkpoint)"),
           "shape.pt": ({**state, "fc.weight": torch.zeros(3, 3)},
                        "first mismatching key 'fc.weight' (shape (3, 3), model expects (10, 16))"),
           "extra.pt": ({**state, "extra.w": torch.zeros(1)},
                        "first mismatching key 'extra.w' (not in the model)")}
    for name, (content, fragment) in bad.items():
        torch.save(content, tmp_path / name)
        with pytest.raises(UserError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
            evaluate(CNN, checkpoint=str(tmp_path / name), input_size=(3, 32, 32), samples=2, use_cache=False)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot read checkpoint"):
        load_model(CNN, seed=0, checkpoint=str(tmp_path / "junk.pt"))
    with pytest.raises(UserError, match="does not exist"):
        evaluate(CNN, checkpoint=str(tmp_path / "none.pt"))


def test_calibration_images(tmp_path):
    from PIL import Image

    gen = torch.Generator().manual_seed(0)
    for i in range(3):
        pixels = torch.randint(0, 256, (30, 40, 3), generator=gen, dtype=torch.uint8).numpy()
        Image.fromarray(pixels).save(tmp_path / f"img{i}.png")
    model = load_model(CNN, seed=0, checkpoint=None)
    batch = calibration_batch(str(tmp_path), 2, 0, (3, 32, 32), model)
    assert batch.shape == (2, 3, 32, 32) and -2.2 < float(batch.min()) and float(batch.max()) < 2.7
    before = calibration_digest(str(tmp_path), 2, 0)
    Image.new("RGB", (8, 8)).save(tmp_path / "img2.png")          # not among the first 2: same digest
    assert calibration_digest(str(tmp_path), 2, 0) == before
    Image.new("RGB", (8, 8)).save(tmp_path / "img0.png")
    assert calibration_digest(str(tmp_path), 2, 0) != before
    r = evaluate(CNN, "w8a8", input_size=(3, 32, 32), samples=2, calibration=str(tmp_path), use_cache=False)
    assert r.calibration.startswith("images:") and r.cosine_similarity > 0.99
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="has no image files"):
        evaluate(CNN, calibration=str(tmp_path / "empty"), samples=2)
    with pytest.raises(UserError, match="does not exist"):
        evaluate(CNN, calibration=str(tmp_path / "nowhere"), samples=2)
    with pytest.raises(UserError, match=r"fidelity samples must be an integer in \[1, 65,536\]"):
        evaluate(CNN, samples=0)
