"""`codesign models [PATTERN]`: list model names, the reference models first (wildcards as in timm.list_models)."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("models", help="list model names (reference models, then timm) matching a pattern")
    p.add_argument("pattern", nargs="?", default="*", help="wildcard pattern, e.g. 'vit_*' (default: all)")
    p.set_defaults(run=run)


def run(args) -> int:
    from codesign.frontend import timm_model_names

    names = timm_model_names(args.pattern)
    print("\n".join(names))
    return 0
