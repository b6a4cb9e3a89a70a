"""`codesign devices`: the FPGA boards the resource model knows, with their datasheet figures.
`--json` prints the table for scripts; `codesign simulate ... --device NAME` uses a row of it.
"""
from __future__ import annotations

import json


def add_parser(sub) -> None:
    p = sub.add_parser("devices", help="list the FPGA boards and devices (DSP, BRAM, URAM, LUT, FF, DDR)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    from accel_sim.devices import list_devices
    from codesign.report import table

    devices = list_devices()
    if args.json:
        print(json.dumps([d.to_dict() for d in devices], indent=1))
        return 0
    rows = [[d.name, d.part, f"{d.dsp:,}", f"{d.bram18k:,}", f"{d.uram:,}", f"{d.lut:,}", f"{d.ff:,}",
             f"{d.ddr_bandwidth_gbps:g}" + (f" (+HBM {d.hbm_bandwidth_gbps:g})" if d.hbm_bandwidth_gbps else ""),
             d.source] for d in devices]
    print(table(["board", "part", "DSP", "BRAM18K", "URAM", "LUT", "FF", "DDR GB/s", "source"], rows,
                right={2, 3, 4, 5, 6, 7}))
    return 0
