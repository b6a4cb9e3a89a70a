"""`codesign sweep`: the same rows in this process, on a process pool and on a real Dask cluster;
resuming after Ctrl-C and kill -9 at random moments; workers that die with the sweep; one-line errors."""
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from codesign.search.executors import open_executor
from codesign.search.results_io import read_results
from codesign.search.sweep import run_sweep
from codesign import simulate
from test_cli import HERE, assert_one_line_error, codesign

SPACE = {"version": 1, "model": {"name": "deit_tiny_patch16_224"},
         "accelerator": {"device": "zcu102", "rows": [16, 64], "cols": [16, 64], "dataflow": ["ws", "os", "rs"],
                         "weight_kib": [1, 1024]},
         "objectives": ["latency_ms", "energy_mj", "dsp_util"], "constraints": {"fps": {"min": 50}}}


@pytest.fixture(scope="module")
def graph():
    from codesign.frontend import extract
    return extract("deit_tiny_patch16_224")


@pytest.fixture(scope="module")
def local(graph, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("sweep") / "local.csv")
    result = run_sweep(SPACE, path, workers=1, graph=graph)
    return result, {r["hash"]: r for r in read_results(path)[1]}


def test_sweep_rows_are_real_numbers(local, graph):
    result, rows = local
    assert (result.points, result.evaluated, result.resumed) == (24, 24, 0)
    point = next(r for r in rows.values() if (r["rows"], r["cols"], r["dataflow"], r["weight_kib"]) == (64, 64, "ws", 1024.0))
    # the preset itself (64x64 WS, 1 MiB weights): the same numbers as `codesign simulate`
    sim = simulate(graph, "zcu102")
    assert point["cycles"] == sim.result.cycles == 762_746
    assert point["energy_mj"] == pytest.approx(sim.result.energy_mj) and point["fps"] == pytest.approx(262.2104, rel=1e-5)
    assert point["dsp_used"] == 2176 and point["fits"] is True and point["feasible"] is True
    # points that cannot run are rows with the reason, never feasible: RS needs scratchpads, 1 KiB is too small
    errors = [r for r in rows.values() if r["error"]]
    assert result.errors == len(errors) == 11
    assert all("no register_file" in r["error"] for r in errors if r["dataflow"] == "rs")
    assert any("size_kib=1 is too small" in r["error"] for r in errors)
    assert not any(r["feasible"] for r in errors)
    assert result.feasible == sum(r["feasible"] for r in rows.values()) == 9
    # the front: feasible, and no feasible row dominates any of its points
    assert {r["hash"] for r in result.front} <= {h for h, r in rows.items() if r["feasible"]}
    assert os.path.exists(result.front_paths[0]) and os.path.exists(result.front_paths[1])


def test_pool_gives_the_same_rows(local, graph, tmp_path):
    path = str(tmp_path / "pool.jsonl")
    run_sweep(SPACE, path, workers=2, graph=graph)
    assert {r["hash"]: r for r in read_results(path)[1]} == local[1]


