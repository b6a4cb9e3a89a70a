"""The whole network through the emitted HLS: emit, g++ C-simulation (logits bit-exact against the
integer reference) and the counting build's cycles per layer against the simulator's, for one design point.

    python benchmarks/bench_hls_network.py [MODEL] [--precision w8a8,w4a4] [--accel zcu102] [--device zcu102]
                                           [--mapping hls] [--out out/bench_hls] [--table FILE.md] [--images N]
                                           [--no-cycles]

Prints the times of each step, the bit-exactness verdict, for a model with trained weights (ref_vit_mnist,
ref_resnet_mnist) the C++ top-1 on N test images beside the torch fake-quantised model's, and (for the
first precision or --count, unless --no-cycles) a markdown table of counted and simulated cycles per layer of the
first block plus the network totals.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "-"


def cycles_table(result, cycles) -> str:
    """Per layer of block 0 (and the layers outside blocks), then totals by op kind and overall."""
    entries = {e.index: e for e in result.table.entries}
    lines = ["| layer | kind | tiles (m x n x k) | counted | simulated | counted / simulated "
             "| counted load / compute / store (no overlap) | simulated compute |",
             "|---|---|---|---:|---:|---:|---|---:|"]
    for c in cycles:
        e = entries[c.layer]
        name = e.op.name
        if name.startswith("blocks.") and not name.startswith("blocks.0."):
            continue
        v = e.values
        tiles = f"{v['tile_m']} x {v['tile_n']} x {v['tile_k']}" if e.op.on_pe_array else "vector unit"
        stages = f"{c.load} / {c.compute} / {c.store}" if e.op.on_pe_array else "-"
        lines.append(f"| `{name}` | {e.op.kind.value} | {tiles} | {c.counted:,} | {c.simulated:,} | "
                     f"{_ratio(c.counted, c.simulated)} | {stages} | {e.sim['compute_cycles']:,} |")
    by_kind: dict = {}
    for c in cycles:
        kind = entries[c.layer].op.kind.value
        total = by_kind.setdefault(kind, [0, 0])
        total[0] += c.counted
        total[1] += c.simulated
    lines.append("")
    lines.append("| op kind (whole network) | counted | simulated | counted / simulated |")
    lines.append("|---|---:|---:|---:|")
    for kind, (counted, simulated) in sorted(by_kind.items(), key=lambda kv: -kv[1][0]):
        lines.append(f"| {kind} | {counted:,} | {simulated:,} | {_ratio(counted, simulated)} |")
    counted = sum(c.counted for c in cycles)
    simulated = sum(c.simulated for c in cycles)
    lines.append(f"| **network** | **{counted:,}** | **{simulated:,}** | **{_ratio(counted, simulated)}** |")
    ratios = sorted((c.counted / c.simulated, entries[c.layer].op.name) for c in cycles if c.simulated > 0)
    within = sum(1 for r, _ in ratios if abs(r - 1.0) <= 0.10)
    lines.append("")
    lines.append(f"{within} of {len(ratios)} layers within +-10 % of the simulator; lowest "
                 f"{ratios[0][0]:.2f} ({ratios[0][1]}), highest {ratios[-1][0]:.2f} ({ratios[-1][1]})")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", nargs="?", default="deit_tiny_patch16_224")
    p.add_argument("--precision", default="w8a8,w4a4")
    p.add_argument("--accel", default="zcu102")
    p.add_argument("--device", default="zcu102")
    p.add_argument("--mapping", default="hls")
    p.add_argument("--input-size", default=None)
    p.add_argument("--out", default="out/bench_hls")
    p.add_argument("--table", default=None, help="also write the cycles table to this markdown file")
    p.add_argument("--count", default=None, help="the precision to run the counting build at (default: the first)")
    p.add_argument("--images", type=int, default=None, help="test images of a model with trained weights (default 8)")
    p.add_argument("--no-cycles", action="store_true", help="skip the counting build")
    args = p.parse_args(argv)
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))   # fixture_models:* as models
    from codesign.frontend import extract
    from codesign import emit_hls
    from codesign.hls.compile import build, run
    from codesign.hls.trained import agreement

    start = time.perf_counter()
    graph = extract(args.model, input_size=args.input_size)
    print(f"{args.model}: {len(graph.ops)} ops, extracted in {time.perf_counter() - start:.1f} s")
    ok = True
    for precision in args.precision.split(","):
        out = os.path.join(args.out, precision)
        t0 = time.perf_counter()
        result = emit_hls(graph, accel=args.accel, device=args.device, precision=precision, out_dir=out,
                          force=True, mapping=args.mapping, images=args.images)
        t1 = time.perf_counter()
        exe = build(out)
        t2 = time.perf_counter()
        tb = run(out, exe)
        t3 = time.perf_counter()
        logits = np.fromfile(os.path.join(out, "build", "tb_out", "logits.out.i32"), dtype="<i4")
        exact = tb.passed and np.array_equal(logits, result.network.logits.reshape(-1))
        ok &= exact
        print(f"{precision}: emit {t1 - t0:.1f} s, g++ -O2 {t2 - t1:.1f} s, C-simulation of {len(tb.cases)} layers "
              f"x {result.network.images} image(s) {t3 - t2:.1f} s; every layer and the {logits.size} logits "
              f"bit-exact: {exact}")
        if result.network.trained is not None:
            top1 = agreement(result.network.trained, logits)
            print(f"{precision}: top-1 of C++ and torch fake-quantised agree on {top1['top1_agree']} of "
                  f"{top1['images']} test images; correct: C++ {top1.get('hls_correct')}, torch "
                  f"{top1.get('torch_correct')}; images with tied top logit codes {top1['tied_top_codes']}; "
                  f"logit error max {top1['logit_max_abs_error']:.3f} (mean {top1['logit_mean_abs_error']:.3f}, "
                  f"at most {100 * top1['logit_max_error_over_range']:.1f} % of an image's torch logit range), "
                  f"one logit code = {top1['logit_scale']:.4f}")
        if precision == (args.count or args.precision.split(",")[0]) and not args.no_cycles:
            t4 = time.perf_counter()
            counting = run(out, build(out, counting=True))
            print(f"{precision}: counting build and run {time.perf_counter() - t4:.1f} s")
            table = cycles_table(result, counting.cycles)
            print(table)
            if args.table:
                with open(args.table, "w") as fh:
                    fh.write(f"<!-- {args.model} at {precision} on {args.accel}, mapping {args.mapping}: "
                             f"python benchmarks/bench_hls_network.py -->\n{table}\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
