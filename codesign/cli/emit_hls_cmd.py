"""`codesign emit-hls MODEL --accel PRESET --device BOARD --precision SPEC -o DIR`: a Vitis HLS project.

Or `--from-results FILE --row N`: the design point of one sweep/search result row (see
codesign/search/row_design.py for the columns read). Flags given on the command line win over the row.
"""
from __future__ import annotations

import json

from accel_sim.errors import UserError
from codesign.cli.arg_types import int_option
from codesign.cli.compression_args import add_compression_arguments


def add_parser(sub) -> None:
    p = sub.add_parser("emit-hls", help="write a Vitis HLS project for a design point")
    p.add_argument("model", nargs="?", default=None,
                   help="timm model name or pkg.module:factory (or give --from-results)")
    p.add_argument("--input-size", default=None, metavar="C,H,W", help="input size (default: the model's own)")
    p.add_argument("--batch", type=int_option("--batch"), default=None, help="batch size (default 1)")
    p.add_argument("--accel", default=None, help="preset name or accelerator YAML (default: zcu102)")
    p.add_argument("--device", default=None, metavar="BOARD",
                   help="FPGA board or part for set_part (default: the accelerator's name when it is a board)")
    p.add_argument("--dataflow", default=None, help="ws, os or is for every layer (default: the accelerator's)")
    p.add_argument("--layer-dataflow", default=None, metavar="GLOB=DF,...", help="per-op dataflow overrides")
    p.add_argument("--mapping", default=None, choices=("hls", "searched"),
                   help="the Schedule whose tiles (m, n, k and loop order) are emitted: hls (the simulator's "
                   "mapping of the templates, every op its own layer; the default for a MODEL) or searched (the "
                   "searched tiles, fused ops still run as their own layers; a results row's default: what the "
                   "sweep or search evaluated)")
    add_compression_arguments(p)
    p.add_argument("--layers", default=None, metavar="GLOB,...",
                   help="ops to emit, e.g. 'blocks.0.*', each tested on its own data (default: the whole network, "
                   "run end to end in one testbench)")
    p.add_argument("--tb-layers", default=None, metavar="GLOB,...|all",
                   help="with --layers: layers the testbench runs (default: the first of each op kind and precision)")
    p.add_argument("--from-results", default=None, metavar="FILE",
                   help="take the design point from a sweep/search result file (CSV, JSONL or JSON)")
    p.add_argument("--row", type=int_option("--row"), default=None, metavar="N", help="0-based row of --from-results")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="project directory to write")
    p.add_argument("--force", action="store_true", help="write into a non-empty output directory")
    p.add_argument("--seed", type=int_option("--seed"), default=0,
                   help="seed of the testbench data: the seeded weights and input, or which test images (default 0)")
    p.add_argument("--images", type=int_option("--images"), default=None, metavar="N",
                   help="with trained weights (a reference model's, or --checkpoint): test images the whole-network "
                   "testbench runs one after another, top-1 compared with the torch fake-quantised model (default 8)")
    p.add_argument("--checkpoint", default=None,
                   help="trained weights (.pt/.pth state dict or .safetensors) for the whole-network testbench "
                   "(reference models use their own)")
    p.add_argument("--dataset", default=None, metavar="DIR|FILE.npz",
                   help="labelled images for --checkpoint (class subfolders or an .npz): calibration and test "
                   "images (without it: seeded noise, no labels)")
    p.add_argument("--json", action="store_true", help="print what was written as JSON")
    p.add_argument("--csim", action="store_true",
                   help="then compile the testbench with g++ and run it (C simulation against the golden model)")
    p.set_defaults(run=run)


def _design(args):
    """The DesignPoint to emit: a results row's (--from-results, --row) or the command line's; the
    options given on the command line win over the row."""
    import dataclasses

    import codesign
    from accel_sim.loading import load_accelerator
    from codesign.cli.compression_args import compression_over
    from codesign.design import DesignPoint
    from codesign.scheduler import parse_overrides

    design = results_row(args)
    if design is None:
        design = DesignPoint(model=args.model, accelerator=load_accelerator(args.accel or "zcu102"), mapping="hls")
    compression = compression_over(args, design.compression)
    changes = {"model": args.model, "input_size": args.input_size, "batch": args.batch, "dataflow": args.dataflow,
               "device": args.device, "mapping": args.mapping,
               "accelerator": load_accelerator(args.accel) if args.accel else None,
               "layer_dataflows": tuple(parse_overrides(args.layer_dataflow).items()) or None,
               "compression": compression}
    design = dataclasses.replace(design, **{k: v for k, v in changes.items() if v is not None})
    if design.device is None:
        device = codesign.board_of(design.accelerator)
        if device is None:
            raise UserError(f"--device is needed: accelerator {design.accelerator.name!r} is not a board name "
                            f"(see `codesign devices`)")
        design = dataclasses.replace(design, device=device)
    return design


