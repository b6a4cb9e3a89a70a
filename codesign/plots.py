"""PNG plots of a simulation: a roofline of every layer and per-layer latency/energy breakdowns.

Uses matplotlib's Agg backend, so it works on a machine without a screen.
"""
from __future__ import annotations

import os

import numpy as np


def pyplot():
    """matplotlib.pyplot on the Agg backend (works without a screen); every plot here uses it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def roofline(sim, path: str) -> str:
    """Achieved MAC/s of each PE-array layer against its operational intensity (MACs per DRAM byte)."""
    plt = pyplot()
    r = sim.result
    cols = r.columns
    pe = np.array([d != "vector" for d in r.dataflows])
    seconds = cols["cycles"] / (r.clock_mhz * 1e6)
    dram = cols["dram_ifmap_bytes"] + cols["dram_weight_bytes"] + cols["dram_ofmap_bytes"]
    intensity = np.divide(cols["macs"], dram, out=np.zeros(len(r)), where=dram > 0)
    achieved = np.divide(cols["macs"], seconds, out=np.zeros(len(r)), where=seconds > 0)
    keep = pe & (intensity > 0) & (achieved > 0)
    # the roof at the widths these layers run at (DSP packing / LUT array), not just PEs x clock
    peak_per_cycle = r.layer_peak_macs_per_cycle()
    peak = float(peak_per_cycle[keep].max() if keep.any() else r.pes) * r.clock_mhz * 1e6
    bandwidth = r.dram_bytes_per_cycle * r.clock_mhz * 1e6
    fig, ax = plt.subplots(figsize=(7, 5))
    xs = np.logspace(np.log10(max(intensity[keep].min() / 4, 1e-3)), np.log10(intensity[keep].max() * 4), 200) \
        if keep.any() else np.logspace(-2, 4, 200)
    ax.loglog(xs, np.minimum(peak, bandwidth * xs), "k-", label=f"roof: {peak / 1e9:.0f} GMAC/s, "
              f"{bandwidth / 1e9:.1f} GB/s")
    kinds = sorted({r.kinds[i] for i in np.flatnonzero(keep)})
    for kind in kinds:
        sel = keep & np.array([k == kind for k in r.kinds])
        ax.scatter(intensity[sel], achieved[sel], s=18, label=kind)
    ax.set_xlabel("operational intensity (MACs per DRAM byte)")
    ax.set_ylabel("achieved MAC/s")
    ax.set_title(f"{sim.model} on {r.accelerator}")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def breakdown(sim, path: str) -> str:
    """Per-layer latency (compute vs stall) and energy (MAC, RF, buffers, DRAM, vector) bars."""
    plt = pyplot()
    r = sim.result
    cols = r.columns
    x = np.arange(len(r))
    ms = 1e3 / (r.clock_mhz * 1e6)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(8, len(r) * 0.06), 7), sharex=True)
    top.bar(x, cols["compute_cycles"] * ms, width=1.0, label="compute")
    top.bar(x, cols["stall_cycles"] * ms, width=1.0, bottom=cols["compute_cycles"] * ms, label="stall")
    top.set_ylabel("latency (ms)")
    top.legend(fontsize=8)
    base = np.zeros(len(r))
    for part in ("mac_pj", "rf_pj", "buffer_pj", "dram_pj", "vector_pj"):
        values = cols[part] * 1e-6
        bottom.bar(x, values, width=1.0, bottom=base, label=part.replace("_pj", ""))
        base += values
    bottom.set_ylabel("energy (µJ)")
    bottom.set_xlabel("layer (in execution order)")
    bottom.legend(fontsize=8, ncol=5)
    top.set_title(f"{sim.model} on {r.accelerator}: {r.latency_ms:.3f} ms, {r.energy_mj:.3f} mJ")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_plots(sim, directory: str) -> list[str]:
    os.makedirs(directory, exist_ok=True)
    return [roofline(sim, os.path.join(directory, "roofline.png")),
            breakdown(sim, os.path.join(directory, "breakdown.png"))]
