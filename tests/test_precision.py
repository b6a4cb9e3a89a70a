"""Precision policies: the compact spec and YAML, rule precedence on real op names, bad input."""
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codesign.errors import UserError
from codesign.frontend import extract
from codesign.ir import SUPPORTED_BITS, Gemm, Op, OpKind
from codesign.transforms import Bits, PolicyWarning, PrecisionPolicy, Rule, apply_precision, parse_precision
from test_cli import assert_one_line_error, codesign


@pytest.fixture(scope="module")
def deit():
    return extract("deit_tiny_patch16_224")


def widths(graph, name):
    op = graph.by_name[name]
    return op.w_bits, op.a_bits


def test_single_width_is_the_default():
    policy = parse_precision("w8a8")
    assert policy == PrecisionPolicy(default=Bits(8, 8))
    assert policy.spec == "default=w8a8"


def test_precedence_on_deit(deit):
    spec = (r"default=w8a8,blocks.0=w16a16,*.attn.qkv=w4a8,kind:linear=w6a6,re:blocks\.(1|2)\..*=w4a4,"
            "blocks.0.mlp.fc2=w2a8")
    g = apply_precision(deit, parse_precision(spec))
    assert widths(g, "blocks.0.mlp.fc2") == (2, 8)      # exact op name beats everything
    assert widths(g, "blocks.0.attn.qkv") == (4, 8)     # glob beats module
    assert widths(g, "blocks.0.mlp.fc1") == (16, 16)    # module beats kind
    assert widths(g, "blocks.1.mlp.fc1") == (4, 4)      # regex beats kind
    assert widths(g, "blocks.1.attn.qkv") == (4, 4)     # glob and regex: the later one wins
    assert widths(g, "blocks.5.attn.qkv") == (4, 8)
    assert widths(g, "blocks.5.mlp.fc1") == (6, 6)      # kind
    assert widths(g, "head") == (6, 6)
    assert widths(g, "patch_embed.proj") == (8, 8)      # conv2d: the default
    assert widths(g, "blocks.5.attn.qk") == (8, 8)      # both operands are activations: a8
    assert widths(g, "blocks.5.norm1") == (16, 8)       # vector op: activation width only
    assert widths(g, "blocks.0.attn.softmax") == (16, 16)


def test_longer_module_prefix_wins_whatever_the_order(deit):
    for spec in ("blocks=w8a8,blocks.3=w4a4", "blocks.3=w4a4,blocks=w8a8"):
        g = apply_precision(deit, parse_precision(spec))
        assert widths(g, "blocks.3.mlp.fc1") == (4, 4)
        assert widths(g, "blocks.4.mlp.fc1") == (8, 8)
        assert widths(g, "head") == (16, 16)


def test_binary_weights_and_activations(deit):
    g = apply_precision(deit, parse_precision("default=w1a8,blocks.0=w1a1"))
    assert widths(g, "blocks.3.attn.proj") == (1, 8)     # VAQF: binary weights, 8-bit activations
    assert widths(g, "blocks.0.attn.proj") == (1, 1)     # XNOR-popcount
    assert widths(g, "blocks.0.attn.qk") == (1, 1)
    assert widths(g, "blocks.0.norm1") == (16, 16)      # the vector unit does not binarise
    assert widths(g, "blocks.3.norm1") == (16, 8)


def test_precision_changes_only_bits(deit):
    g = apply_precision(deit, parse_precision("w4a4"))
    assert g.totals() == deit.totals()
    assert [(o.name, o.gemm, o.output) for o in g.ops] == [(o.name, o.gemm, o.output) for o in deit.ops]
    pe = [o for o in g.ops if o.kind in (OpKind.LINEAR, OpKind.CONV2D)]
    assert len(pe) == 50 and all((o.w_bits, o.a_bits) == (4, 4) for o in pe)


