"""The HLS golden model and helpers on their own: names, packing, XNOR-popcount, requantisation,
and the vector unit's integer algorithms against the exact math within their stated tolerances."""
import numpy as np
import pytest

from codesign.hls import golden
from codesign.hls.names import cpp_identifier, unique_identifiers
from codesign.hls.pack import pack, unpack
from codesign.hls.support import accumulator_bits_needed
from codesign.hls.types import PrecisionClass, act_fixed, act_frac_bits


def test_module_paths_become_valid_unique_identifiers():
    assert cpp_identifier("blocks.3.attn.qkv") == "blocks_3_attn_qkv"
    assert cpp_identifier("0.conv") == "op_0_conv"
    assert cpp_identifier("class") == "op_class"
    assert cpp_identifier("__weird__..name") == "weird_name"
    assert cpp_identifier("...") == "op"
    idents = unique_identifiers(["a.b", "a_b", "A.b", "features.0", "features-0"])
    assert idents == {"a.b": "a_b", "a_b": "a_b_2", "A.b": "A_b_3", "features.0": "features_0",
                      "features-0": "features_0_2"}
    assert len({v.lower() for v in idents.values()}) == 5


@pytest.mark.parametrize("bits", [1, 2, 4, 6, 8, 16, 32])
@pytest.mark.parametrize("word_bits", [64, 512])
def test_pack_round_trip_and_layout(bits, word_bits):
    rng = np.random.default_rng(bits)
    lo, hi = golden.value_range(bits)
    values = rng.choice([-1, 1], 300) if bits == 1 else rng.integers(lo, hi + 1, 300)
    data = pack(values, bits, word_bits)
    per = word_bits // bits
    assert len(data) == -(-300 // per) * word_bits // 8
    assert np.array_equal(unpack(data, 300, bits, word_bits), values)
    first = int.from_bytes(data[: word_bits // 8], "little")      # element 0 in the low bits of word 0
    assert first & ((1 << bits) - 1) == (int(values[0] > 0) if bits == 1 else int(values[0]) & ((1 << bits) - 1))


@pytest.mark.parametrize("a_bits", [1, 2, 8])
def test_xnor_popcount_gemm_equals_the_plain_product(a_bits):
    rng = np.random.default_rng(a_bits)
    lo, hi = golden.value_range(a_bits)
    a = rng.choice([-1, 1], (2, 5, 130)) if a_bits == 1 else rng.integers(lo, hi + 1, (2, 5, 130))
    b = rng.choice([-1, 1], (2, 130, 7))
    assert np.array_equal(golden.xnor_popcount_gemm(a, a_bits, b), golden.gemm(a, b))


def test_requantize_rounds_half_up_and_saturates():
    assert golden.requantize(149, 0, 1, 1, 8) == 75           # 74.5 -> 75
    assert golden.requantize(-149, 0, 1, 1, 8) == -74         # -74.5 -> -74 (half up)
    assert golden.requantize(100, 20, 3, 2, 8) == 90          # (120 * 3 + 2) >> 2
    assert golden.requantize(10**6, 0, 1, 0, 8) == 127 and golden.requantize(-10**6, 0, 1, 0, 4) == -8
    assert list(golden.requantize(np.array([-3, 0, 5]), 0, 9, 3, 1)) == [-1, 1, 1]   # binary: sign


def test_exp_tables_and_formats():
    t = golden.exp_tables(8)                                  # Q4.4 inputs: exp(-d / 16)
    assert (t.frac, t.split, t.cut) == (4, 4, 178)
    assert t.hi[0] == t.lo[0] == 32768 and t.lo[1] == 30783   # round(2^15 exp(-1/16))
    assert len(t.hi) == 12 and len(t.lo) == 16
    assert golden.exp_tables(4).cut == 16                     # distances of 4-bit codes are < 16
    assert act_frac_bits(8) == 4 and act_fixed(8).spelling == "ap_fixed<8, 4>"
    assert act_fixed(6, "AP_RND", "AP_SAT").spelling == "ap_fixed<6, 3, AP_RND, AP_SAT>"
    assert PrecisionClass("gemm", 1, 8, 8).spellings() == {"w_t": "ap_uint<1>", "a_t": "ap_int<8>", "o_t": "ap_int<8>"}
    assert accumulator_bits_needed(192, 16, 16) == 39 and accumulator_bits_needed(768, 8, 8) == 25
    assert accumulator_bits_needed(768, 1, 8) == 18


def _lsb_error(q, exact, bits, frac):
    lsb = 2.0 ** -frac
    clipped = np.clip(exact, -(2 ** (bits - 1)) * lsb, (2 ** (bits - 1) - 1) * lsb)
    return np.abs(q * lsb - clipped).max() / lsb


@pytest.mark.parametrize("bits", [4, 8, 16])
def test_softmax_within_stated_tolerance(bits):
    rng = np.random.default_rng(1)
    hi = 2 ** (bits - 1) - 1
    x = np.clip(np.rint(rng.normal(0, 0.3 * hi, (40, 197))), -hi - 1, hi).astype(np.int64)
    q = golden.softmax(x, bits)
    err = _lsb_error(q, golden.softmax_float(x * 2.0 ** -act_frac_bits(bits)), bits, bits - 1)
    tol = golden.tolerance_lsb("softmax", bits, 197)
    assert err <= tol, (err, tol)
    assert golden.tolerance_lsb("softmax", 8, 197) == pytest.approx(1.662, abs=1e-3)
    assert np.all(q >= 0) and np.all(q.sum(axis=1) <= 2 ** (bits - 1) + 197)


@pytest.mark.parametrize("bits", [4, 8, 16])
def test_layernorm_and_gelu_within_stated_tolerance(bits):
    rng = np.random.default_rng(2)
    hi = 2 ** (bits - 1) - 1
    frac = act_frac_bits(bits)
    x = np.clip(np.rint(rng.normal(0, 0.35 * hi, (20, 192))), -hi - 1, hi).astype(np.int64)
    gamma = np.rint(rng.uniform(0.5, 1.5, 192) * 2 ** golden.LN_GAMMA_FRAC).astype(np.int64)
    beta = np.rint(rng.uniform(-0.5, 0.5, 192) * 2 ** golden.LN_BETA_FRAC).astype(np.int64)
    q = golden.layernorm(x, gamma, beta, bits)
    exact = golden.layernorm_float(x * 2.0 ** -frac, gamma / 2 ** golden.LN_GAMMA_FRAC, beta / 2 ** golden.LN_BETA_FRAC)
    assert _lsb_error(q, exact, bits, frac) <= golden.tolerance_lsb("layer_norm", bits)
    g = golden.gelu(x.reshape(-1), bits)
    assert _lsb_error(g, golden.gelu_float(x.reshape(-1) * 2.0 ** -frac), bits, frac) <= golden.tolerance_lsb("gelu", bits)
    table = golden.phi_table(bits)
    assert len(table.table) == (2 * table.hi if bits <= 10 else golden.GELU_LUT_MAX)


@pytest.mark.parametrize("bits", [4, 8])
def test_table_activations_are_the_functions_rounded(bits):
    frac = act_frac_bits(bits)
    lo, hi = golden.value_range(bits)
    x = np.arange(lo, hi + 1)
    for name, f in golden.LUT_FUNCTIONS.items():
        got = golden.lut_apply(x, name, bits)
        exact = np.clip([f(v * 2.0 ** -frac) * 2 ** frac for v in x], lo, hi)
        assert np.abs(got - exact).max() <= 0.5 + 1e-9, name
    assert golden.lut_apply(np.array([0]), "sigmoid", 8)[0] == 8          # sigmoid(0) = 0.5 = 8 / 16
    assert golden.lut_apply(np.array([-128, 127]), "hardswish", 8).tolist() == [0, 127]


def test_pooling_max_ignores_padding_and_average_rounds_half_up():
    x = np.arange(-8, 8).reshape(1, 4, 4, 1)
    mx = golden.pool(x, (3, 3), (2, 2), (1, 1), "max", (2, 2))
    assert mx[0, :, :, 0].tolist() == [[-3, -1], [5, 7]]                  # every window's largest input
    avg = golden.pool(np.array([[[[1], [2]], [[2], [2]]]]), (2, 2), (2, 2), (0, 0), "avg", (1, 1))
    assert avg.item() == 2                                               # 7 / 4 = 1.75 -> 2
    assert golden.pool(np.array([[[[-1], [-2]], [[-2], [-1]]]]), (2, 2), (2, 2), (0, 0), "avg", (1, 1)).item() == -1
    exact = golden.pool(x, (4, 4), (4, 4), (0, 0), "avg", (1, 1), rounded=False)
    assert exact.item() == -0.5 and golden.pool(x, (4, 4), (4, 4), (0, 0), "avg", (1, 1)).item() == 0   # -0.5 -> 0
