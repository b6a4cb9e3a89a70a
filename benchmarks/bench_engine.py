"""Times mapping + simulation of vit_base_patch16_224 (w8a8) on every preset, as ratios.
Per preset: first call, a cold mapping search (memo cleared), a warm call, and SCALE-Sim's fixed mapping.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from accel_sim import list_presets, load_accelerator, simulate_workload  # noqa: E402
from accel_sim.mapper import clear_memo  # noqa: E402


def median_s(call, repeats: int, before=None) -> float:
    times = []
    for _ in range(repeats):
        if before:
            before()
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--model", default="vit_base_patch16_224")
    args = parser.parse_args()
    import codesign
    from codesign.scheduler import lower

    workload = lower(codesign.inspect(args.model, precision="w8a8"))
    print(f"{args.model} at w8a8: {len(workload)} layers, {int(workload.macs.sum()):,} MACs")
    print(f"{'preset':18s} {'first ms':>9s} {'search ms':>10s} {'warm ms':>8s} {'scalesim ms':>12s} "
          f"{'warm/scalesim':>14s} {'latency ms':>11s} {'vs scalesim':>12s}")
    for name, _ in list_presets():
        accel = load_accelerator(name)
        start = time.perf_counter()
        result = simulate_workload(workload, accel)
        first = time.perf_counter() - start
        cold = median_s(lambda: simulate_workload(workload, accel), max(3, args.repeats // 10), before=clear_memo)
        warm = median_s(lambda: simulate_workload(workload, accel), args.repeats)
        fixed = median_s(lambda: simulate_workload(workload, accel, mapping="scalesim"), args.repeats)
        ref = simulate_workload(workload, accel, mapping="scalesim")
        print(f"{name:18s} {first * 1e3:9.1f} {cold * 1e3:10.2f} {warm * 1e3:8.2f} {fixed * 1e3:12.2f} "
              f"{warm / fixed:14.2f} {result.latency_ms:11.3f} {result.latency_ms / ref.latency_ms:11.2f}x")


if __name__ == "__main__":
    main()