def results_row(args):
    """The DesignPoint of `--from-results FILE --row N`, or None when neither is given (then MODEL is needed)."""
    if args.from_results is not None:
        if args.row is None:
            raise UserError("--from-results needs --row N (0-based)")
        from codesign.search.row_design import design_from_row
        return design_from_row(args.from_results, args.row)
    if args.row is not None:
        raise UserError("--row needs --from-results FILE")
    if args.model is None:
        raise UserError("give a MODEL (timm name or pkg.module:factory) or --from-results FILE --row N")
    return None


def run(args) -> int:
    from codesign.hls import emit_design

    result = emit_design(_design(args), layers=args.layers, tb_layers=args.tb_layers, out_dir=args.output,
                         force=args.force, seed=args.seed, verify_ir=args.verify_ir or None, images=args.images,
                         checkpoint=args.checkpoint, dataset=args.dataset)
    csim = _csim(result.out_dir) if args.csim else None
    trained = result.network.trained if result.network is not None else None
    top1 = csim_top1(result.out_dir, trained) if csim is not None and trained is not None else None
    if args.json:
        data = result.to_dict()
        if csim is not None:
            data["csim"] = {"passed": csim.passed, "cases": [vars(c) for c in csim.cases], "top1": top1}
        print(json.dumps(data, indent=1))
        return 0 if csim is None or csim.passed else 1
    table = result.table
    hw = table.hw
    print(f"{result.design['model']} -> {result.out_dir}")
    print(f"  {len(table.entries)} layers, {len(table.variants)} kernel variants, "
          f"precision {result.design['precision']}")
    print(f"  {hw.accel_name}: {hw.pe_rows}x{hw.pe_cols} PEs, {hw.default_dataflow}, {hw.clock_mhz:g} MHz on "
          f"{hw.device_name} ({hw.part})")
    what = (f"the whole network ({len(table.entries)} layers) in one call per image" if result.network is not None
            else f"{len(result.cases)} layer(s)")
    print(f"  testbench: {what}; run `vitis_hls -f {result.out_dir}/run_hls.tcl`, or see "
          f"{result.out_dir}/README.md for g++")
    if trained is not None:
        print(f"  data: the weights of {trained.source['weights']}, {len(trained.inputs)} images "
              f"(data set: {trained.source['dataset']})")
    if csim is None:
        return 0
    network = result.network is not None
    for case in csim.cases:
        if network and case.passed:
            continue                      # the whole network: only the layers that differ, then a summary
        print(f"  csim {case.ident:32s} {case.elems:>8,} elements, max |diff| {case.max_abs_diff} LSB, "
              f"{case.mismatches} out of tolerance: {'pass' if case.passed else 'FAIL'}")
    if network:
        exact = sum(c.passed for c in csim.cases)
        images = result.network.images
        print(f"  csim the whole network in one call per image: {exact} of {len(table.entries)} layers and the "
              f"{result.network.logits.size:,} logits of {images} image{'s' if images > 1 else ''} equal the integer "
              f"reference bit for bit" if csim.passed else
              f"  csim the whole network in one call: {exact} of {len(table.entries)} layers bit-exact")
    if top1 is not None:
        print(f"  csim top-1 on {top1['images']} images: {top1['top1_agree']} agree with the torch fake-quantised "
              f"model" + (f"; labels: C++ {top1['hls_correct']}, torch {top1['torch_correct']} correct"
                          if "hls_correct" in top1 else "")
              + f"; logits (code x {top1['logit_scale']:.4g}) within {top1['logit_max_abs_error']:.3g} of torch's "
              f"({100 * top1['logit_max_error_over_range']:.1f} % of the logit range)")
        print(f"    C++   {' '.join(map(str, top1['hls_top1']))}\n    torch {' '.join(map(str, top1['torch_top1']))}"
              + (f"\n    label {' '.join(map(str, top1['labels']))}" if top1['labels'] is not None else ""))
    print(f"  C simulation (g++): {'passed' if csim.passed else 'FAILED'}")
    return 0 if csim.passed else 1


def csim_top1(out_dir: str, trained) -> dict:
    """The C++ testbench's top-1 (its logits file) against the torch fake-quantised model's and the labels."""
    import os

    import numpy as np

    from codesign.hls.trained import agreement

    path = os.path.join(out_dir, "build", "tb_out", "logits.out.i32")
    logits = np.fromfile(path, dtype="<i4") if os.path.isfile(path) else np.array([], dtype="<i4")
    if logits.size != trained.torch_logits.size:
        raise UserError(f"the testbench wrote {logits.size} logits to {path}, expected {trained.torch_logits.size}")
    return agreement(trained, logits)


def _csim(out_dir: str):
    from codesign.hls.compile import build_and_run
    from codesign.progress import step

    with step("compiling and running the testbench with g++"):
        return build_and_run(out_dir)
