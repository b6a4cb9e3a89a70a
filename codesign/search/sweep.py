"""`codesign sweep`: every point of a grid (or a seeded random sample) evaluated and streamed to a file.

The model is extracted once; each compression choice is scheduled once and its Workload sent to the
workers with a chunk of hardware points; fidelity runs once per compression choice.
"""
from __future__ import annotations

import math
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass, field

from codesign.errors import Interrupted
from codesign.search.evaluate import (FidelityTask, SimTask, build_workload, make_row, result_columns,
                                      run_fidelity_task, run_sim_task, with_feasibility)
from codesign.search.executors import open_executor
from codesign.search.pareto import front_stem, pareto_front, write_front
from codesign.search.results_io import ResultsWriter, read_results, results_format
from codesign.search.space import DesignSpace, load_space

CHUNK_POINTS = 64       # hardware points per task: ~20 ms of simulation for vit_base
WINDOW_PER_SLOT = 4     # tasks kept in flight per worker


@dataclass(frozen=True)
class SweepResult:
    results_path: str
    front_paths: list[str]
    objectives: tuple[str, ...]
    columns: list[str]
    points: int                 # points in the sweep (grid or sample)
    evaluated: int              # evaluated by this run
    resumed: int                # already in the results file, skipped
    feasible: int
    errors: int                 # points that could not be simulated (e.g. a tile that fits no buffer)
    front: list[dict]
    timing: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"results": self.results_path, "front_files": self.front_paths, "objectives": list(self.objectives),
                "points": self.points, "evaluated": self.evaluated, "resumed": self.resumed,
                "feasible": self.feasible, "errors": self.errors, "front": self.front, "timing": self.timing}


def default_path(space: DesignSpace, what: str, ext: str) -> str:
    stem = os.path.splitext(os.path.basename(space.source))[0] or "space"
    return f"{stem}.{what}{ext}"


def extract_graph(space: DesignSpace):
    from codesign.frontend import extract

    return extract(space.model.name, input_size=space.model.input_size, batch=space.model.batch)


def run_sweep(space, results: str | None = None, *, samples: int | None = None, seed: int = 0,
              workers: int | None = None, dask: str | None = None, device: str | None = None,
              quiet: bool = True, graph=None) -> SweepResult:
    """Evaluate the grid of `space` (or `samples` points drawn with `seed`) into `results`.

    Points whose hash is already in `results` are skipped, so an interrupted sweep resumes.
    `workers` 1 runs in this process; `dask` is a scheduler address (tcp://host:8786).
    """
    space = load_space(space).with_overrides(device=device)
    results = results or default_path(space, "sweep", ".csv")
    results_format(results)
    # the executor first: a Dask address that does not answer fails before the model is traced
    # (pool processes are started only when the first task is submitted)
    points = None
    try:
        with open_executor(workers, dask) as (executor, slots):
            start = time.perf_counter()
            graph = graph if graph is not None else extract_graph(space)
            space = space.bind(graph)
            extract_s = time.perf_counter() - start
            points = space.sample(samples, seed) if samples is not None else space.grid()
            columns = result_columns(space)
            with ResultsWriter(results, columns) as writer:
                todo = [p for p in points if p.key not in writer.done]
                resumed = len(points) - len(todo)
                note = f" ({resumed:,} already in {results})" if resumed else ""
                if not quiet:
                    sys.stderr.write(f"sweep: {len(points):,} points of {space.size:,}{note}\n")
                start = time.perf_counter()
                if todo:
                    with _progress(len(points), resumed, quiet) as bar:
                        _evaluate(space, graph, todo, executor, slots, writer, bar)
                seconds = time.perf_counter() - start
        keys = {p.key for p in points}
        columns, rows = read_results(results)
        rows = [with_feasibility(space, r) for r in rows if r["hash"] in keys]
        front = pareto_front(rows, space.objectives)
        paths = write_front(front, columns, space.objectives, front_stem(results))
    except KeyboardInterrupt:
        if points is None:
            raise Interrupted("before the sweep started; the same command starts it") from None
        kept = {r["hash"] for r in read_results(results)[1]} & {p.key for p in points}
        raise Interrupted(f"{len(kept):,} of {len(points):,} points are in {results}; the same command resumes "
                          "the sweep") from None
    timing = {"extract_s": round(extract_s, 4), "evaluate_s": round(seconds, 4),
              "points_per_s": round(len(todo) / seconds, 1) if todo and seconds > 0 else None}
    return SweepResult(results, paths, space.objectives, columns, len(points), len(todo), resumed,
                       sum(1 for r in rows if r["feasible"]), sum(1 for r in rows if r.get("error")), front, timing)


