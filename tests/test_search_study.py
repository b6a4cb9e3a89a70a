"""`codesign search`: NSGA-II on deit_tiny x ZCU102 against brute force, seeds, resuming after a kill,
the frame-rate target mode, and sweeps whose fidelity runs in pool workers."""
import json
import os
import signal
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
def brute(env, graph):
    path = str(env / "grid.csv")
    result = run_sweep(SPACE, path, workers=1, graph=graph)
    return result, read_results(path)[1]


def search(env, graph, name, trials=30, seed=0, **kw):
    return run_search(SPACE, trials, seed=seed, population=8, storage=f"sqlite:///{env / name}.db",
                      results=str(env / f"{name}.csv"), graph=graph, **kw)


def test_brute_force_grid(brute):
    result, rows = brute
    assert result.points == len(rows) == 48 and result.feasible == 36 and len(result.front) == 8
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
    assert f"the fastest that fits reaches {best:.1f} fps (73% of the target)" in r.stdout
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


def test_killed_search_resumes_without_losing_or_repeating(tmp_path):
    import optuna

    hardware = {k: v for k, v in SPACE.items() if k not in ("compression", "fidelity")}
    hardware.update(objectives=["latency_ms", "energy_mj"], constraints={"fps": {"min": 150}})
    hardware["accelerator"] = dict(SPACE["accelerator"], rows=[8, 16, 24, 32, 48, 64], cols=[8, 16, 24, 32, 48, 64],
                                   clock_mhz=[150, 200, 250])
    space = tmp_path / "hw.yaml"
    space.write_text(json.dumps(hardware))
    db = str(tmp_path / "s.db")
    args = [sys.executable, "-m", "codesign.cli", "search", str(space), "--trials", "60", "--storage",
            f"sqlite:///{db}", "--study-name", "hw", "-o", str(tmp_path / "r.csv"), "--quiet"]
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 90
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(db) and _states(db).get("COMPLETE", 0) >= 15:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    at_kill = _states(db)
    assert 15 <= at_kill["COMPLETE"] < 60 and at_kill.get("RUNNING", 0) <= 1
    study = optuna.load_study(study_name="hw", storage=f"sqlite:///{db}")
    before = {t.number: (t.params, t.values) for t in study.trials if t.state.name == "COMPLETE"}
    running = [t for t in study.trials if t.state.name == "RUNNING"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "60 finished trials" in done.stdout
    trials = optuna.load_study(study_name="hw", storage=f"sqlite:///{db}").trials
    complete = {t.number: (t.params, t.values) for t in trials if t.state.name == "COMPLETE"}
    assert len(complete) == 60 and all(complete[n] == v for n, v in before.items())
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert [t.number for t in failed] == [t.number for t in running]       # the killed trial, never counted
    for lost in failed:                                                     # ... and run again, same point
        if lost.params:       # (a trial killed before it chose anything has nothing to re-run)
            retry = [t for t in trials if t.user_attrs.get("retry_of") == lost.number]
            assert len(retry) == 1 and retry[0].state.name == "COMPLETE"
            assert lost.params.items() <= retry[0].params.items()         # (it may have been killed mid-way)


def test_two_processes_share_one_study(tmp_path):
    hardware = {k: v for k, v in SPACE.items() if k not in ("compression", "fidelity")}
    hardware.update(objectives=["latency_ms", "energy_mj"], constraints={})
    hardware["accelerator"] = dict(SPACE["accelerator"], rows=[8, 16, 32, 64], cols=[8, 16, 32, 64],
                                   clock_mhz=[150, 200, 250])
    space = tmp_path / "hw.yaml"
    space.write_text(json.dumps(hardware))
    db = str(tmp_path / "shared.db")
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs = [subprocess.Popen([sys.executable, "-m", "codesign.cli", "search", str(space), "--trials", "30",
                               "--storage", f"sqlite:///{db}", "--study-name", "shared", "--json", "--quiet",
                               "-o", str(tmp_path / f"r{i}.csv")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for i in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    results = [json.loads(out) for out, _ in outs]
    complete = _states(db)["COMPLETE"]
    assert 30 <= complete <= 31
    # (SQLite has no row locks: two processes may both take one queued trial, so who finished it can be off by one)
    assert abs(sum(r["evaluated"] for r in results) - complete) <= 1
    assert all(r["trials"] >= 30 for r in results)
