"""`codesign search SPACE.yaml --trials N`: NSGA-II co-search of hardware and compression (Optuna).

The study is kept in SQLite (or any SQLAlchemy URL): it resumes, and several processes can share it.
"""
from __future__ import annotations

import json

from codesign.cli.arg_types import float_option, int_option
from codesign.cli.sweep_cmd import (add_device_argument, add_output_arguments, check_outputs, front_plots,
                                    show_progress)


def add_parser(sub) -> None:
    p = sub.add_parser("search", help="multi-objective search of a design space (NSGA-II)")
    p.add_argument("space", metavar="SPACE.yaml", help="the design space (see examples/spaces/)")
    p.add_argument("--trials", type=int_option("--trials"), required=True, metavar="N",
                   help="finished trials the study should have (a resumed study runs only the rest)")
    p.add_argument("--seed", type=int_option("--seed"), default=0, help="sampler seed: the same seed gives the same front")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="SQLAlchemy URL of the study database, e.g. sqlite:///study.db or "
                        "postgresql://user@host/db (default: sqlite:///SPACE.optuna.db)")
    p.add_argument("--study-name", default=None, metavar="NAME",
                   help="study name (default: the space file's name and a hash of its contents)")
    p.add_argument("--population", type=int_option("--population"), default=None, metavar="N", help="NSGA-II population (default 50)")
    p.add_argument("--target-fps", type=float_option("--target-fps"), default=None, metavar="FPS",
                   help="find the best-fidelity point reaching FPS frames/s (exit status 1 if none does)")
    add_device_argument(p)
    p.add_argument("-o", "--results", default=None, metavar="FILE.csv|FILE.jsonl",
                   help="export every evaluated point here (default: SPACE.search.csv)")
    add_output_arguments(p)
    p.set_defaults(run=run)


def run(args) -> int:
    from codesign.search.pareto import front_table
    from codesign.search.study import run_search

    check_outputs(args)
    result = run_search(args.space, args.trials, seed=args.seed, storage=args.storage, study_name=args.study_name,
                        target_fps=args.target_fps, device=args.device, population=args.population,
                        results=args.results, quiet=not show_progress())
    plots = front_plots(args, result)
    missed = result.target is not None and not result.target.met
    if args.json:
        print(json.dumps({**result.to_dict(), "plots": plots}, indent=1))
        return 1 if missed else 0
    print(front_table(result.front, result.columns, result.objectives, result.distinct_points, result.feasible))
    print(f"\nstudy {result.study_name!r} in {result.storage}: {result.trials} finished trials "
          f"({result.evaluated} by this run), {result.distinct_points} distinct points")
    print("results: " + ", ".join([result.results_path, *result.front_paths, *plots]))
    for note in result.notes:
        print(f"note: {note}")
    if result.target is not None:
        print("\n" + result.target.message)
    return 1 if missed else 0
