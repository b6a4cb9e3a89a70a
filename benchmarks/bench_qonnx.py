"""QONNX export of a compressed design point: export time, qonnx execution time, and agreement with the torch
fake-quantised model (max logit difference, top-1), plus where the two part ways.

    OMP_WAIT_POLICY=PASSIVE python benchmarks/bench_qonnx.py [MODEL] [--precision w4a4] [--prune-heads 0.5]
                                                             [--images 8] [--out out/bench_qonnx] [--controls]

MODEL defaults to deit_tiny_patch16_224 (random init: no weights can be downloaded); check images are seeded
N(0, 1) ones (a reference model's own test images for ref_vit_mnist). With --controls, the same model at
w16a16 (no Quant node) and the trained ref_vit_mnist at the same compression are measured too.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np


def diverging_sites(compressed, path: str, image) -> list[tuple[str, int, int, float]]:
    """Per activation Quant node, in graph order: (node, values that differ from torch by half a step or
    more, values, largest difference in steps), on one image. Torch sites are matched to nodes by their
    scale and shape (a site's calibrated scale is its Quant node's scale input)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    seen = []
    for site in (q for q in compressed.compressor.quants if q.active):
        def record(x, site=site, own=site.quantize):
            y = own(x)
            seen.append((site, y.detach().numpy()))
            return y
        site.quantize = record
    compressed(image[None])
    for site, _ in seen:
        site.__dict__.pop("quantize", None)
    wrapper = ModelWrapper(path)
    context = execute_onnx(wrapper, {wrapper.graph.input[0].name: image[None].numpy()}, return_full_exec_context=True)
    rows, unmatched = [], list(seen)
    for node in wrapper.graph.node:
        if node.op_type != "Quant" or wrapper.get_initializer(node.input[0]) is not None:
            continue
        got, scale = context[node.output[0]], float(wrapper.get_initializer(node.input[1]))
        match = next((i for i, (site, y) in enumerate(unmatched)
                      if y.shape == got.shape and np.isclose(site.scale, scale, rtol=1e-6)), None)
        if match is None:
            continue
        site, expected = unmatched.pop(match)
        steps = np.abs(got - expected) / site.scale
        rows.append((node.name, int((steps >= 0.5).sum()), got.size, float(steps.max())))
    return rows


def measure(model: str, precision: str, prune_heads: str | None, images: int, out: str, sites: bool) -> None:
    from codesign.fidelity.qonnx_check import agreement, check_images
    from codesign.fidelity.qonnx_export import compressed_model, write_qonnx
    from codesign.transforms import Compression

    path = os.path.join(out, f"{model}_{precision}_h{prune_heads or 1}.onnx")
    start = time.perf_counter()
    compressed = compressed_model(model, Compression.of(precision, prune_heads))
    built = time.perf_counter() - start
    written = write_qonnx(compressed, path)
    check = agreement(compressed, path, images)
    print(f"{model} {precision} prune-heads {prune_heads or 'none'} -> {path}")
    print(f"  {written.nodes} nodes, quantisers {written.quant_nodes}; kept heads ranked by {written.importance}; "
          f"ranges calibrated on {written.calibration}")
    print(f"  compress and calibrate {built:.1f} s; export {written.export_s:.1f} s; qonnx execution "
          f"{check.qonnx_s:.1f} s for {check.images} images ({check.qonnx_s / check.images:.2f} s per image)")
    print(f"  check images {check.source}: max |logit diff| {check.max_abs_diff:.3g}, logit range "
          f"{check.logit_range:.3g}, relative {check.relative_diff:.2g} (tolerance {check.tolerance:g}); "
          f"top-1 agreement {round(check.top1_agreement * check.images)}/{check.images}"
          + (f"; top-1 correct torch {check.torch_correct}, qonnx {check.qonnx_correct}"
             if check.torch_correct is not None else ""))
    if sites and written.quant_nodes:
        image = check_images(model, compressed.input_shape, images)[0][check.worst_image]
        rows = diverging_sites(compressed, path, image)
        first = next((r for r in rows if r[1]), None)
        where = f"first difference at {first[0]} ({first[1]} of {first[2]:,} values)" if first else "no value differs"
        print(f"  image {check.worst_image} (the largest difference), {len(rows)} activation Quant nodes matched: "
              f"{where}")
        for name, differ, size, worst in rows[::max(len(rows) // 8, 1)] + rows[-1:]:
            print(f"    {name:10s} {differ:7,} of {size:9,} values differ ({differ / size:.2%}), at most "
                  f"{worst:.1f} steps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="deit_tiny_patch16_224")
    parser.add_argument("--precision", default="w4a4")
    parser.add_argument("--prune-heads", default="0.5")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--out", default="out/bench_qonnx")
    parser.add_argument("--controls", action="store_true")
    args = parser.parse_args()
    measure(args.model, args.precision, args.prune_heads, args.images, args.out, sites=True)
    if args.controls:
        measure(args.model, "w16a16", args.prune_heads, 2, args.out, sites=False)
        measure("ref_vit_mnist", args.precision, args.prune_heads, 16, args.out, sites=True)


if __name__ == "__main__":
    main()
