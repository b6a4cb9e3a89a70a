"""Unit tests of the IR types: GEMM views, blocks, totals and the verifier (no torch needed)."""
import dataclasses

import pytest

from codesign.ir import Gemm, Graph, Op, OpKind, block_of, verify


def _linear(name, m=4, n=8, k=16):
    return Op(name=name, kind=OpKind.LINEAR, inputs=((m, k),), output=(m, n), gemm=Gemm(m, n, k),
              params=n * k + n, weight_elems=n * k)


def test_block_of():
    assert block_of("blocks.3.attn.qkv") == "blocks.3"
    assert block_of("stages.1.blocks.2.attn.qkv") == "stages.1.blocks.2"
    assert block_of("layer1.0.conv1") == "layer1.0"
    assert block_of("patch_embed.proj") == "patch_embed"
    assert block_of("head") == "head"


def test_op_derived_counts():
    op = _linear("fc", m=4, n=8, k=16)
    assert op.macs == 4 * 8 * 16
    assert op.in_elems == 64 and op.out_elems == 32
    assert op.w_bits == op.a_bits == 16
    assert not op.b_is_activation and op.on_pe_array


def test_pe_ops_need_a_gemm_and_vector_ops_must_not_have_one():
    with pytest.raises(ValueError):
        Op(name="x", kind=OpKind.LINEAR, inputs=((1, 2),), output=(1, 2))
    with pytest.raises(ValueError):
        Op(name="x", kind=OpKind.GELU, inputs=((1, 2),), output=(1, 2), gemm=Gemm(1, 1, 1))
    with pytest.raises(ValueError):
        _linear("fc").replace(w_bits=3)


def test_graph_totals_and_verify():
    a, b = _linear("a"), _linear("b", m=4, n=8, k=8)
    gelu = Op(name="act", kind=OpKind.GELU, inputs=((4, 8),), output=(4, 8))
    g = Graph(model="t", input_shape=(4, 16), ops=(a, gelu, b), edges=(("a", "act"), ("act", "b")),
              param_count=a.params + b.params)
    verify(g)
    t = g.totals()
    assert t.macs == a.macs + b.macs and t.pe_array_ops == 2 and t.vector_ops == 1
    assert t.vector_elems == 32
    assert list(g.dag.successors("act")) == ["b"]
    assert g.to_dict()["totals"]["macs"] == t.macs
    with pytest.raises(ValueError, match="topological"):
        verify(Graph("t", (4, 16), (a, gelu, b), (("b", "act"),), 0))
    with pytest.raises(ValueError, match="duplicate"):
        verify(Graph("t", (4, 16), (a, a), (), 0))


@pytest.mark.parametrize("change, message", [
    ({"output": (4, 9)}, "m x n x batch"),                              # output not the GEMM's
    ({"gemm": Gemm(4, 8, 15), "inputs": ((4, 15),)}, "weights"),       # k changed, weights not
    ({"output": (4, 0, 8)}, "positive integer"),                        # an empty dimension
    ({"weight_elems": 7}, "weights"),
])
def test_verify_checks_shapes_gemm_views_and_macs(change, message):
    good = _linear("fc")
    verify(Graph("t", (4, 16), (good,), (), 0))
    with pytest.raises(ValueError, match=message):
        verify(Graph("t", (4, 16), (good.replace(**change),), (), 0))


def test_verify_pass_checks_what_each_pass_keeps():
    from codesign.ir import verify_pass

    before = Graph("t", (4, 16), (_linear("a"), _linear("b", k=8)), (("a", "b"),), 0)
    narrower = before.replace_ops(op.replace(w_bits=4, a_bits=8) for op in before.ops)
    verify_pass(before, narrower, "precision")
    reshaped = before.replace_ops([_linear("a", m=2), before.ops[1]])
    with pytest.raises(ValueError, match="precision pass: op a: more than its bit widths"):
        verify_pass(before, reshaped, "precision")
    verify_pass(before, reshaped, "pruning")               # pruning may shrink an op
    grown = before.replace_ops([_linear("a", n=16), _linear("b", k=16)])
    with pytest.raises(ValueError, match="pruning pass: op a: MACs"):
        verify_pass(before, grown, "pruning")
    with pytest.raises(ValueError, match="ops or edges changed"):
        verify_pass(before, dataclasses.replace(before, ops=before.ops[::-1], edges=(("b", "a"),)), "pruning")
