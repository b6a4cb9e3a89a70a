"""`codesign export-qonnx MODEL -o FILE.onnx --precision SPEC --prune-heads F`: the compressed model as QONNX.

Or `--from-results FILE --row N` for a sweep/search row's design point; `--check N` runs the file with qonnx.
"""
from __future__ import annotations

import json

from accel_sim.inputs.numbers import LIMITS
from codesign.cli.arg_types import int_option
from codesign.cli.compression_args import (add_compression_arguments, compression_of, compression_over,
                                           reported_policy_warnings)


def add_parser(sub) -> None:
    p = sub.add_parser("export-qonnx", help="write a compressed model as a QONNX file (Quant nodes, pruned "
                                            "heads and MLP units removed)")
    p.add_argument("model", nargs="?", default=None,
                   help="timm model name, reference model (see `codesign models`) or pkg.module:factory (or give "
                        "--from-results)")
    p.add_argument("--input-size", default=None, metavar="C,H,W",
                   help="input size as H, H,W or C,H,W (default: the model's own)")
    add_compression_arguments(p)
    p.add_argument("--checkpoint", default=None, help="weights file (default: a reference model's own, else "
                                                      "timm's seeded init)")
    p.add_argument("--calibration", default=None, metavar="DIR",
                   help="images the activation ranges are calibrated on (default: a reference model's "
                        "calibration split, else --samples seeded random images)")
    p.add_argument("--samples", type=int_option("--samples"), default=None,
                   help="calibration images of a model without labelled data (default 16, as fidelity)")
    p.add_argument("--seed", type=int_option("--seed"), default=0, help="seed of the init and random images")
    p.add_argument("--check", type=int_option("--check", maximum=LIMITS["samples"].high), default=None,
                   metavar="N", help="run the file with qonnx on N images (a reference model's test images, "
                                     "else seeded random ones) and compare with the torch model")
    p.add_argument("--from-results", default=None, metavar="FILE",
                   help="take the model, input size and compression from a sweep/search result file (CSV, JSONL or "
                        "JSON); options given on the command line win over the row")
    p.add_argument("--row", type=int_option("--row"), default=None, metavar="N", help="0-based row of --from-results")
    p.add_argument("-o", "--output", required=True, metavar="FILE.onnx", help="QONNX file to write")
    p.add_argument("--json", action="store_true", help="print what was written (and the check) as JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    import codesign
    from codesign.cli.emit_hls_cmd import results_row

    row = results_row(args)             # a results row's design point: the options given win over it
    model, compression, input_size = args.model, compression_of(args), args.input_size
    if row is not None:
        model, compression = model or row.model, compression_over(args, row.compression)
        input_size = input_size or row.input_size
    with reported_policy_warnings():
        result = codesign.export_qonnx(model, args.output, precision=compression.precision,
                                       prune_heads=compression.pruning, input_size=input_size,
                                       checkpoint=args.checkpoint, calibration=args.calibration,
                                       samples=args.samples, seed=args.seed, check=args.check or 0,
                                       verify_ir=args.verify_ir or None)
    check = result.agreement
    if args.json:
        print(json.dumps(result.to_dict(), indent=1))
    else:
        print(f"{result.model} -> {result.path}")
        quantisers = ", ".join(f"{n} {k}" for k, n in result.quant_nodes.items()) or "none (float)"
        print(f"  {result.nodes} nodes; QONNX quantisers: {quantisers}")
        chosen = {k: v for k, v in result.compression.items() if v is not None}
        if chosen:
            print("  compression: " + ", ".join(f"{k} {v}" for k, v in chosen.items()))
        if result.kept_heads or result.kept_units:
            print(f"  removed: heads ranked by {result.importance}, "
                  f"{sum(len(h) for h in result.kept_heads.values())} heads kept in {len(result.kept_heads)} "
                  f"attentions, {sum(result.kept_units.values())} MLP units kept in {len(result.kept_units)} MLPs")
        print(f"  activation ranges calibrated on {result.calibration}; exported in {result.export_s:.1f} s")
        if check is not None:
            print(render_check(check))
    return 0 if check is None or check.passed else 1


def render_check(check) -> str:
    lines = [f"  qonnx check on {check.images} images ({check.source}), executed in {check.qonnx_s:.1f} s:",
             f"    max |logit diff| {check.max_abs_diff:.3g} = {check.relative_diff:.2g} of the logit range "
             f"{check.logit_range:.3g} (tolerance {check.tolerance:g}); top-1 agreement {check.top1_agreement:.0%}"]
    if check.torch_correct is not None:
        lines.append(f"    top-1 correct: torch {check.torch_correct}/{check.images}, "
                     f"qonnx {check.qonnx_correct}/{check.images}")
    lines.append(f"  check: {'passed' if check.passed else 'FAILED'}")
    if not check.passed:
        lines.append("  (float32 sums in onnxruntime and torch differ in the last bit; a value pushed across a Quant "
                     "node's rounding boundary moves one step and deep random-weight models amplify it: see "
                     "docs/qonnx.md)")
    return "\n".join(lines)
