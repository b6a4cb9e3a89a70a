"""Runs SCALE-Sim 3.0.0 and accel_sim on the same GEMM layer and prints cycles and the speed ratio.
SCALE-Sim is installed (with numpy 2.3.5, which it needs) into benchmarks/.scalesim-venv if missing.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from accel_sim import load_accelerator, read_topology, simulate_workload  # noqa: E402
from peer_venv import clean_env, ensure_venv  # noqa: E402

VENV = os.path.join(HERE, ".scalesim-venv")
REFERENCE = os.path.join(ROOT, "tests", "reference", "scalesim")
PINS = ["scalesim==3.0.0", "numpy==2.3.5"]

# Runs inside the SCALE-Sim venv: one layer through the Python entry point, no trace files.
RUNNER = r"""
import inspect, json, sys, time, os
from scalesim.scale_sim import scalesim
cfg, topo, layout, out, mode = sys.argv[1:6]
kwargs = dict(save_disk_space=True, verbose=False, config=cfg, topology=topo, input_type_gemm=mode == "gemm")
if "layout" in inspect.signature(scalesim.__init__).parameters:
    kwargs["layout"] = layout
start = time.perf_counter()
sim = scalesim(**kwargs)
sim.run_scale(top_path=out)
seconds = time.perf_counter() - start
report = None
for dirpath, _, files in os.walk(out):
    if "COMPUTE_REPORT.csv" in files:
        report = os.path.join(dirpath, "COMPUTE_REPORT.csv")
rows = [line.split(",") for line in open(report).read().splitlines()[1:] if line.strip()]
print(json.dumps({"seconds": seconds, "total_cycles": [int(float(r[2])) for r in rows]}))
"""


def run_scalesim(config: str, topology: str, mode: str = "gemm") -> dict:
    """SCALE-Sim's `Total Cycles` per layer of `topology` ("gemm" or "conv" form) and its wall time."""
    python = ensure_venv(VENV, PINS)
    work = tempfile.mkdtemp(prefix="scalesim_")
    layout = os.path.join(work, "layout.csv")
    with open(layout, "w", encoding="utf-8") as fh:
        fh.write("Layer name, IFMAP Height Intraline Factor,\n")
    out_dir = os.path.join(work, "out")
    os.makedirs(out_dir)
    proc = subprocess.run([python, "-c", RUNNER, os.path.abspath(config), os.path.abspath(topology), layout,
                           out_dir, mode], capture_output=True, text=True, cwd=work, env=clean_env())
    if proc.returncode != 0:
        sys.exit(f"SCALE-Sim failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=os.path.join(REFERENCE, "scale_32x32_os.cfg"))
    parser.add_argument("--topology", default=os.path.join(REFERENCE, "vit_b16_gemm.csv"))
    parser.add_argument("--layer", default="proj", help="layer name in the topology (default: proj)")
    args = parser.parse_args()

    with open(args.topology, encoding="utf-8") as fh:
        lines = [x for x in fh.read().splitlines() if x.strip()]
    rows = [x for x in lines[1:] if x.split(",")[0].strip() == args.layer]
    if not rows:
        sys.exit(f"layer {args.layer!r} not in {args.topology}")
    work = tempfile.mkdtemp(prefix="bench_scalesim_")
    topo = os.path.join(work, "one_layer.csv")
    with open(topo, "w", encoding="utf-8") as fh:
        fh.write(lines[0] + "\n" + rows[0] + "\n")

    accel = load_accelerator(args.config)
    workload = read_topology(topo)
    ample = dataclasses.replace(accel, dram=dataclasses.replace(accel.dram, bandwidth_gbps=1e6))
    simulate_workload(workload, accel, mapping="scalesim")  # compile / load the numba cache
    times = []
    for _ in range(50):                            # SCALE-Sim's own mapping, the one it simulates
        start = time.perf_counter()
        result = simulate_workload(workload, accel, mapping="scalesim")
        times.append(time.perf_counter() - start)
    ours_s = statistics.median(times)
    ours_ample = simulate_workload(workload, ample, mapping="scalesim")

    theirs = run_scalesim(args.config, topo, "gemm")

    compute = int(ours_ample.columns["compute_cycles"][0])
    print(f"layer {args.layer}: {workload.m[0]} x {workload.n[0]} x {workload.k[0]} on {accel.name}")
    print(f"  SCALE-Sim 3.0.0  Total Cycles         {theirs['total_cycles'][0]:>12,d}   wall {theirs['seconds']:9.2f} s")
    print(f"  accel_sim        compute cycles - 1   {compute - 1:>12,d}   wall {ours_s * 1e3:9.3f} ms")
    print(f"  accel_sim        cycles at the cfg's {accel.dram.bandwidth_gbps:g} GB/s: {int(result.cycles):,d} "
          f"(stalls {int(result.totals.stall_cycles):,d}; SCALE-Sim's CALC bandwidth mode never stalls)")
    print(f"  agreement {100 * (compute - 1) / theirs['total_cycles'][0]:.4f}%   "
          f"speed ratio {theirs['seconds'] / ours_s:,.0f}x")


if __name__ == "__main__":
    main()
