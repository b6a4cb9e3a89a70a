"""`codesign search`: NSGA-II (Optuna) over hardware x compression, constraints as constraints.

The study lives in an SQL database (SQLite by default), so it resumes and can be shared by several
processes or machines; `--target-fps` turns it into "best fidelity at this frame rate".
"""
from __future__ import annotations

import contextlib
import os
import random
import sys
import time
import warnings
from dataclasses import dataclass, field

from accel_sim.errors import UserError
from accel_sim.inputs import check_int
from codesign.errors import Interrupted
from codesign.search.evaluate import Evaluator, result_columns
from codesign.search.metrics import METRICS, objective_value
from codesign.search.pareto import front_stem, pareto_front, write_front
from codesign.hashing import content_hash
from codesign.search.results_io import results_format, write_rows
from codesign.search.space import DesignSpace, load_space
from codesign.search.study_storage import masked_url, open_storage
from codesign.search.sweep import default_path, extract_graph
from codesign.search.target import TargetReport, scan_space, target_report, unreachable_report
from codesign.search.trials import WORKER, StopAtBoundary, census, claim, recover_dead_trials, requeue

FILL_SCAN_LIMIT = 100_000          # spaces this small are listed to find their last unevaluated points
WAIT_S = 0.5         # how often a process whose budget is held by others' running trials looks again
YIELD_JITTER_S = 0.2     # two processes that yielded a point to each other retry at different moments


@dataclass(frozen=True)
class SearchResult:
    storage: str
    study_name: str
    trials: int                     # finished trials in the study: each a distinct design point
    evaluated: int                  # trials this run finished
    distinct_points: int
    results_path: str
    front_paths: list[str]
    objectives: tuple[str, ...]
    columns: list[str]
    front: list[dict]
    feasible: int
    target: TargetReport | None = None
    timing: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"storage": self.storage, "study_name": self.study_name, "trials": self.trials,
                "evaluated": self.evaluated, "distinct_points": self.distinct_points, "results": self.results_path,
                "front_files": self.front_paths, "objectives": list(self.objectives), "feasible": self.feasible,
                "front": self.front, "target": self.target.to_dict() if self.target else None,
                "timing": self.timing, "notes": self.notes}


@contextlib.contextmanager
def _quiet_optuna():
    import optuna

    old = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            yield optuna
    finally:
        optuna.logging.set_verbosity(old)


def fingerprint(space: DesignSpace) -> str:
    """What a study's trials depend on: points (context, knobs), objectives and constraints."""
    return content_hash({"context": space.context, "knobs": {k.name: list(k.choices) for k in space.knobs},
                         "objectives": list(space.objectives), "constraints": repr(space.constraints)}, 8)