def test_rule_matching_nothing_warns(deit):
    with pytest.warns(PolicyWarning, match=r"rule 're:nothing\\.\.\*' matches no op of deit_tiny"):
        apply_precision(deit, parse_precision(r"w8a8,re:nothing\..*=w4a4"))
    with pytest.warns(PolicyWarning, match="'kind:conv2d'"):
        apply_precision(deit.replace_ops(o for o in deit.ops if o.kind is not OpKind.CONV2D),
                        parse_precision("kind:conv2d=w4a4"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        apply_precision(deit, parse_precision("blocks.11=w4a4"))   # matches: no warning


@pytest.mark.parametrize("spec,fragment", [
    ("w3a8", "weight width 3 is not supported; allowed widths: 16, 8, 6, 4, 2, 1"),
    ("default=w8a5", "activation width 5 is not supported"),
    ("w8", "neither a width like w8a8 nor KEY=w<bits>a<bits>"),
    ("blocks.0=w8", "write w<bits>a<bits>"),
    ("blocks.0:w8a8", "neither a width"),
    ("w8a8,,blocks.0=w4a4", "empty entry"),
    ("=w8a8", "empty entry"),
    ("w8a8,default=w4a4", "default is given twice"),
    ("blocks.0=w8a8,blocks.0=w4a4", "'blocks.0' is given twice"),
    ("kind:lin=w8a8", "unknown op kind; allowed kinds: add, attn_av"),
    ("re:blocks.(=w8a8", "bad regular expression"),
    ("", "--precision is empty"),
])
def test_bad_specs(spec, fragment):
    with pytest.raises(UserError) as info:
        parse_precision(spec)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_regex_with_commas_and_braces():
    policy = parse_precision(r"w8a8,re:blocks\.(1|2)\.mlp\.fc[12]{1,1}=w4a4")
    assert policy.rules == (Rule(r"re:blocks\.(1|2)\.mlp\.fc[12]{1,1}", Bits(4, 4)),)


def test_yaml_equals_the_spec(tmp_path, deit):
    path = tmp_path / "policy.yaml"
    path.write_text("version: 1\ndefault: w8a8\nrules:\n  blocks.0: w16a16\n  '*.attn.qkv': w4a8\n"
                    "  kind:linear: w6a6\n  're:blocks\\.(1|2)\\..*': w4a4\n")
    from_yaml = parse_precision(str(path))
    from_spec = parse_precision(r"default=w8a8,blocks.0=w16a16,*.attn.qkv=w4a8,kind:linear=w6a6,"
                                r"re:blocks\.(1|2)\..*=w4a4")
    assert from_yaml == from_spec
    assert apply_precision(deit, from_yaml) == apply_precision(deit, from_spec)


@pytest.mark.parametrize("text,fragment", [("- w8a8\n", "expected a mapping"),
                                           ("default: w8a8\nrule: {}\n", "expected a mapping"),
                                           ("version: 2\n", "version 2 is not supported"),
                                           ("rules: [w8a8]\n", "rules must be a mapping"),
                                           ("default: w7a8\n", "weight width 7"),
                                           ("default: [\n", "malformed YAML")])
def test_bad_yaml(tmp_path, text, fragment):
    path = tmp_path / "p.yml"
    path.write_text(text)
    with pytest.raises(UserError, match=fragment.replace("[", r"\[")):
        parse_precision(str(path))
    with pytest.raises(UserError, match="does not exist"):
        parse_precision(str(tmp_path / "missing.yaml"))


KEYS = ["blocks.0", "blocks", "blocks.0.mlp.fc1", "*.fc1", "re:blocks\\.0\\..*", "kind:linear", "head"]
BITS = st.builds(Bits, st.sampled_from(SUPPORTED_BITS), st.sampled_from(SUPPORTED_BITS))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(KEYS), BITS), unique_by=lambda r: r[0]), BITS)
def test_spec_round_trips(rules, default):
    policy = PrecisionPolicy(default=default, rules=tuple(Rule(k, b) for k, b in rules))
    assert parse_precision(policy.spec) == policy


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([k for k in KEYS if k != "blocks.0.mlp.fc1"]), BITS),
                unique_by=lambda r: r[0]), BITS, BITS)
def test_an_exact_op_rule_always_decides(rules, default, exact):
    """Whatever else the policy says, a rule naming the op exactly gives that op its widths."""
    policy = PrecisionPolicy(default=default, rules=tuple(Rule(k, b) for k, b in rules)
                             + (Rule("blocks.0.mlp.fc1", exact),))
    rules_reversed = PrecisionPolicy(default=default, rules=policy.rules[::-1])
    op = Op(name="blocks.0.mlp.fc1", kind=OpKind.LINEAR, inputs=((1, 4),), output=(1, 4), gemm=Gemm(1, 4, 4))
    assert policy.bits_for(op) == exact == rules_reversed.bits_for(op)


def test_cli_reports_bad_width_and_unmatched_rule():
    assert_one_line_error(codesign("inspect", "fixture_models:tiny_cnn", "--precision", "w3a8"),
                          "--precision", "weight width 3 is not supported", "16, 8, 6, 4, 2, 1")
    assert_one_line_error(codesign("inspect", "fixture_models:tiny_cnn", "--precision", "w8a8,blocks.0"),
                          "--precision", "w<bits>a<bits>")
    r = codesign("inspect", "fixture_models:tiny_cnn", "--input-size", "32", "--json",
                 "--precision", "default=w8a8,pw=w4a8,re:zzz.*=w2a2,kind:relu=w8a16")
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().splitlines() == [
        "codesign: warning: precision rule 're:zzz.*' matches no op of fixture_models:tiny_cnn; "
        "it has no effect"]
    import json
    data = json.loads(r.stdout)
    ops = {op["name"]: op for op in data["ops"]}
    assert (ops["pw"]["w_bits"], ops["pw"]["a_bits"]) == (4, 8)
    assert (ops["conv"]["w_bits"], ops["conv"]["a_bits"]) == (8, 8)
    assert (ops["act"]["w_bits"], ops["act"]["a_bits"]) == (16, 16)
    assert data["compression"]["precision"].startswith("default=w8a8,pw=w4a8")
