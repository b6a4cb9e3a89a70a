"""`codesign simulate MODEL --accel PRESET|FILE`: per-layer cycles, stalls, energy and DRAM traffic.

MODEL is a timm name, `pkg.module:factory`, or a SCALE-Sim topology CSV; `--accel` a preset,
our YAML or a SCALE-Sim .cfg. `--json`/`--csv` for machines, `--plot DIR` for PNGs.
"""
from __future__ import annotations

import json

from accel_sim.errors import UserError
from codesign.cli.compression_args import add_compression_arguments, compression_of, reported_policy_warnings
from codesign.cli.inspect_cmd import add_model_arguments
from codesign.report import human, table, to_csv

CSV_FIELDS = ["name", "kind", "dataflow", "macs", "cycles", "compute_cycles", "stall_cycles", "utilization",
              "latency_ms", "energy_pj", "mac_pj", "rf_pj", "buffer_pj", "dram_pj", "vector_pj", "dram_bytes",
              "dram_ifmap_bytes", "dram_weight_bytes", "dram_ofmap_bytes", "array", "peak_macs_per_cycle",
              "tile_m", "tile_n", "tile_k", "loop_order", "fused_into", "input_on_chip", "output_on_chip",
              "compulsory_dram_bytes"]


def add_parser(sub) -> None:
    p = sub.add_parser("simulate", help="simulate a model on an accelerator")
    add_model_arguments(p)
    add_compression_arguments(p)
    p.add_argument("--fidelity", action="store_true",
                   help="also measure the compressed model: top-1 accuracy with trained weights and labelled "
                        "data, else the cosine of its logits to the float model's")
    p.add_argument("--checkpoint", default=None, help="weights file for --fidelity (default: a reference "
                                                      "model's own, else seeded init)")
    p.add_argument("--dataset", default=None, metavar="DIR|FILE.npz",
                   help="labelled images for --fidelity: one subfolder per class, or an .npz of images and labels")
    p.add_argument("--finetune", type=int, default=0, metavar="EPOCHS",
                   help="straight-through fine-tuning of the compressed model for --fidelity (needs labels)")
    p.add_argument("--calibration", default=None, metavar="DIR", help="images for --fidelity")
    p.add_argument("--evaluator", default=None, metavar="PKG.MOD:FUNC",
                   help="your own score for --fidelity (e.g. task accuracy)")
    p.add_argument("--accel", default="zcu102", help="preset name (see `codesign presets`), accelerator "
                   "YAML or SCALE-Sim .cfg (default: zcu102)")
    p.add_argument("--dataflow", default=None, help="ws, os, is or rs for every layer (default: the accelerator's)")
    p.add_argument("--layer-dataflow", default=None, metavar="GLOB=DF,...",
                   help="per-op dataflow overrides, e.g. 'blocks.*.attn.qk=os'")
    p.add_argument("--mapping", default="searched", choices=("searched", "scalesim", "hls"),
                   help="searched: per-layer tiling, loop order, fusion and on-chip residency found by "
                   "search (default); scalesim: SCALE-Sim's fixed mapping, cycle for cycle; hls: the tiles "
                   "emit-hls emits")
    p.add_argument("--objective", default="latency", choices=("latency", "energy", "edp"),
                   help="what the mapping search minimises (default: latency)")
    p.add_argument("--device", default=None, metavar="BOARD",
                   help="also estimate the FPGA resources on this board or part (see `codesign devices`)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON")
    fmt.add_argument("--csv", action="store_true", help="print one CSV row per layer")
    fmt.add_argument("--summary", action="store_true", help="print only the totals")
    p.add_argument("--plot", default=None, metavar="DIR", help="write roofline.png and breakdown.png to DIR")
    p.set_defaults(run=run)


