"""`codesign sweep SPACE.yaml`: a grid or random sweep, streamed to CSV/JSONL, resumable, then its front.

Runs in a local process pool (`--workers`), in this process (`--workers 1`) or on Dask (`--dask ADDRESS`).
"""
from __future__ import annotations

import json

from codesign.cli.arg_types import int_option


def add_output_arguments(p) -> None:
    """--plot and --json, shared by sweep, search and pareto (`--quiet` is every command's)."""
    p.add_argument("--plot", default=None, metavar="DIR",
                   help="write front_latency_energy.png (and front_dsp_latency.png) to DIR")
    p.add_argument("--json", action="store_true", help="print the summary and the front as JSON")


def add_device_argument(p) -> None:
    """--device, shared by sweep and search."""
    p.add_argument("--device", default=None, metavar="BOARD",
                   help="fix the FPGA device (overrides accelerator.device; the design must fit it)")


def check_outputs(args) -> None:
    """--plot DIR and -o FILE checked before the work starts."""
    from codesign.boundary.outputs import check_output_dir, check_output_file
    if args.plot:
        check_output_dir(args.plot, "--plot")
    if getattr(args, "results", None):
        check_output_file(args.results, "-o/--results")


def front_plots(args, result) -> list[str]:
    """The --plot files of a sweep or search result (none without --plot)."""
    if not args.plot:
        return []
    from codesign.search.plots import write_front_plots
    from codesign.search.results_io import read_results
    _, rows = read_results(result.results_path)
    return write_front_plots(rows, result.front, result.objectives, args.plot)


def show_progress() -> bool:
    """A progress bar only on a terminal and without --quiet, like the other commands' progress lines."""
    from codesign.progress import enabled
    return enabled()


def add_parser(sub) -> None:
    p = sub.add_parser("sweep", help="evaluate every point (or a sample) of a design space")
    p.add_argument("space", metavar="SPACE.yaml", help="the design space (see examples/spaces/)")
    p.add_argument("-o", "--results", default=None, metavar="FILE.csv|FILE.jsonl",
                   help="results file, one row per point, appended as they arrive; an existing one is "
                        "resumed (default: SPACE.sweep.csv in the current directory)")
    p.add_argument("--samples", type=int_option("--samples", maximum=10**9), default=None, metavar="N",
                   help="evaluate N points drawn at random (default: the whole grid)")
    p.add_argument("--seed", type=int_option("--seed"), default=0, help="seed of --samples (default 0)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int_option("--workers"), default=None, metavar="N",
                       help="local worker processes (default: one per core; 1 runs in this process)")
    where.add_argument("--dask", default=None, metavar="ADDRESS",
                       help="run on a Dask cluster, e.g. tcp://10.0.0.5:8786 (`dask scheduler`, `dask worker`)")
    add_device_argument(p)
    add_output_arguments(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from codesign.search.pareto import front_table
    from codesign.search.sweep import run_sweep

    check_outputs(args)
    result = run_sweep(args.space, args.results, samples=args.samples, seed=args.seed, workers=args.workers,
                       dask=args.dask, device=args.device, quiet=not show_progress())
    plots = front_plots(args, result)
    if args.json:
        print(json.dumps({**result.to_dict(), "plots": plots}, indent=1))
        return 0
    print(front_table(result.front, result.columns, result.objectives, result.points, result.feasible))
    rate = result.timing.get("points_per_s")
    speed = f" at {rate:,.0f} points/s" if rate else ""
    print(f"\n{result.evaluated:,} points evaluated{speed}, {result.resumed:,} resumed from the results file"
          + (f", {result.errors:,} could not be simulated (see the error column)" if result.errors else ""))
    print("results: " + ", ".join([result.results_path, *result.front_paths, *plots]))
    return 0
