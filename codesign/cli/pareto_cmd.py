"""`codesign pareto RESULTS`: the Pareto front of a sweep's results or an exported study, on any objectives.

Feasibility is read from the file's `feasible` column; objectives default to the ones it was made with.
"""
from __future__ import annotations

import json

from codesign.cli.sweep_cmd import add_output_arguments


def add_parser(sub) -> None:
    p = sub.add_parser("pareto", help="the Pareto front of a results file")
    p.add_argument("results", metavar="RESULTS.csv|.jsonl", help="from `codesign sweep` or `codesign search`")
    p.add_argument("--objectives", default=None, metavar="M1,M2,...",
                   help="metrics to trade off, e.g. latency_ms,energy_mj,fidelity (default: the file's)")
    p.add_argument("--out", default=None, metavar="STEM", help="also write STEM.csv and STEM.json")
    add_output_arguments(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from accel_sim.errors import UserError
    from codesign.search.pareto import check_objectives, front_table, pareto_front, write_front
    from codesign.search.results_io import read_results
    from codesign.search.space import read_objective_names

    from codesign.boundary.outputs import check_output_dir, check_output_file
    if args.plot:
        check_output_dir(args.plot, "--plot")
    if args.out:
        check_output_file(args.out + ".csv", "--out")
    columns, rows = read_results(args.results)
    if not rows:
        raise UserError(f"results file {args.results!r} has no rows")
    if args.objectives is not None:
        objectives = read_objective_names(args.objectives)
    elif rows[0].get("objectives"):
        objectives = read_objective_names(rows[0]["objectives"])
    else:
        raise UserError("the results file does not name its objectives; pass --objectives")
    check_objectives(columns, objectives)
    front = pareto_front(rows, objectives)
    written = write_front(front, columns, objectives, args.out) if args.out else []
    if args.plot:
        from codesign.search.plots import write_front_plots
        written += write_front_plots(rows, front, objectives, args.plot)
    feasible = sum(1 for r in rows if r.get("feasible"))
    if args.json:
        print(json.dumps({"objectives": list(objectives), "points": len(rows), "feasible": feasible,
                          "front": front, "files": written}, indent=1))
        return 0
    print(front_table(front, columns, objectives, len(rows), feasible))
    if written:
        print("\nwritten: " + ", ".join(written))
    return 0