def run(args) -> int:
    import codesign
    from codesign.boundary.outputs import check_output_dir
    from codesign.scheduler import parse_overrides
    from codesign.simulation import FidelityOptions, is_topology_file

    options = {"checkpoint": args.checkpoint, "dataset": args.dataset, "calibration": args.calibration,
               "evaluator": args.evaluator, "finetune": args.finetune}
    FidelityOptions.asked(args.fidelity, lambda name: "--" + name, **options)    # in the command's words
    if is_topology_file(args.model) and (args.input_size is not None or args.batch != 1):
        raise UserError("--input-size and --batch need a model; a SCALE-Sim topology states its own layers")
    if args.plot:
        check_output_dir(args.plot, "--plot")
    compression = compression_of(args)
    with reported_policy_warnings():
        sim = codesign.simulate(args.model, args.accel, dataflow=args.dataflow,
                                layer_dataflows=parse_overrides(args.layer_dataflow), input_size=args.input_size,
                                batch=args.batch, device=args.device, precision=compression.precision,
                                prune_heads=compression.pruning, mapping=args.mapping, objective=args.objective,
                                fidelity=args.fidelity, verify_ir=args.verify_ir or None, **options)
    if args.plot:
        from codesign.plots import write_plots
        try:
            written = write_plots(sim, args.plot)
        except OSError as exc:
            raise UserError(f"--plot {args.plot!r}: cannot write there ({exc.strerror or exc})") from None
    if args.json:
        print(json.dumps(sim.to_dict(), indent=1))
    elif args.csv:
        rows = sim.result.layer_dicts()
        print(to_csv(CSV_FIELDS, [[row[f] for f in CSV_FIELDS] for row in rows]), end="")
    else:
        print(render(sim, summary_only=args.summary))
        if sim.fidelity is not None:
            print(render_fidelity(sim.fidelity.to_dict()))
        if args.plot:
            print("plots: " + ", ".join(written))
    return 0


def render(sim, summary_only: bool = False) -> str:
    r = sim.result
    a = sim.accelerator
    head = (f"{sim.model} on {a.name}: {a.pe_array.rows}x{a.pe_array.cols} PEs "
            f"({a.pe_array.dataflow.value} by default) at {a.clock_mhz:g} MHz, "
            f"DRAM {a.dram.bandwidth_gbps:g} GB/s")
    parts = [head + f"; mapping {sim.result.schedule.mapping} for {sim.result.schedule.objective}"]
    if not summary_only:
        lut = any(d["array"] == "lut" for d in r.layer_dicts())
        rows = [[d["name"], d["kind"], d["dataflow"] + ("/lut" if d["array"] == "lut" else ""),
                 human(d["macs"]) if d["macs"] else "-",
                 human(d["cycles"]), human(d["stall_cycles"]) if d["stall_cycles"] else "-",
                 f"{100 * d['utilization']:.1f}%" if d["macs"] else "-",
                 f"{d['energy_pj'] / 1e6:.3f}", human(d["dram_bytes"], "B"),
                 human(d["compulsory_dram_bytes"], "B"), mapping_note(d)] for d in r.layer_dicts()]
        parts.append(table(["layer", "kind", "df/lut" if lut else "df", "MACs", "cycles", "stalls", "util",
                            "energy µJ", "DRAM", "compulsory", "mapping (tile m x n x k, loops outer>inner)"],
                           rows, right={3, 4, 5, 6, 7, 8, 9}))
    t = r.to_dict()["totals"]
    e = t["energy_pj"]
    roof = t["roofline"]
    parts.append("\n".join([
        f"cycles      {t['cycles']:,} ({t['compute_cycles']:,} compute, {t['stall_cycles']:,} stall)",
        f"latency     {t['latency_ms']:.3f} ms   ({t['fps']:.1f} frames/s)",
        f"energy      {t['energy_mj']:.3f} mJ per inference  (MAC {e['mac_pj'] / 1e9:.3f}, RF "
        f"{e['rf_pj'] / 1e9:.3f}, buffers {e['buffer_pj'] / 1e9:.3f}, DRAM {e['dram_pj'] / 1e9:.3f}, "
        f"vector {e['vector_pj'] / 1e9:.3f} mJ)",
        f"DRAM        {human(t['dram_bytes'], 'B')} moved ({human(t['compulsory_dram_bytes'], 'B')} compulsory: "
        f"weights, inputs and outputs once, given what stays on chip)",
        f"utilisation {100 * t['utilization']:.1f}% of the array's peak at each layer's widths ({r.pes:,} PEs)",
        f"roofline    {roof['roofline_cycles']:,.0f} cycles ({roof['bound']}-bound); achieved "
        f"{t['cycles'] / max(roof['roofline_cycles'], 1):.2f}x the bound",
        "time        extract {extract_s:.2f} s, schedule {schedule_s:.3f} s, simulate {simulate_s:.3f} s".format(
            **sim.timing)]))
    if sim.resources is not None:
        parts.append(render_resources(sim.resources.to_dict()))
    return "\n\n".join(parts)