def run_search(space, trials: int, *, seed: int = 0, storage: str | None = None, study_name: str | None = None,
               target_fps: float | None = None, device: str | None = None, population: int | None = None,
               results: str | None = None, quiet: bool = True, graph=None) -> SearchResult:
    """Run the study until it has `trials` finished trials (a resumed study runs only the rest)."""
    check_int(trials, "--trials")
    if population is not None:
        check_int(population, "--population")
    space = load_space(space).with_overrides(device=device, target_fps=target_fps)
    storage = storage or f"sqlite:///{default_path(space, 'optuna', '.db')}"
    results = results or default_path(space, "search", ".csv")
    results_format(results)      # a wrong -o fails now, not after the search
    study = name = goal = None

    def kept() -> str:       # what Ctrl-C leaves, for its one line
        if study is None:
            return "before the search started; the same command starts it"
        return (f"{len(census(study).done)} of {goal} trials finished in study {name!r} ({masked_url(storage)}); "
                "the same command resumes it")

    with _quiet_optuna() as optuna, _on_interrupt(kept):
        store = open_storage(storage)
        start = time.perf_counter()
        graph = graph if graph is not None else extract_graph(space)
        space = space.bind(graph)
        extract_s = time.perf_counter() - start
        name = study_name or f"{os.path.splitext(os.path.basename(space.source))[0]}-{fingerprint(space)}"
        goal = min(trials, space.size)      # trials are distinct points: a space has only so many
        study = _open_study(optuna, store, name, space, seed, population)
        recover_dead_trials(study)
        evaluator = Evaluator(space, graph)
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        before = {t.number for t in done}
        for trial in done:
            evaluator.rows.setdefault(trial.user_attrs["row"]["hash"], trial.user_attrs["row"])
        start = time.perf_counter()
        # target mode: fps needs no fidelity; a hardware scan says at once if no point reaches it, and
        # which compression choices can: when the budget covers them all, they are the trials (exact)
        scan = scan_space(space, evaluator) if target_fps is not None else None
        unreachable = scan is not None and not scan.candidates
        if scan is not None and scan.candidates:
            unseen = [v for v in scan.candidates if space.point(v).key not in evaluator.rows]
            if len(unseen) <= goal - len(done):
                for values in unseen:
                    study.enqueue_trial(values, user_attrs={"candidate": True})
                goal = len(done) + len(unseen)
        exhausted = False
        if goal > len(done) and not unreachable:
            exhausted = not _optimize(optuna, study, space, evaluator, goal, len(done), seed, quiet)
        seconds = time.perf_counter() - start
        finished = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        unique: dict[str, dict] = {}
        for trial in finished:
            unique.setdefault(trial.user_attrs["row"]["hash"], trial.user_attrs["row"])
        rows = list(unique.values())
        columns = result_columns(space)
        write_rows(results, columns, rows)
        front = pareto_front(rows, space.objectives)
        paths = write_front(front, columns, space.objectives, front_stem(results))
    target = None
    if target_fps is not None:
        target = unreachable_report(space, scan) if unreachable else target_report(space, rows, len(finished), scan)
    timing = {"extract_s": round(extract_s, 4), "search_s": round(seconds, 4),
              "simulations": evaluator.simulations}
    notes = []
    if trials > space.size:
        notes.append(f"the space has only {space.size} points: {trials} trials would repeat some; all of them "
                     "are evaluated instead (a sweep does the same)")
    if exhausted:
        notes.append(f"no unevaluated point could be found: stopped at {len(finished)} distinct points")
    mine = sum(1 for t in finished if t.user_attrs.get("worker") == WORKER and t.number not in before)
    return SearchResult(masked_url(storage), name, len(finished), mine, len(rows),
                        results, paths, space.objectives, columns, front,
                        sum(1 for r in rows if r["feasible"]), target, timing, notes)


@contextlib.contextmanager
def _on_interrupt(kept):
    """Ctrl-C anywhere in the search ends as one line: `kept()` says what was kept and how to resume."""
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(kept()) from None


def _open_study(optuna, store, name: str, space: DesignSpace, seed: int, population: int | None):
    # Constraints reach NSGA-II's constrained domination through Trial.set_constraint (Optuna 5
    # deprecates NSGAIISampler(constraints_func=...) for it; the handling is the same).
    sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=population or 50)
    directions = [METRICS[o].direction for o in space.objectives]
    study = optuna.create_study(storage=store, study_name=name, sampler=sampler, directions=directions,
                                load_if_exists=True)
    mark = fingerprint(space)
    found = study.user_attrs.get("codesign_space")
    if found is None:
        study.set_user_attr("codesign_space", mark)
        study.set_user_attr("objectives", list(space.objectives))
    elif found != mark or [d.name.lower() for d in study.directions] != directions:
        raise UserError(f"study {name!r} was made for another space (knobs, objectives or constraints differ); "
                        "pass another --study-name")
    return study


