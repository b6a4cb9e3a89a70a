"""`codesign presets`: the shipped accelerator descriptions, one line each (`--show NAME` prints YAML)."""
from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("presets", help="list the shipped accelerator presets")
    p.add_argument("--show", default=None, metavar="NAME", help="print one preset as YAML")
    p.set_defaults(run=run)


def run(args) -> int:
    from accel_sim.loading import list_presets, load_accelerator

    if args.show:
        import yaml
        print(yaml.safe_dump(load_accelerator(args.show).to_dict(), sort_keys=False), end="")
        return 0
    presets = list_presets()
    width = max(len(name) for name, _ in presets)
    for name, description in presets:
        print(f"{name.ljust(width)}  {description}")
    return 0