def test_dask_cluster_gives_the_same_rows(local, graph, tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        path = str(tmp_path / "dask.csv")
        result = run_sweep(SPACE, path, dask=cluster.scheduler_address, graph=graph)
        with open_executor(dask_address=cluster.scheduler_address) as (executor, slots):
            torch_loaded = executor.submit(eval, "'torch' in __import__('sys').modules").result()
    assert result.evaluated == 24 and slots == 2 and torch_loaded is False
    assert {r["hash"]: r for r in read_results(path)[1]} == local[1]


def test_pool_workers_do_not_import_torch():
    with open_executor(workers=2) as (executor, _):
        assert executor.submit(eval, "'torch' in __import__('sys').modules").result() is False


TINY = {"version": 1, "model": {"name": "fixture_models:tiny_cnn", "input_size": [3, 16, 16]},
        "accelerator": {"base": "zcu102", "rows": [4, 8, 12, 16, 20, 24, 28, 32], "cols": [4, 8, 12, 16, 20, 24, 28, 32],
                        "dataflow": ["ws", "os"], "clock_mhz": [150, 200, 250]},
        "objectives": ["latency_ms", "energy_mj"]}        # 384 points, a few seconds on two workers


def _session(sid: int) -> list[int]:
    """Processes of session `sid` still alive (zombies, already dead, are not counted)."""
    alive = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{name}/stat") as fh:
                stat = fh.read()
        except OSError:        # ended while we looked
            continue
        state, _, _, session = stat[stat.rindex(")") + 2:].split()[:4]
        if int(session) == sid and state != "Z":
            alive.append(int(name))
    return alive


def _assert_session_ends(sid: int, within_s: float = 5.0) -> None:
    deadline = time.time() + within_s
    while _session(sid) and time.time() < deadline:
        time.sleep(0.1)
    left = _session(sid)
    for pid in left:          # (so that a failure leaves nothing running either)
        os.kill(pid, signal.SIGKILL)
    assert not left, f"still running {within_s:g} s after kill -9 of the sweep: {left}"


def _lines(path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="lists processes through /proc")
def test_sweep_killed_at_random_moments_leaves_no_worker_and_resumes_exactly(tmp_path):
    """kill -9 and Ctrl-C at random moments of a sweep on a process pool, once with a row cut in half (what a
    kill in the middle of writing leaves): no worker outlives a kill -9 (the resource tracker neither), Ctrl-C
    says how to resume, and the runs that follow end with every point once, the rows written before unchanged."""
    space = tmp_path / "space.yaml"
    space.write_text(json.dumps(TINY))
    results = tmp_path / "r.csv"
    args = [sys.executable, "-m", "codesign.cli", "sweep", str(space), "-o", str(results), "--workers", "2",
            "--quiet", "--json"]
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    rng = random.Random(13)
    kept: dict = {}
    cut = False
    for round, sig in enumerate((signal.SIGKILL, signal.SIGINT, signal.SIGKILL)):
        before = _lines(results)
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                start_new_session=True)
        if round == 0:               # anywhere in its first seconds: starting up, or its first rows
            time.sleep(rng.uniform(0.5, 5))
        else:                        # once its workers are running, after a random number of rows
            rows = before + rng.randint(1, 80)
            deadline = time.time() + 90
            while time.time() < deadline and proc.poll() is None and _lines(results) < rows:
                time.sleep(0.01)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        if proc.returncode == 0:
            break                    # it finished first
        if sig == signal.SIGKILL:
            _assert_session_ends(proc.pid)
            if round == 2 and _lines(results) > 2:      # cut the last row in half
                cut = True
                data = results.read_bytes()
                start = data.rstrip(b"\n").rfind(b"\n") + 1
                results.write_bytes(data[:start + (len(data) - start) // 2])
        else:
            rows = read_results(str(results))[1]
            assert proc.returncode == 130 and "Traceback" not in err, err
            assert err.strip().splitlines()[-1] == (f"codesign: interrupted: {len(rows):,} of 384 points are in "
                                                    f"{results}; the same command resumes the sweep")
        if results.exists():
            kept.update({r["hash"]: r for r in read_results(str(results))[1]})
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert ("dropped a truncated last line" in done.stderr) == cut
    summary = json.loads(done.stdout)
    hashes = [r["hash"] for r in read_results(str(results))[1]]
    assert len(hashes) == len(set(hashes)) == summary["points"] == 384
    assert summary["resumed"] == len(kept) and summary["evaluated"] == 384 - len(kept)
    after = {r["hash"]: r for r in read_results(str(results))[1]}
    assert all(after[h] == row for h, row in kept.items())


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="lists processes through /proc")
def test_sweep_on_dask_killed_leaves_no_process_and_no_task(tmp_path):
    """The cluster is the user's (its workers outlive a sweep by design); the sweep starts no process of its
    own for it, and the scheduler forgets a killed sweep's tasks."""
    from distributed import Client, LocalCluster

    space = tmp_path / "space.yaml"
    space.write_text(json.dumps(TINY))
    results = tmp_path / "r.csv"
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster, set_as_default=False) as client:
        proc = subprocess.Popen([sys.executable, "-m", "codesign.cli", "sweep", str(space), "-o", str(results),
                                 "--dask", cluster.scheduler_address, "--quiet"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=env, start_new_session=True)
        deadline = time.time() + 90
        while time.time() < deadline and proc.poll() is None and _lines(results) < 20:
            time.sleep(0.02)
        assert proc.poll() is None          # killed mid-sweep
        proc.kill()
        proc.wait()
        _assert_session_ends(proc.pid)
        deadline = time.time() + 10
        while client.run_on_scheduler(_tasks) and time.time() < deadline:
            time.sleep(0.1)
        assert client.run_on_scheduler(_tasks) == 0


def _tasks(dask_scheduler) -> int:
    return len(dask_scheduler.tasks)


def _space_file(tmp_path, **changes):
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps({**SPACE, **changes}))
    return str(path)


