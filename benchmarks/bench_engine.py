"""Times `accel_sim.simulate` on a vit_base-like layer list (148 layers) for every preset.
Prints cold (first call, includes numba cache load or compile) and warm per-call times.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from accel_sim import Layer, LayerKind, Workload, list_presets, load_accelerator, simulate  # noqa: E402


def vit_base_layers(bits: int = 8, tokens: int = 197, dim: int = 768, heads: int = 12,
                    depth: int = 12, mlp: int = 3072) -> list[Layer]:
    """The layers of ViT-B/16 at 224x224 (timm vit_base_patch16_224, unfused attention)."""
    g, v = LayerKind.GEMM, LayerKind.VECTOR
    hd = dim // heads
    out = [Layer("patch_embed.proj", LayerKind.CONV, m=196, n=dim, k=3 * 16 * 16, kh=16, kw=16,
                 stride=16, oh=14, ow=14, a_elems=3 * 224 * 224, w_bits=bits, a_bits=bits, label="conv2d"),
           Layer("pos_embed.add", v, vector_family="eltwise", elems=tokens * dim,
                 a_elems=2 * tokens * dim, o_elems=tokens * dim, a_bits=bits, label="add")]
    for i in range(depth):
        p = f"blocks.{i}."
        vec = lambda name, fam, elems, label, a=0: Layer(p + name, v, vector_family=fam, elems=elems,
                                                           a_elems=a or elems, o_elems=elems,
                                                           a_bits=bits, label=label)
        out += [vec("norm1", "layernorm", tokens * dim, "layer_norm"),
                Layer(p + "attn.qkv", g, m=tokens, n=3 * dim, k=dim, w_bits=bits, a_bits=bits, label="linear"),
                Layer(p + "attn.qk", g, m=tokens, n=tokens, k=hd, batch=heads, b_is_activation=True,
                      w_bits=bits, a_bits=bits, label="attn_qk"),
                vec("attn.softmax", "exp_softmax", heads * tokens * tokens, "softmax"),
                Layer(p + "attn.av", g, m=tokens, n=hd, k=tokens, batch=heads, b_is_activation=True,
                      w_bits=bits, a_bits=bits, label="attn_av"),
                Layer(p + "attn.proj", g, m=tokens, n=dim, k=dim, w_bits=bits, a_bits=bits, label="linear"),
                vec("add1", "eltwise", tokens * dim, "add", a=2 * tokens * dim),
                vec("norm2", "layernorm", tokens * dim, "layer_norm"),
                Layer(p + "mlp.fc1", g, m=tokens, n=mlp, k=dim, w_bits=bits, a_bits=bits, label="linear"),
                vec("mlp.act", "gelu", tokens * mlp, "gelu"),
                Layer(p + "mlp.fc2", g, m=tokens, n=dim, k=mlp, w_bits=bits, a_bits=bits, label="linear"),
                vec("add2", "eltwise", tokens * dim, "add", a=2 * tokens * dim)]
    out += [Layer("norm", v, vector_family="layernorm", elems=tokens * dim, a_bits=bits, label="layer_norm"),
            Layer("head", g, m=1, n=1000, k=dim, w_bits=bits, a_bits=bits, label="linear")]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    workload = Workload.from_layers(vit_base_layers())
    print(f"workload: {len(workload)} layers, {int(workload.macs.sum()):,} MACs")
    print(f"{'preset':18s} {'cold ms':>9s} {'warm ms':>9s} {'points/s':>9s} {'latency ms':>11s} "
          f"{'util':>6s} {'energy mJ':>10s}")
    for name, _ in list_presets():
        accel = load_accelerator(name)
        start = time.perf_counter()
        result = simulate(workload, accel)
        cold = time.perf_counter() - start
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            simulate(workload, accel)
            times.append(time.perf_counter() - start)
        warm = statistics.median(times)
        print(f"{name:18s} {cold * 1e3:9.2f} {warm * 1e3:9.3f} {1 / warm:9.0f} "
              f"{result.latency_ms:11.3f} {result.utilization:6.3f} {result.energy_mj:10.3f}")


if __name__ == "__main__":
    main()
