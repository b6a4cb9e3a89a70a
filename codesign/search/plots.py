"""PNG projections of a Pareto front (matplotlib Agg): latency vs energy coloured by fidelity, and
DSP utilisation vs latency; dominated points are faded, infeasible ones fainter still."""
from __future__ import annotations

import os

from accel_sim.errors import UserError
from codesign.plots import pyplot


def _values(rows, column, scale=1.0):
    return [row[column] * scale for row in rows]


def _projection(plt, rows, front, x, y, path, title, xscale=1.0, xlabel=None, ylabel=None):
    usable = [r for r in rows if r.get(x) is not None and r.get(y) is not None]
    on_front = {r["hash"] for r in front}
    infeasible = [r for r in usable if not r.get("feasible")]
    dominated = [r for r in usable if r.get("feasible") and r["hash"] not in on_front]
    best = [r for r in front if r.get(x) is not None and r.get(y) is not None]
    fig, ax = plt.subplots(figsize=(7, 5))
    if infeasible:
        ax.scatter(_values(infeasible, x, xscale), _values(infeasible, y), s=10, marker="x", c="0.75",
                   alpha=0.35, label=f"infeasible ({len(infeasible)})")
    if dominated:
        ax.scatter(_values(dominated, x, xscale), _values(dominated, y), s=14, c="0.55", alpha=0.35,
                   label=f"dominated ({len(dominated)})")
    if best:
        colour = [r.get("fidelity") for r in best]
        if all(c is not None for c in colour):
            dots = ax.scatter(_values(best, x, xscale), _values(best, y), s=40, c=colour, cmap="viridis",
                              edgecolors="black", linewidths=0.5, label=f"Pareto front ({len(best)})")
            fig.colorbar(dots, ax=ax, label="fidelity")
        else:
            ax.scatter(_values(best, x, xscale), _values(best, y), s=40, c="tab:red", edgecolors="black",
                       linewidths=0.5, label=f"Pareto front ({len(best)})")
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_front_plots(rows: list[dict], front: list[dict], objectives, directory: str) -> list[str]:
    """front_latency_energy.png and, with a device, front_dsp_latency.png in `directory`."""
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--plot {directory!r}: cannot write there ({exc.strerror or exc})") from None
    plt = pyplot()
    title = f"front on {', '.join(objectives)}: {len(front)} of {len(rows)} points"
    written = [_projection(plt, rows, front, "latency_ms", "energy_mj",
                           os.path.join(directory, "front_latency_energy.png"), title,
                           xlabel="latency (ms)", ylabel="energy per inference (mJ)")]
    if any(r.get("dsp_util") is not None for r in rows):
        written.append(_projection(plt, rows, front, "dsp_util", "latency_ms",
                                   os.path.join(directory, "front_dsp_latency.png"), title, xscale=100.0,
                                   xlabel="DSP utilisation (%)", ylabel="latency (ms)"))
    return written
