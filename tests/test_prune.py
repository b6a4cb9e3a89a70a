"""Head and MLP pruning on the IR: hand counts on ViT-B, Swin's extra ops, edges not names, bad input."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codesign.errors import UserError
from codesign.frontend import extract
from codesign.ir import Graph, OpKind, verify
from codesign.transforms import (PrunePlan, apply_precision, apply_pruning, parse_precision, attentions, head_choices, most_important,
                                 parse_prune)
from test_cli import assert_one_line_error, codesign

N, D, HEADS, DIM, HIDDEN, DEPTH = 197, 768, 12, 64, 3072, 12   # vit_base_patch16_224


@pytest.fixture(scope="module")
def deit():
    return extract("deit_tiny_patch16_224")


def macs_of(graph: Graph, kinds, suffix=""):
    return sum(op.macs for op in graph.ops if op.kind in kinds and op.name.endswith(suffix))


def test_vit_base_keep_6_of_12_hand_count():
    full = extract("vit_base_patch16_224")
    pruned = apply_pruning(full, parse_prune("0.5"))
    verify(pruned)
    keep = 6
    for i in range(DEPTH):
        ops = pruned.by_name
        qkv, proj = ops[f"blocks.{i}.attn.qkv"], ops[f"blocks.{i}.attn.proj"]
        qk, sm, av = ops[f"blocks.{i}.attn.qk"], ops[f"blocks.{i}.attn.softmax"], ops[f"blocks.{i}.attn.av"]
        assert (qkv.gemm.m, qkv.gemm.n, qkv.gemm.k) == (N, 3 * keep * DIM, D)
        assert (proj.gemm.m, proj.gemm.n, proj.gemm.k) == (N, D, keep * DIM)
        assert (qk.gemm.m, qk.gemm.n, qk.gemm.k, qk.gemm.batch) == (N, N, DIM, keep)
        assert (av.gemm.m, av.gemm.n, av.gemm.k, av.gemm.batch) == (N, DIM, N, keep)
        assert sm.out_elems == keep * N * N and sm.output == (1, keep, N, N)
        assert qk.attrs.heads == sm.attrs.heads == av.attrs.heads == keep
        assert qkv.params == 3 * keep * DIM * (D + 1) and proj.params == D * keep * DIM + D
    attn = (OpKind.ATTN_QK, OpKind.ATTN_AV)
    assert macs_of(pruned, attn) == DEPTH * 2 * keep * N * N * DIM == macs_of(full, attn) // 2
    linear = {OpKind.LINEAR}
    assert macs_of(pruned, linear, ".qkv") == DEPTH * N * 3 * keep * DIM * D
    assert macs_of(pruned, linear, ".qkv") == macs_of(full, linear, ".qkv") // 2
    assert macs_of(pruned, linear, ".proj") == DEPTH * N * D * keep * DIM
    assert macs_of(pruned, linear, ".proj") == macs_of(full, linear, ".proj") // 2
    softmax = lambda g: sum(op.out_elems for op in g.ops if op.kind is OpKind.SOFTMAX)
    assert softmax(pruned) == DEPTH * keep * N * N == softmax(full) // 2
    assert macs_of(pruned, linear, ".fc1") == macs_of(full, linear, ".fc1")
    removed = DEPTH * (3 * (HEADS - keep) * DIM * (D + 1) + D * (HEADS - keep) * DIM)
    assert pruned.param_count == full.param_count - removed
    assert full.totals().macs - pruned.totals().macs == DEPTH * (
        N * 3 * (HEADS - keep) * DIM * D + N * D * (HEADS - keep) * DIM + 2 * (HEADS - keep) * N * N * DIM)


def test_swin_window_attention_with_scale_and_bias_ops():
    full = extract("swin_tiny_patch4_window7_224")
    pruned = apply_pruning(full, parse_prune("layers.0.blocks.1=[0,2],layers.2.blocks.0=5"))
    ops, before = pruned.by_name, full.by_name
    b = "layers.0.blocks.1.attn."
    assert ops[b + "qkv"].gemm.n == 3 * 2 * 32 and ops[b + "qkv"].output == (64, 49, 192)
    assert ops[b + "mul"].output == (64, 2, 49, 32)               # q scaling sits between qkv and QK^T
    assert ops[b + "add"].output == (64, 2, 49, 49)                # relative position bias
    assert ops[b + "add_1"].output == (1, 64, 2, 49, 49)           # shifted-window mask
    assert ops[b + "qk"].gemm.batch == 64 * 2 and ops[b + "av"].gemm.batch == 64 * 2
    assert ops[b + "proj"].gemm.k == 64 and ops[b + "proj"].output == (64, 49, 96)
    assert ops["layers.2.blocks.0.attn.qk"].attrs.heads == 5
    assert before["layers.2.blocks.0.attn.qk"].attrs.heads == 12
    assert ops["layers.2.blocks.0.attn.proj"].gemm.k == 5 * 32
    assert ops["layers.0.blocks.0.attn.qk"] == before["layers.0.blocks.0.attn.qk"]   # not named: untouched


def test_attention_is_found_through_edges_not_names(deit):
    rename = {"blocks.4.attn.qkv": "x.a", "blocks.4.attn.proj": "x.b", "blocks.4.attn.qk": "y.qk"}
    ops = [op.replace(name=rename.get(op.name, op.name)) for op in deit.ops]
    edges = tuple((rename.get(a, a), rename.get(b, b)) for a, b in deit.edges)
    odd = Graph(deit.model, deit.input_shape, tuple(ops), edges, deit.param_count)
    pruned = apply_pruning(odd, parse_prune("0.34")).by_name
    assert pruned["x.a"].gemm.n == 3 * 64 and pruned["x.b"].gemm.k == 64
    assert pruned["y.qk"].gemm.batch == 1 and pruned["blocks.4.attn.av"].gemm.batch == 1


def test_levit_uneven_qkv_is_refused_with_the_block_name():
    with pytest.raises(UserError, match=r"cannot prune heads of stages\.0\.blocks\.0: attention layout "
                                        r"not understood \(q/k width 16 differs from v width 32\)"):
        apply_pruning(extract("levit_128s"), parse_prune("0.5"))


def test_counts_lists_and_explicit_heads(deit):
    g = apply_pruning(deit, parse_prune("3,2,1,3,3,3,3,3,3,3,3,3"))
    assert [g.by_name[f"blocks.{i}.attn.qk"].attrs.heads for i in range(4)] == [3, 2, 1, 3]
    g = apply_pruning(deit, parse_prune("blocks.0=[0,2],blocks.3.attn=1"))
    assert [g.by_name[f"blocks.{i}.attn.qk"].attrs.heads for i in range(5)] == [2, 3, 3, 1, 3]
    choices = head_choices(deit, parse_prune("blocks.0=[2,0]"))
    assert choices[0].indices == (0, 2) and choices[0].keep == 2 and not choices[1].pruned
    assert apply_pruning(deit, parse_prune("1.0")) == deit


@settings(max_examples=25, deadline=None)
@given(counts=st.lists(st.integers(1, 3), min_size=12, max_size=12))
def test_any_counts_match_the_hand_count_and_commute_with_precision(deit, counts):
    """deit_tiny: every pruned head removes its QKV rows, proj columns and its two attention GEMMs."""
    plan = PrunePlan(keep_counts=tuple(counts))
    pruned = apply_pruning(deit, plan)
    verify(pruned)
    per_head_macs = N * 3 * 64 * 192 + N * 192 * 64 + 2 * N * N * 64
    per_head_params = 3 * 64 * (192 + 1) + 192 * 64
    gone = sum(3 - k for k in counts)
    assert pruned.totals().macs == deit.totals().macs - gone * per_head_macs
    assert pruned.param_count == deit.param_count - gone * per_head_params
    policy = parse_precision("w8a8,blocks.3=w4a4")
    assert apply_precision(pruned, policy) == apply_pruning(apply_precision(deit, policy), plan)


def test_ratio_rounds_half_up(deit):
    assert {c.keep for c in head_choices(deit, parse_prune("0.5"))} == {2}     # 1.5 of 3 heads -> 2
    assert {c.keep for c in head_choices(deit, parse_prune("0.34"))} == {1}
    assert PrunePlan(keep_ratio=0.5).heads_spec == "0.5"


def test_mlp_hidden_width(deit):
    g = apply_pruning(deit, parse_prune(mlp="0.25"))
    fc1, act, fc2 = (g.by_name[f"blocks.7.mlp.{n}"] for n in ("fc1", "act", "fc2"))
    assert (fc1.gemm.n, fc2.gemm.k) == (192, 192) and act.out_elems == N * 192
    assert fc1.params == 192 * (192 + 1) and fc2.params == 192 * 192 + 192
    assert g.param_count == deit.param_count - 12 * (576 * 193 + 576 * 192)
    assert g.totals().macs == deit.totals().macs - 12 * 2 * N * 576 * 192


def test_most_important_breaks_ties_by_index():
    assert most_important([0.1, 5.0, 5.0, 3.0], 2) == (1, 2)
    assert most_important([1.0, 1.0, 1.0], 1) == (0,)
    assert most_important([3.0, 1.0, 2.0], 2) == (0, 2)


@pytest.mark.parametrize("spec,fragment", [
    ("blocks.0=4", "blocks.0 has 3 heads (0..2); cannot keep 4 heads"),
    ("blocks.0=[0,5]", "blocks.0 has 3 heads (0..2); cannot keep head 5"),
    ("0.1", "keeps no head of blocks.0 (3 heads)"),
    ("3,3", "gives 2 counts but deit_tiny_patch16_224 has 12 attention blocks"),
    ("blocks.99=2", "'blocks.99' is not an attention block of deit_tiny_patch16_224; blocks with "
                    "attention: blocks.0, blocks.1, blocks.2, ..., blocks.11"),
])
def test_pruning_that_does_not_fit_the_model(deit, spec, fragment):
    with pytest.raises(UserError) as info:
        apply_pruning(deit, parse_prune(spec))
    assert fragment in str(info.value)


@pytest.mark.parametrize("heads,mlp,fragment", [
    ("blocks.0=0", None, "would prune every head"),
    ("0", None, "would prune every head"),
    ("1.5", None, "ratio 1.5 is not valid: give the fraction to KEEP, in (0, 1]"),
    ("0.0", None, "ratio 0 is not valid"),
    ("blocks.0=[0,0]", None, "distinct head indices"),
    ("blocks.0=[]", None, "distinct head indices"),
    ("abc", None, "'abc' is not a head count"),
    ("blocks.0=6,blocks.0=4", None, "'blocks.0' is given twice"),
    ("6,,6", None, "empty entry"),
    (None, "2", "--prune-mlp ratio 2 is not valid"),
    (None, "x", "--prune-mlp 'x' is not a number"),
])
def test_bad_prune_specs(heads, mlp, fragment):
    with pytest.raises(UserError) as info:
        parse_prune(heads, mlp)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_cnn_has_nothing_to_prune():
    g = extract("fixture_models:tiny_cnn", input_size=(3, 16, 16))
    assert attentions(g) == ()
    with pytest.raises(UserError, match="has no attention to prune"):
        apply_pruning(g, parse_prune("0.5"))
    with pytest.raises(UserError, match="has no transformer block"):
        apply_pruning(g, parse_prune(mlp="0.5"))


def test_cli_prune_heads():
    assert_one_line_error(codesign("inspect", "deit_tiny_patch16_224", "--prune-heads", "1.5"),
                          "--prune-heads", "in (0, 1]")
    assert_one_line_error(codesign("inspect", "deit_tiny_patch16_224", "--prune-heads", "blocks.0=4"),
                          "blocks.0 has 3 heads")
    r = codesign("inspect", "deit_tiny_patch16_224", "--json", "--prune-heads", "0.34", "--prune-mlp", "0.5",
                 "--precision", "w8a8")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    ops = {op["name"]: op for op in data["ops"]}
    assert ops["blocks.0.attn.qk"]["heads"] == 1 and ops["blocks.0.attn.qkv"]["gemm"]["n"] == 192
    assert ops["blocks.0.mlp.fc1"]["gemm"]["n"] == 384 and ops["blocks.0.mlp.fc1"]["w_bits"] == 8
    assert data["compression"] == {"precision": "default=w8a8", "prune_heads": "0.34", "mlp_keep_ratio": 0.5}
