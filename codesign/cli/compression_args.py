"""`--precision`, `--prune-heads`, `--prune-mlp` and `--prune-importance`, shared by every command that compresses a model.

Specs are parsed when the command line is (a bad one exits 2 before any model is built).
"""
from __future__ import annotations

import dataclasses
import sys
import warnings

from codesign.cli.arg_types import typed
from codesign.ir import Graph
from codesign.transforms import (PrecisionPolicy, PrunePlan, apply_precision, apply_pruning, parse_precision,
                                 parse_prune)
from codesign.transforms.prune import IMPORTANCE_SCORES

SHOWN_WARNINGS = 5      # rules that match nothing: the first few, then a count


def add_compression_arguments(parser) -> None:
    group = parser.add_argument_group("compression")
    group.add_argument("--precision", type=typed(parse_precision), default=None, metavar="SPEC|FILE.yaml",
                       help="bit widths: w8a8, or default=w8a8,blocks.0=w16a16,*.attn.qkv=w4a8,"
                            "kind:linear=w8a8,re:REGEX=w4a4 (exact op > glob/regex > module > kind > "
                            "default); widths 16, 8, 6, 4, 2, 1 (1 = binary); or a YAML file")
    group.add_argument("--prune-heads", type=typed(lambda text: parse_prune(heads=text)), default=None,
                       metavar="SPEC", help="attention heads to keep: a ratio (0.5 keeps 6 of 12), one "
                                            "count per attention block (6,6,4,...), or blocks.0=6,"
                                            "blocks.1=[0,2,5]")
    group.add_argument("--prune-mlp", type=typed(lambda text: parse_prune(mlp=text).mlp_keep_ratio),
                       default=None, metavar="RATIO", help="fraction of MLP hidden units to keep, in (0, 1]")
    group.add_argument("--prune-importance", choices=IMPORTANCE_SCORES, default=None,
                       help="how heads and MLP units are ranked on the real model: weight l1 norm, or "
                            "first-order taylor on labelled data (default: taylor when there are labels)")


def compression_choices(args) -> tuple[PrecisionPolicy | None, PrunePlan | None]:
    """The parsed precision policy and pruning plan (None when not asked for)."""
    plan = args.prune_heads
    if args.prune_mlp is not None:
        plan = dataclasses.replace(plan or PrunePlan(), mlp_keep_ratio=args.prune_mlp)
    if args.prune_importance is not None and plan is not None:
        plan = dataclasses.replace(plan, importance=args.prune_importance)
    return args.precision, plan


def compression_summary(args) -> dict:
    """{"precision", "prune_heads", "mlp_keep_ratio"}: canonical specs, None where not asked for."""
    policy, plan = compression_choices(args)
    return {"precision": policy.spec if policy else None, **(plan or PrunePlan()).to_dict()}


def apply_compression(graph: Graph, args) -> Graph:
    """Pruning, then precision; rules that match no op are reported on stderr, one line each."""
    policy, plan = compression_choices(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if plan is not None:
            graph = apply_pruning(graph, plan)
        if policy is not None:
            graph = apply_precision(graph, policy)
    lines = [str(warning.message).splitlines()[0] for warning in caught]
    for line in lines[:SHOWN_WARNINGS]:
        sys.stderr.write(f"codesign: warning: {line}\n")
    if len(lines) > SHOWN_WARNINGS:
        sys.stderr.write(f"codesign: warning: ... and {len(lines) - SHOWN_WARNINGS:,} more rules that match no op\n")
    return graph