def mapping_note(d: dict) -> str:
    """One layer's mapping in a few words: its tiling and order, or what it was fused into."""
    if d["folded"]:
        return f"folded into {d['fused_into']}"
    if d["fused_into"]:
        return f"fused into {d['fused_into']}"
    notes = []
    if d["tile_m"] is not None:
        notes.append(f"{d['tile_m']}x{d['tile_n']}x{d['tile_k']} {d['loop_order']}")
    if d["fused_ops"]:
        notes.append("+" + ",".join(name.rsplit(".", 1)[-1] for name in d["fused_ops"]))
    flags = [w for w, on in (("in", d["input_on_chip"]), ("out", d["output_on_chip"])) if on]
    if flags:
        notes.append("on chip: " + "/".join(flags))
    return "; ".join(notes) or "-"


def render_resources(res: dict) -> str:
    """A few lines: used / available per resource, and whether the design fits."""
    names = {"dsp": "DSP", "bram18k": "BRAM18K", "uram": "URAM", "lut": "LUT", "ff": "FF"}
    cells = []
    for key in res["order"]:
        used, have, util = res["used"][key], res["available"][key], res["utilization"][key]
        share = "n/a" if util is None else f"{100 * util:.0f}%"
        cells.append(f"{names[key]} {used:,}/{have:,} ({share})")
    lines = [f"resources   on {res['device']} ({res['part']}): " + ", ".join(cells[:3]),
             "            " + ", ".join(cells[3:])]
    if res["fits"]:
        lines.append("            fits")
    else:
        key = res["first_overflow"]
        lines.append(f"            DOES NOT FIT on {res['device']}: {names[key]} overflows first "
                     f"({res['used'][key]:,} needed, {res['available'][key]:,} available)")
    return "\n".join(lines)


def render_fidelity(fid: dict) -> str:
    """Top-1 with its interval when measured (else the one-line note), then the secondary figures."""
    lines = []
    if fid.get("top1") is not None:
        low, high = fid["top1_ci95"]
        f_low, f_high = fid["float_top1_ci95"]
        epochs = fid.get("finetune_epochs") or 0
        tuned = f", fine-tuned {epochs} epoch{'s' if epochs > 1 else ''}" if epochs else ""
        lines.append(f"fidelity    top-1 {100 * fid['top1']:.1f}% (95% CI {100 * low:.1f}-{100 * high:.1f}) on "
                     f"{fid['test_images']} test images{tuned}; float {100 * fid['float_top1']:.1f}% "
                     f"({100 * f_low:.1f}-{100 * f_high:.1f})")
    elif fid.get("note"):
        lines.append(f"fidelity    {fid['note']}")
    keys = [k for k in ("top1_agreement", "cosine_similarity", "mean_sqnr_db", "cross_image_cosine") if k in fid]
    lines.append(("            " if lines else "fidelity    ")
                 + ", ".join(f"{k} {fid[k]:.4f}" if isinstance(fid[k], float) else f"{k} {fid[k]}" for k in keys))
    if fid.get("importance"):
        lines.append(f"            pruned by {fid['importance']} importance")
    return "\n".join(lines)