def _unexplored(space: DesignSpace, evaluator: Evaluator, seen: set, rng: random.Random) -> dict | None:
    """Knob values of a point the study has not evaluated: a neighbour (one knob changed) of a point on
    the current front if one is left, else a random point; None if the whole space is evaluated."""
    names = [k.name for k in space.knobs]
    neighbours = []
    for row in pareto_front(list(evaluator.rows.values()), space.objectives):
        for knob in space.knobs:
            for choice in knob.choices:
                if choice != row[knob.name]:
                    neighbours.append({**{n: row[n] for n in names}, knob.name: choice})
    rng.shuffle(neighbours)
    for values in neighbours:
        if space.point(values).key not in seen:
            return values
    for _ in range(1000):
        point = space.point_at(rng.randrange(space.size))
        if point.key not in seen:
            return point.as_dict()
    if space.size <= FILL_SCAN_LIMIT:
        left = [p for p in map(space.point_at, range(space.size)) if p.key not in seen]
        return rng.choice(left).as_dict() if left else None
    return None


def _optimize(optuna, study, space: DesignSpace, evaluator: Evaluator, goal: int, done: int, seed: int,
              quiet: bool) -> bool:
    """Run trials until the study has `goal` finished ones, each a distinct point, whatever the number
    of processes sharing it. Each trial claims its point before evaluating it (codesign.search.trials)
    and yields (PRUNED, not counted) when another trial holds the point, or when the points finished
    and being evaluated already fill the budget. When NSGA-II proposes a point the study holds, an
    unevaluated neighbour of the current front (or a random point) is queued as the next trial: a
    directed mutation. Returns False when no unevaluated point could be found."""
    rng = random.Random(seed * 1_000_003 + done)
    exhausted = [False]
    current = [None]

    def objective(trial):
        current[0] = trial.number
        trial.set_user_attr("worker", WORKER)
        values = {k.name: trial.suggest_categorical(k.name, list(k.choices)) for k in space.knobs}
        point = space.point(values)
        held = claim(study, trial, point.key)
        for key, row in held.done.items():      # points other processes finished count here too
            evaluator.rows.setdefault(key, row)
        if point.key in held.taken():
            fill = _unexplored(space, evaluator, held.taken(), rng)
            if fill is not None:
                study.enqueue_trial(fill, user_attrs={"instead_of": trial.number})
            elif held.busy() < goal:
                exhausted[0] = True
            raise optuna.TrialPruned(f"point {point.key} is already in the study")
        if held.busy() >= goal:
            time.sleep(rng.uniform(0, YIELD_JITTER_S))
            raise optuna.TrialPruned("the points finished and being evaluated fill the budget")
        with stop.evaluating():
            row = evaluator.row(point, lazy_fidelity=True)
        trial.set_user_attr("row", row)
        for name, value in zip(space.constraints.names, space.constraints.violations(row)):
            trial.set_constraint(name, value)
        return [objective_value(row, o) for o in space.objectives]

    bar = None
    if not quiet:
        from tqdm import tqdm
        bar = tqdm(total=goal, initial=done, unit="trial", desc="search", file=sys.stderr, dynamic_ncols=True)
    finished = done
    try:
        with StopAtBoundary() as stop:
            while not exhausted[0]:
                held = census(study)
                if bar is not None and len(held.done) > finished:
                    bar.update(len(held.done) - finished)
                finished = len(held.done)
                if finished >= goal:
                    break
                if stop.requested:
                    raise KeyboardInterrupt
                if held.busy() >= goal:        # the last points are being evaluated by other processes
                    time.sleep(WAIT_S)
                    optuna.storages.fail_stale_trials(study)
                    recover_dead_trials(study, unnamed=False)
                    continue
                current[0] = None
                try:
                    study.optimize(objective, n_trials=1, gc_after_trial=False)
                except KeyboardInterrupt:
                    # the evaluation was abandoned and Optuna failed the trial: its point is queued again
                    if current[0] is not None:
                        requeue(study, study.trials[current[0]])
                    raise
                except (ValueError, optuna.exceptions.UpdateFinishedTrialError) as exc:
                    # another process failed this trial as stale (its heartbeat stopped) and queued its
                    # point again: the late result is dropped
                    if isinstance(exc, ValueError) and not str(exc).startswith("Cannot tell a"):
                        raise
    finally:
        if bar is not None:
            bar.close()
    return not exhausted[0]


__all__ = ["SearchResult", "run_search"]
