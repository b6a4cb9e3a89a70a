"""Hardware-only sweep rate over vit_base_patch16_224: in this process, on the local pool, on Dask.

The IR is extracted once; workers get the Workload and never import torch (checked below).
Run: .venv/bin/python benchmarks/bench_sweep.py [--points N] [--no-dask]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

TARGET_POINTS_PER_S = 1000   # issue 10: a hardware-only sweep keeps >= 1,000 points/s with the mapper


def space(points: int) -> dict:
    """A ZCU102-variant space of about `points` points (rows x cols x dataflow x buffers x DRAM x clock)."""
    clocks = [100, 125, 150, 175, 200, 225, 250, 275, 300, 325, 350, 375, 400][:max(1, points // 432)]
    return {"version": 1, "model": {"name": "vit_base_patch16_224"},
            "accelerator": {"base": "zcu102", "device": "zcu102", "rows": [16, 32, 48, 64],
                            "cols": [16, 32, 48, 64], "dataflow": ["ws", "os", "is"],
                            "weight_kib": [256, 512, 1024], "dram_bandwidth_gbps": [9.6, 19.2, 38.4],
                            "clock_mhz": clocks},
            "objectives": ["latency_ms", "energy_mj", "dsp_util"], "constraints": {"fps": {"min": 5}}}


def torch_in_workers(workers: int | None, dask: str | None) -> bool:
    from codesign.search.executors import open_executor
    with open_executor(workers, dask) as (executor, _):
        return bool(executor.submit(eval, "'torch' in __import__('sys').modules").result())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=4000, help="about this many points (at most 5,616)")
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args()

    from codesign.frontend import extract
    from codesign.search.space import load_space
    from codesign.search.sweep import run_sweep

    spec = load_space(space(args.points))
    start = time.perf_counter()
    graph = extract("vit_base_patch16_224")
    print(f"vit_base_patch16_224 extracted once in {time.perf_counter() - start:.2f} s; "
          f"{spec.size:,} design points per run")
    runs = [("in-process (--workers 1)", 1, None), ("local pool (--workers 2)", 2, None)]
    cluster = None
    if not args.no_dask:
        from distributed import LocalCluster
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
        # the workers import the simulator and load its kernels on their first task: a cluster's
        # first sweep pays that once, later sweeps on the same cluster do not
        runs.append(("Dask, 2 fresh workers", None, cluster.scheduler_address))
        runs.append(("Dask, the same workers again", None, cluster.scheduler_address))
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i, (label, workers, dask) in enumerate(runs):
                result = run_sweep(spec, os.path.join(tmp, f"run{i}.csv"), workers=workers, dask=dask, graph=graph)
                seconds = result.timing["evaluate_s"]
                torch = "-" if workers == 1 else ("yes" if torch_in_workers(workers, dask) else "no")
                rows.append((label, result.evaluated, seconds, result.evaluated / seconds, torch))
    finally:
        if cluster is not None:
            cluster.close()
    print(f"\n{'where':32s} {'points':>7s} {'seconds':>8s} {'points/s':>9s}  torch in workers")
    for label, count, seconds, rate, torch in rows:
        print(f"{label:32s} {count:7,d} {seconds:8.2f} {rate:9,.0f}  {torch}")
    worst = min(rate for *_, rate, _ in rows)
    print(f"\nslowest: {worst:,.0f} points/s = {worst / TARGET_POINTS_PER_S:.1f}x the {TARGET_POINTS_PER_S} "
          "points/s target (seconds include starting the pool's processes, writing every row and the front)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
