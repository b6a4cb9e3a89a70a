"""Real timm models through torch.export into the IR: coverage, MAC counts and attention."""
import csv
import math
import os

import pytest

from codesign.errors import ExportFailed, UnsupportedOps, UserError
from codesign.frontend import extract
from codesign.ir import AttentionAttrs, OpKind

REFERENCE = os.path.join(os.path.dirname(__file__), "reference", "macs.csv")
THIRTEEN = ["resnet18", "resnet50", "mobilenetv3_large_100", "efficientnet_b0", "convnext_tiny",
            "vit_tiny_patch16_224", "vit_base_patch16_224", "deit_tiny_patch16_224",
            "swin_tiny_patch4_window7_224", "levit_128s", "mobilevit_s", "efficientformer_l1",
            "regnety_016"]
HAS_ATTENTION = {"vit_tiny_patch16_224", "vit_base_patch16_224", "deit_tiny_patch16_224",
                 "swin_tiny_patch4_window7_224", "levit_128s", "mobilevit_s", "efficientformer_l1"}


@pytest.mark.slow
@pytest.mark.parametrize("name", THIRTEEN)
def test_thirteen_models_extract_completely(name):
    graph = extract(name)  # raises UnsupportedOps naming any op the IR does not know
    totals = graph.totals()
    assert totals.macs > 0 and totals.params > 0
    assert all(op.gemm.macs == op.macs for op in graph.ops if op.on_pe_array)
    assert len(graph.edges) >= len(graph.ops) - 1  # the data flow is kept through folded ops
    kinds = {op.kind for op in graph.ops}
    assert (OpKind.ATTN_QK in kinds and OpKind.ATTN_AV in kinds) == (name in HAS_ATTENTION)
    for op in graph.ops:
        if op.kind in (OpKind.ATTN_QK, OpKind.ATTN_AV):
            assert isinstance(op.attrs, AttentionAttrs) and op.attrs.heads >= 1


def _reference_rows():
    with open(REFERENCE) as f:
        return list(csv.DictReader(f))


def test_macs_and_params_agree_with_fvcore_reference():
    rows = _reference_rows()
    assert rows, "reference table is empty"
    for row in rows:
        size = tuple(int(v) for v in row["input_shape"].split("x"))
        graph = extract(row["model"], input_size=size[1:], batch=size[0])
        macs, ref = graph.totals().macs, int(row["macs"])
        assert abs(macs - ref) <= 0.001 * ref, (row["model"], macs, ref)
        assert graph.totals().params == int(row["params"])


def test_vit_hand_count():
    """vit_tiny: D=192, 3 heads of 64, 197 tokens, MLP 768, 12 blocks, 1000 classes."""
    d, heads, n, hidden, depth = 192, 3, 197, 768, 12
    patch = 196 * d * 3 * 16 * 16
    block = n * d * 3 * d + n * d * d + 2 * n * d * hidden + 2 * heads * n * n * (d // heads)
    expected = patch + depth * block + d * 1000
    graph = extract("vit_tiny_patch16_224")
    assert graph.totals().macs == expected
    qk = graph.by_name["blocks.0.attn.qk"]
    assert (qk.gemm.m, qk.gemm.n, qk.gemm.k, qk.gemm.batch) == (n, n, 64, heads)
    assert graph.by_name["blocks.0.attn.softmax"].out_elems == heads * n * n
    assert graph.by_name["blocks.0.attn.av"].attrs.heads == heads
    assert graph.by_name["blocks.0.attn.qkv"].gemm.n == 3 * d


def test_cnn_hand_count_with_depthwise():
    graph = extract("fixture_models:tiny_cnn", input_size=(3, 32, 32), batch=2)
    ops = graph.by_name
    assert ops["conv"].macs == 2 * 8 * 32 * 32 * 27
    dw = ops["dw"]
    assert dw.attrs.depthwise and (dw.gemm.m, dw.gemm.n, dw.gemm.k, dw.gemm.batch) == (2 * 256, 1, 9, 8)
    assert ops["pw"].macs == 2 * 16 * 256 * 8
    assert ops["fc"].macs == 2 * 16 * 10
    assert ops["act"].kind is OpKind.RELU  # relu_ (in place) normalised to relu
    assert graph.totals().params == 3 * 8 * 9 + 16 + (8 * 9 + 8) + (8 * 16 + 16) + (16 * 10 + 10)
    assert ("conv", "bn") in graph.edges and ("pool", "fc") in graph.edges  # through flatten


def test_fused_and_written_out_attention_give_the_same_ir():
    from codesign.frontend.torchvision_compat import import_timm

    timm = import_timm()
    fused = extract("deit_tiny_patch16_224")
    timm.layers.set_fused_attn(False)
    try:
        unfused = extract("deit_tiny_patch16_224")
    finally:
        timm.layers.set_fused_attn(True)
    pe = lambda g: [(o.name, o.kind, o.gemm, o.attrs.heads if o.attrs and hasattr(o.attrs, "heads") else None)
                    for o in g.ops if o.on_pe_array]
    assert pe(fused) == pe(unfused)
    soft = lambda g: [(o.name, o.out_elems, o.attrs.heads) for o in g.ops if o.kind is OpKind.SOFTMAX]
    assert soft(fused) == soft(unfused)
    assert fused.totals().macs == unfused.totals().macs
    assert fused.by_name["blocks.0.attn.qk"].attrs.fused
    assert not unfused.by_name["blocks.0.attn.qk"].attrs.fused


def test_unknown_op_is_named():
    with pytest.raises(UnsupportedOps, match="cumsum"):
        extract("fixture_models:uses_cumsum", input_size=(3, 8, 8))


def test_export_failure_names_the_module():
    with pytest.raises(ExportFailed, match="inner"):
        extract("fixture_models:data_dependent", input_size=(3, 8, 8))


@pytest.mark.parametrize("spec,match", [("vit_bsae_patch16_224", "closest: vit_base_patch16_224"),
                                         ("fixture_models:nope", "no attribute"),
                                         ("no_such_pkg.mod:f", "cannot import"),
                                         ("fixture_models:not_a_module", "not a torch.nn.Module")])
def test_bad_model_names(spec, match):
    with pytest.raises(UserError, match=match):
        extract(spec)


@pytest.mark.parametrize("size", ["0", "3,-1,4", "abc", "1,2,3,4", ""])
def test_bad_input_size(size):
    with pytest.raises(UserError, match="input-size"):
        extract("resnet18", input_size=size)


def test_batch_scales_everything():
    one, four = extract("fixture_models:tiny_cnn", (3, 16, 16)), extract("fixture_models:tiny_cnn", (3, 16, 16), 4)
    assert four.totals().macs == 4 * one.totals().macs
    assert math.prod(four.input_shape) == 4 * math.prod(one.input_shape)