class _NoBar:
    def update(self, n=1):
        pass


class _progress:
    """A tqdm bar on stderr (rate and ETA), or nothing when quiet."""

    def __init__(self, total: int, initial: int, quiet: bool):
        self.total, self.initial, self.quiet = total, initial, quiet

    def __enter__(self):
        if self.quiet:
            self.bar = _NoBar()
        else:
            from tqdm import tqdm
            self.bar = tqdm(total=self.total, initial=self.initial, unit="pt", desc="sweep", file=sys.stderr,
                            dynamic_ncols=True, mininterval=0.25, smoothing=0.05)
        return self.bar

    def __exit__(self, *exc):
        if not self.quiet:
            self.bar.close()


def _tasks(space: DesignSpace, graph, todo, slots: int):
    """(kind, compression choice, points, task) in point order: per compression choice, its fidelity
    task (if measured), then its hardware points in chunks."""
    groups: dict[str, tuple] = {}
    for point in todo:
        choice = space.compression_of(point)
        groups.setdefault(choice.key, (choice, []))[1].append(point)
    for choice, members in groups.values():
        if space.measures_fidelity:
            yield "fidelity", choice, None, FidelityTask(space.model, space.fidelity, choice, graph)
        workload = build_workload(graph, choice)
        size = max(1, min(CHUNK_POINTS, math.ceil(len(members) / (2 * slots))))
        for i in range(0, len(members), size):
            chunk = members[i:i + size]
            items = tuple((p.key, space.hardware_values(p)) for p in chunk)
            yield "sim", choice, chunk, SimTask(workload, space.bases, space.scale_ports, items)


def _evaluate(space: DesignSpace, graph, todo, executor, slots: int, writer: ResultsWriter, bar) -> None:
    """Run the tasks with at most WINDOW_PER_SLOT x slots in flight; write each row as soon as both
    its hardware metrics and its compression choice's fidelity are in."""
    tasks = _tasks(space, graph, todo, slots)
    in_flight: dict = {}
    fidelity: dict[str, dict] = {}
    waiting: dict[str, list] = {}      # compression key -> [(point, metrics)] until its fidelity is in

    def write(point, choice, metrics):
        fid = fidelity[choice.key] if space.measures_fidelity else None
        writer.write(make_row(space, point, choice, metrics, fid))
        bar.update(1)

    exhausted = False
    while True:
        while not exhausted and len(in_flight) < WINDOW_PER_SLOT * slots:
            item = next(tasks, None)
            if item is None:
                exhausted = True
                break
            kind, choice, chunk, task = item
            fn = run_fidelity_task if kind == "fidelity" else run_sim_task
            in_flight[executor.submit(fn, task)] = (kind, choice, chunk)
        if not in_flight:
            break
        done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
        for future in done:
            kind, choice, chunk = in_flight.pop(future)
            if kind == "fidelity":
                fidelity[choice.key] = future.result()[1]
                for point, metrics in waiting.pop(choice.key, []):
                    write(point, choice, metrics)
                continue
            by_key = dict(future.result())
            for point in chunk:
                if space.measures_fidelity and choice.key not in fidelity:
                    waiting.setdefault(choice.key, []).append((point, by_key[point.key]))
                else:
                    write(point, choice, by_key[point.key])
