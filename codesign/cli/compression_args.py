"""`--precision`, `--prune-heads`, `--prune-mlp` and `--prune-importance`, shared by every command that compresses a model.

Specs are parsed when the command line is (a bad one exits 2 before any model is built).
"""
from __future__ import annotations

import contextlib
import sys
import warnings

from codesign.cli.arg_types import typed
from codesign.transforms import Compression, PolicyWarning, parse_precision, parse_prune
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
    group.add_argument("--verify-ir", action="store_true",
                       help="check the IR after each compression pass (shapes, GEMM views, MAC totals, what "
                            "the pass must keep); a broken invariant is reported as a bug")


def compression_of(args) -> Compression:
    """The Compression the options ask for (Compression() when none)."""
    return Compression.of(args.precision, args.prune_heads, args.prune_mlp, args.prune_importance)


def compression_over(args, base: Compression) -> Compression:
    """The options' precision and pruning where given, else `base`'s (a results row's design point)."""
    given = compression_of(args)
    return Compression(given.precision or base.precision, given.pruning or base.pruning)


@contextlib.contextmanager
def reported_policy_warnings():
    """Precision rules that match no op, reported on stderr when the block ends: the first few, then a count."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PolicyWarning)
        yield
    lines = [str(w.message).splitlines()[0] for w in caught if issubclass(w.category, PolicyWarning)]
    for line in lines[:SHOWN_WARNINGS]:
        sys.stderr.write(f"codesign: warning: {line}\n")
    if len(lines) > SHOWN_WARNINGS:
        sys.stderr.write(f"codesign: warning: ... and {len(lines) - SHOWN_WARNINGS:,} more rules that match no op\n")
