"""Activation and weight fake quantisers (grids, ranges, straight-through gradients) and the quantised attention."""
import torch

from codesign.fidelity.compress import _AttentionSites
from codesign.fidelity.quantizers import ActQuant, WeightQuant, quantize_weight, weight_codes


def calibrated(bits, data, method="mse"):
    q = ActQuant(bits, method)
    q(data)
    q.freeze()
    return q


def test_unsigned_grid_for_non_negative_values_and_signed_otherwise():
    x = torch.rand(4096, generator=torch.Generator().manual_seed(0))
    q = calibrated(4, x)
    out = q(x)
    assert out.min() >= 0 and len(torch.unique(out)) <= 16           # [0, 15] steps
    signed = calibrated(4, x - 0.5)
    assert len(torch.unique(signed(x - 0.5))) <= 15 and signed(x - 0.5).min() < 0


def test_mse_range_beats_max_on_heavy_tails():
    g = torch.Generator().manual_seed(1)
    x = torch.cat([torch.randn(10000, generator=g), torch.tensor([40.0])])   # one outlier
    err = {m: float(((calibrated(4, x, m)(x) - x) ** 2).mean()) for m in ("max", "percentile", "mse")}
    assert err["mse"] < err["max"] and err["percentile"] < err["max"]


def test_straight_through_gradients():
    x = torch.linspace(-2, 2, 9, requires_grad=True)
    q = calibrated(8, torch.linspace(-1, 1, 9), "max")                   # range [-1, 1]
    q(x).sum().backward()
    assert x.grad.tolist() == [0, 0, 1, 1, 1, 1, 1, 0, 0]                 # zero outside the clipped range
    w = torch.randn(8, 16, requires_grad=True)
    out = WeightQuant(2)(w)                 # w + (q - w): equal to q up to one rounding of the sum
    assert torch.allclose(out.detach(), quantize_weight(w.detach(), 2), rtol=0, atol=1e-6)
    out.sum().backward()
    assert torch.equal(w.grad, torch.ones_like(w))                        # identity for weights


def test_quantised_attention_at_16_bits_is_scaled_dot_product_attention():
    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(2, 3, 5, 8, generator=g) for _ in range(3))
    sites = _AttentionSites(*(ActQuant(16) for _ in range(5)))
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    assert torch.allclose(sites.attention(q, k, v), expected, atol=1e-6)
    mask = torch.rand(5, 5, generator=g) > 0.3
    mask[:, 0] = True
    assert torch.allclose(sites.attention(q, k, v, attn_mask=mask),
                          torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-6)


def test_weight_codes_times_their_scales_are_quantize_weight():
    """weight_codes x scale is quantize_weight, bit for bit (one home for the per-channel grid)."""
    w = torch.randn(6, 3, 3, 3, generator=torch.Generator().manual_seed(0))
    for bits in (8, 4, 2, 1):
        codes, scale = weight_codes(w, bits)
        assert torch.equal(codes * scale.reshape(-1, 1, 1, 1), quantize_weight(w, bits))
        assert codes.abs().max() <= max(1, 2 ** (bits - 1) - 1) and torch.equal(codes, codes.round())
