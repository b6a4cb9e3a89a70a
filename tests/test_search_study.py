"""`codesign search`: NSGA-II on deit_tiny x ZCU102 against brute force, seeds, the frame-rate target mode,
sweeps whose fidelity runs in pool workers; concurrent searches, kills and Ctrl-C on a tiny model."""
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

from codesign.search.pareto import dominates, objective_vector, pareto_front
from codesign.search.results_io import read_results
from codesign.search.study import run_search
from codesign.search.sweep import run_sweep
from test_cli import HERE, assert_one_line_error, codesign

SPACE = {"version": 1, "model": {"name": "deit_tiny_patch16_224"},
         "accelerator": {"base": "zcu102", "device": "zcu102", "rows": [16, 32, 64], "cols": [32, 64],
                         "dataflow": ["ws", "os"]},
         "compression": {"precision": {"default": ["w8a8", "w4a4"]}, "heads": {"keep_ratio": [1.0, 0.67]}},
         "objectives": ["latency_ms", "energy_mj", "fidelity"],
         "constraints": {"fps": {"min": 150}, "fidelity": {"min": 0.5}},
         "fidelity": {"samples": 4, "proxy": "cosine"}}
OBJ = tuple(SPACE["objectives"])


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """One fidelity cache for the module (the brute force and the searches measure the same choices)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CODESIGN_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield tmp_path_factory.mktemp("study")


@pytest.fixture(scope="module")
def graph():
    from codesign.frontend import extract
    return extract("deit_tiny_patch16_224")


@pytest.fixture(scope="module")
def tiny_graph():
    from codesign.frontend import extract
    return extract("fixture_models:tiny_cnn", input_size=(3, 16, 16))


@pytest.fixture(scope="module")
def brute(env, graph):
    path = str(env / "grid.csv")
    result = run_sweep(SPACE, path, workers=1, graph=graph)
    return result, read_results(path)[1]


def search(env, graph, name, trials=30, seed=0, **kw):
    return run_search(SPACE, trials, seed=seed, population=8, storage=f"sqlite:///{env / name}.db",
                      results=str(env / f"{name}.csv"), graph=graph, **kw)


def test_brute_force_grid(brute):
    result, rows = brute
    assert result.points == len(rows) == 48 and result.feasible == 38 and len(result.front) == 10
    fidelity = {(r["precision.default"], r["heads.keep_ratio"]): r["fidelity"] for r in rows}
    assert len(set(fidelity.values())) == 4          # measured once per compression choice, 4 choices
    assert fidelity[("w8a8", 1.0)] > 0.99 > fidelity[("w8a8", 0.67)] > 0.9 > fidelity[("w4a4", 1.0)] > 0.5


def test_search_front_is_feasible_and_undominated_by_brute_force(env, graph, brute):
    _, rows = brute
    result = search(env, graph, "a")         # 30 distinct points of the 48
    assert result.trials == result.distinct_points == 30 and result.front
    feasible = [r for r in rows if r["feasible"]]
    for point in result.front:
        assert point["feasible"]
        vec = objective_vector(point, OBJ)
        assert not any(dominates(objective_vector(r, OBJ), vec) for r in feasible), point
    true_front = {r["hash"] for r in pareto_front(rows, OBJ)}
    assert {p["hash"] for p in result.front} <= true_front
    assert len(result.front) >= len(true_front) // 2
    # every row the search exported is the brute force's row for that point (same fidelity cache)
    by_hash = {r["hash"]: r for r in rows}
    exported = read_results(result.results_path)[1]
    assert all(by_hash[r["hash"]]["latency_ms"] == r["latency_ms"] for r in exported)


def test_same_seed_same_front_and_resume_runs_only_the_rest(env, graph, brute):
    first = search(env, graph, "a")           # the study of the previous test: already finished
    assert first.evaluated == 0 and first.trials == 30
    again = search(env, graph, "b")
    assert [p["hash"] for p in again.front] == [p["hash"] for p in first.front]
    part = search(env, graph, "c", trials=12)
    rest = search(env, graph, "c", trials=30)
    assert (part.evaluated, rest.evaluated, rest.trials, rest.distinct_points) == (12, 18, 30, 30)
    everything = search(env, graph, "c", trials=100)      # more than the space: every point, once
    assert (everything.trials, everything.distinct_points) == (48, 48)
    assert "the space has only 48 points" in everything.notes[0]


def test_target_fps_picks_best_fidelity_that_reaches_it(env, graph, brute):
    _, rows = brute
    result = search(env, graph, "t", target_fps=500)
    assert result.objectives == ("fidelity",)
    reach = [r for r in rows if r["feasible"] and r["fps"] >= 500]
    expected = min(reach, key=lambda r: (-r["fidelity"], r["latency_ms"]))
    assert (expected["rows"], expected["cols"], expected["dataflow"], expected["precision.default"],
            expected["heads.keep_ratio"]) == (64, 64, "ws", "w8a8", 0.67)
    # the hardware scan found the compression choices that can reach 500 fps: all were measured, and
    # nothing else was needed (one trial each, at its fastest point)
    choices = {(r["precision.default"], r["heads.keep_ratio"]) for r in reach}
    assert result.target.met and result.target.exact and result.trials == len(choices)
    assert result.target.best["hash"] == expected["hash"]
    assert result.target.message.startswith(f"target 500 fps on ZCU102: met by {len(choices)} of {len(choices)} "
                                            "points tried (every one of the")


def test_target_fps_out_of_reach_says_how_close(env, brute):
    space = env / "space.yaml"
    space.write_text(json.dumps(SPACE))
    r = codesign("search", str(space), "--trials", "12", "--population", "6", "--target-fps", "1000",
                 "--device", "zcu102", "--storage", f"sqlite:///{env / 'far.db'}", "-o", str(env / "far.csv"),
                 "--quiet")
    assert r.returncode == 1, r.stderr
    best = max(row["fps"] for row in brute[1] if row["fits"])
    assert "target 1000 fps on ZCU102: no point of the space reaches it (all 48 checked)" in r.stdout
    assert f"the fastest that fits reaches {best:.1f} fps ({best / 10:.0f}% of the target)" in r.stdout
    assert "0 finished trials" in r.stdout        # told by the hardware scan: no search, no fidelity


def test_bad_storage_is_one_line(env):
    space = env / "space.yaml"
    space.write_text(json.dumps(SPACE))
    assert_one_line_error(codesign("search", str(space), "--trials", "5", "--storage", "sqlite:////no/such/dir/s.db"),
                          "--storage 'sqlite:////no/such/dir/s.db': folder '/no/such/dir' does not exist")
    assert_one_line_error(codesign("search", str(space), "--trials", "5", "--storage",
                                   "postgresql://me:secret@127.0.0.1:1/db"), "postgresql://me:***@127.0.0.1:1/db")


def test_compression_sweep_on_a_pool_measures_fidelity_in_workers(env, graph, brute):
    path = str(env / "pool.csv")
    result = run_sweep(SPACE, path, workers=2, graph=graph)
    assert result.evaluated == 48
    assert {r["hash"]: r for r in read_results(path)[1]} == {r["hash"]: r for r in brute[1]}


def _states(db: str) -> dict:
    try:
        with sqlite3.connect(db) as con:
            return dict(con.execute("select state, count(*) from trials group by state").fetchall())
    except sqlite3.OperationalError:       # optuna has not created its tables yet
        return {}


TINY = {"version": 1, "model": {"name": "fixture_models:tiny_cnn", "input_size": [3, 16, 16]},
        "accelerator": {"base": "zcu102", "rows": [4, 8, 16, 32], "cols": [4, 8, 16, 32], "dataflow": ["ws", "os"],
                        "clock_mhz": [150, 200, 250]},
        "objectives": ["latency_ms", "energy_mj"]}       # 96 points, a few milliseconds each


def _tiny_search(tmp_path, trials, name="r"):
    space = tmp_path / "tiny.yaml"
    space.write_text(json.dumps(TINY))
    db = str(tmp_path / "tiny.db")
    args = [sys.executable, "-m", "codesign.cli", "search", str(space), "--trials", str(trials), "--storage",
            f"sqlite:///{db}", "--study-name", "tiny", "--json", "--quiet", "-o", str(tmp_path / f"{name}.csv")]
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return args, env, db


def _assert_exact_study(db: str, trials: int, results: list[str]) -> None:
    """`trials` completed trials, each a distinct point with all its parameters; no trial left running;
    every results file holds exactly those points."""
    import optuna

    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{db}")
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    points = [tuple(sorted(t.params.items())) for t in complete]
    assert len(complete) == len(set(points)) == trials
    assert all(len(t.params) == 5 for t in complete)
    assert not [t.number for t in study.trials if t.state.name == "RUNNING"]
    hashes = {t.user_attrs["row"]["hash"] for t in complete}
    for path in results:
        rows = [r["hash"] for r in read_results(path)[1]]
        assert len(rows) == len(set(rows)) == trials and set(rows) == hashes


@pytest.mark.parametrize("processes", [2, 3])
def test_concurrent_searches_end_with_exactly_n_distinct_points(tmp_path, processes):
    procs = []
    for i in range(processes):
        args, env, db = _tiny_search(tmp_path, 30, f"r{i}")
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * processes, [err for _, err in outs]
    assert [err for _, err in outs] == [""] * processes       # no warning (a trial run twice set its constraints twice)
    results = [json.loads(out) for out, _ in outs]
    assert [(r["trials"], r["distinct_points"]) for r in results] == [(30, 30)] * processes
    assert sum(r["evaluated"] for r in results) == 30          # every point evaluated once, by one process
    _assert_exact_study(db, 30, [r["results"] for r in results])


def test_dead_trials_are_discarded_or_queued_again_whole(tmp_path, tiny_graph):
    """A process killed while NSGA-II was choosing a trial's parameters leaves a RUNNING trial with some of
    them: it is failed and discarded. One killed after choosing them all (it had claimed its point) is
    failed and its whole point queued again."""
    import optuna

    from codesign.search.space import load_space
    from codesign.search.trials import CLAIM

    db, results = str(tmp_path / "tiny.db"), str(tmp_path / "r.csv")
    run = dict(storage=f"sqlite:///{db}", study_name="tiny", results=results, graph=tiny_graph)
    run_search(TINY, 4, **run)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()                      # a process id that no longer runs
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{db}")
    space = load_space(TINY)
    done = [t.params for t in study.trials if t.state.name == "COMPLETE"]
    partial = study.ask()
    study.enqueue_trial(next(p.as_dict() for p in map(space.point_at, range(space.size)) if p.as_dict() not in done))
    whole = study.ask()        # the queued point: one no trial has evaluated
    for trial, count in ((partial, 2), (whole, len(space.knobs))):
        trial.set_user_attr("worker", f"{socket.gethostname()}:{dead.pid}")
        for knob in space.knobs[:count]:
            trial.suggest_categorical(knob.name, list(knob.choices))
    whole.set_user_attr(CLAIM, "claimed")
    assert run_search(TINY, 8, **run).trials == 8
    trials = optuna.load_study(study_name="tiny", storage=f"sqlite:///{db}").trials
    assert trials[partial.number].state.name == trials[whole.number].state.name == "FAIL"
    assert not [t for t in trials if t.user_attrs.get("retry_of") == partial.number]
    retry = [t for t in trials if t.user_attrs.get("retry_of") == whole.number]
    assert len(retry) == 1 and retry[0].state.name == "COMPLETE" and retry[0].params == whole.params
    _assert_exact_study(db, 8, [results])


def test_search_interrupted_at_random_moments_resumes_exactly(tmp_path):
    """Ctrl-C stops at a trial boundary with one line saying how to resume (status 130); kill -9 lands
    anywhere. After each, the same command resumes: the study ends with exactly the trials asked for,
    each a distinct point, and the results file holds them once each."""
    args, env, db = _tiny_search(tmp_path, 40)
    rng = random.Random(15)
    for round, sig in enumerate((signal.SIGKILL, signal.SIGINT, signal.SIGKILL)):
        before = _states(db).get("COMPLETE", 0)
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        if round == 0:                 # anywhere in its first seconds: starting up, or its first trials
            time.sleep(rng.uniform(0, 5))
        else:       # once it searches (Ctrl-C during Python's own start-up is Python's traceback, not ours)
            _wait_for(lambda: _states(db).get("COMPLETE", 0) > before, proc)
            time.sleep(rng.uniform(0, 1.5))
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        if proc.returncode == 0:
            break                      # it finished first
        if sig == signal.SIGKILL:
            assert proc.returncode == -signal.SIGKILL
            continue
        finished = _states(db).get("COMPLETE", 0)
        assert proc.returncode == 130 and "Traceback" not in err, err
        assert err.splitlines() == [f"codesign: interrupted: {finished} of 40 trials finished in study 'tiny' "
                                    f"(sqlite:///{db}); the same command resumes it"]
        assert _states(db).get("RUNNING", 0) == 0        # the trial it was evaluating is failed, not left running
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (json.loads(done.stdout)["trials"], json.loads(done.stdout)["distinct_points"]) == (40, 40)
    _assert_exact_study(db, 40, [str(tmp_path / "r.csv")])
    # a trial killed or interrupted after choosing its whole point is run again once, on that point; one
    # killed while choosing it is dropped
    import optuna

    from codesign.search.trials import CLAIM, MAX_RETRIES
    trials = optuna.load_study(study_name="tiny", storage=f"sqlite:///{db}").trials
    for lost in (t for t in trials if t.state.name == "FAIL"):
        retry = [t.params for t in trials if t.user_attrs.get("retry_of") == lost.number]
        again = CLAIM in lost.user_attrs and lost.user_attrs.get("retries", 0) < MAX_RETRIES
        assert retry == ([lost.params] if again else [])


def _wait_for(condition, proc, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not condition():
        time.sleep(0.05)
