"""`codesign search`: NSGA-II (Optuna) over hardware x compression, constraints as constraints.

The study lives in an SQL database (SQLite by default), so it resumes and can be shared by several
processes or machines; `--target-fps` turns it into "best fidelity at this frame rate".
"""
from __future__ import annotations

import contextlib
import os
import random
import socket
import sys
import time
import warnings
from dataclasses import dataclass, field

from accel_sim.errors import UserError
from accel_sim.inputs import check_int
from codesign.search.evaluate import Evaluator, result_columns
from codesign.search.metrics import METRICS, objective_value
from codesign.search.pareto import front_stem, pareto_front, write_front
from codesign.hashing import content_hash
from codesign.search.results_io import results_format, write_rows
from codesign.search.space import DesignSpace, load_space
from codesign.search.sweep import default_path, extract_graph
from codesign.search.target import TargetReport, scan_space, target_report, unreachable_report

HEARTBEAT_S, GRACE_S = 10, 60      # a trial whose process stops beating for GRACE_S is failed and re-run
FILL_SCAN_LIMIT = 100_000          # spaces this small are listed to find their last unevaluated points
WORKER = f"{socket.gethostname()}:{os.getpid()}"


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


def masked_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url
        return make_url(url).render_as_string(hide_password=True)
    except Exception:   # not a URL at all: show it as typed
        return url


def open_storage(url: str):
    """An Optuna RDBStorage with heartbeats, or one error line naming the URL (password hidden)."""
    import optuna

    from codesign.boundary.services import check_storage_url
    check_storage_url(url, masked_url(url))
    for attempt in range(3):    # processes that create a new database at the same time can collide once
        try:
            return optuna.storages.RDBStorage(
                url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3))
        except Exception as exc:   # sqlalchemy and drivers raise many types; the user needs the reason
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            if any(word in reason for word in ("IntegrityError", "locked", "already exists")):
                time.sleep(0.5 * (attempt + 1))
                continue
            break
    raise UserError(f"cannot open study storage {masked_url(url)!r}: {reason}; give a SQLAlchemy URL "
                    "such as sqlite:///study.db or postgresql://user@host/db")


def fingerprint(space: DesignSpace) -> str:
    """What a study's trials depend on: points (context, knobs), objectives and constraints."""
    return content_hash({"context": space.context, "knobs": {k.name: list(k.choices) for k in space.knobs},
                         "objectives": list(space.objectives), "constraints": repr(space.constraints)}, 8)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_dead_trials(study) -> int:
    """Trials left RUNNING by a process of this machine that no longer exists: FAIL, and re-queued
    with their parameters. A RUNNING trial that names no process was killed between its creation and
    its first line (a live process names itself within milliseconds): the same. Another machine's
    dead trials are failed by the heartbeat after GRACE_S."""
    from optuna.trial import TrialState

    def dead(trial) -> bool:
        host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
        return host == socket.gethostname() and pid.isdigit() and not _alive(int(pid))

    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if any("worker" not in t.user_attrs for t in running):
        time.sleep(1.0)
        unnamed = {t.number for t in running if "worker" not in t.user_attrs}
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        lost = [t for t in running if dead(t) or (t.number in unnamed and "worker" not in t.user_attrs)]
    else:
        lost = [t for t in running if dead(t)]
    for trial in lost:
        study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
        if trial.params:
            study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})
    return len(lost)


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
    with _quiet_optuna() as optuna:
        store = open_storage(storage)
        start = time.perf_counter()
        graph = graph if graph is not None else extract_graph(space)
        space = space.bind(graph)
        extract_s = time.perf_counter() - start
        name = study_name or f"{os.path.splitext(os.path.basename(space.source))[0]}-{fingerprint(space)}"
        study = _open_study(optuna, store, name, space, seed, population)
        recover_dead_trials(study)
        evaluator = Evaluator(space, graph)
        done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        before = {t.number for t in done}
        for trial in done:
            evaluator.rows.setdefault(trial.user_attrs["row"]["hash"], trial.user_attrs["row"])
        goal = min(trials, space.size)      # trials are distinct points: a space has only so many
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
    """Run trials until the study has `goal` finished ones, each a distinct point. When NSGA-II
    proposes a point the study has already evaluated, that trial is PRUNED (not counted) and an
    unevaluated neighbour of the current front (or a random point) is queued as the next trial: a
    directed mutation. Returns False when no unevaluated point could be found."""
    seen = set(evaluator.rows)
    known: set[int] = set()            # finished trials already taken into `seen`
    rng = random.Random(seed * 1_000_003 + done)
    exhausted = [False]

    def sync() -> None:
        """Points other processes sharing the study have finished count as evaluated here too."""
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            if t.number not in known:
                known.add(t.number)
                row = t.user_attrs["row"]
                seen.add(row["hash"])
                evaluator.rows.setdefault(row["hash"], row)

    def objective(trial):
        trial.set_user_attr("worker", WORKER)
        values = {k.name: trial.suggest_categorical(k.name, list(k.choices)) for k in space.knobs}
        point = space.point(values)
        if point.key not in seen:
            sync()
        if point.key in seen and "retry_of" not in trial.user_attrs:
            fill = _unexplored(space, evaluator, seen, rng)
            if fill is None:
                exhausted[0] = True
                study.stop()
            else:
                study.enqueue_trial(fill, user_attrs={"instead_of": trial.number})
            raise optuna.TrialPruned(f"point {point.key} is already in the study")
        row = evaluator.row(point, lazy_fidelity=True)
        trial.set_user_attr("row", row)
        for name, value in zip(space.constraints.names, space.constraints.violations(row)):
            trial.set_constraint(name, value)
        seen.add(point.key)
        return [objective_value(row, o) for o in space.objectives]

    bar = None
    if not quiet:
        from tqdm import tqdm
        bar = tqdm(total=goal, initial=done, unit="trial", desc="search", file=sys.stderr, dynamic_ncols=True)

    def progress(study, trial):
        if bar is not None and trial.state == optuna.trial.TrialState.COMPLETE:
            bar.update(1)

    stop = optuna.study.MaxTrialsCallback(goal, states=(optuna.trial.TrialState.COMPLETE,))
    try:
        while True:
            try:
                study.optimize(objective, n_trials=None, callbacks=[stop, progress], gc_after_trial=False)
                break
            except ValueError as exc:
                # SQLite has no row locks: two processes can take the same queued trial; the one
                # that finishes second may not report it. The point was evaluated: carry on.
                if not str(exc).startswith("Cannot tell a"):
                    raise
    finally:
        if bar is not None:
            bar.close()
    return not exhausted[0]


__all__ = ["SearchResult", "run_search", "open_storage", "recover_dead_trials"]
