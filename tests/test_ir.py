"""Unit tests of the IR types: GEMM views, blocks, totals and the verifier (no torch needed)."""
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