@pytest.mark.parametrize("changes, fragment", [
    ({"accelerator": {"rows": [16], "rowz": [8]}}, "unknown key 'rowz' in accelerator"),
    ({"objectives": ["latency_ms", "speed"]}, "unknown objective 'speed'"),
    ({"accelerator": {"rows": []}}, "accelerator.rows: empty list"),
    ({"constraints": {"fps": {"min": 100, "max": 10}}}, "min 100 > max 10"),
    ({"accelerator": {"base": "u250", "device": "pynq-z2"}}, "no accelerator in the space fits PYNQ-Z2"),
])
def test_bad_spaces_exit_2_with_one_line(tmp_path, changes, fragment):
    assert_one_line_error(codesign("sweep", _space_file(tmp_path, **changes), "-o", str(tmp_path / "r.csv")),
                          "s.yaml", fragment)


def test_empty_space_file(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert_one_line_error(codesign("sweep", str(empty)), "empty.yaml: the space is empty")


def test_dask_address_that_does_not_answer(tmp_path):
    start = time.time()
    result = codesign("sweep", _space_file(tmp_path), "--dask", "tcp://127.0.0.1:9", "-o", str(tmp_path / "r.csv"))
    assert_one_line_error(result, "--dask 'tcp://127.0.0.1:9': nothing answers at 127.0.0.1:9 within 3 s",
                          "dask scheduler")
    assert time.time() - start < 60
    assert not (tmp_path / "r.csv").exists()


def test_pareto_command_recomputes_the_front(local, tmp_path):
    result, rows = local
    r = codesign("pareto", result.results_path, "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["objectives"] == ["latency_ms", "energy_mj", "dsp_util"]        # the file's own
    assert [p["hash"] for p in data["front"]] == [p["hash"] for p in result.front]
    r = codesign("pareto", result.results_path, "--objectives", "latency_ms", "--out", str(tmp_path / "f"),
                 "--plot", str(tmp_path / "plots"))
    assert r.returncode == 0, r.stderr
    fastest = min((x for x in rows.values() if x["feasible"]), key=lambda x: x["latency_ms"])
    assert r.stdout.startswith("Pareto front: 1 point of 24 (9 feasible); objectives latency_ms (min)")
    assert read_results(str(tmp_path / "f.csv"))[1] == [fastest]
    assert sorted(os.listdir(tmp_path / "plots")) == ["front_dsp_latency.png", "front_latency_energy.png"]
    assert_one_line_error(codesign("pareto", result.results_path, "--objectives", "latency,energy_mj"),
                          "unknown objective 'latency'")
    assert_one_line_error(codesign("pareto", result.results_path, "--objectives", "fidelity"),
                          "the results have no 'fidelity' column")
