"""`codesign sweep`: the same rows in this process, on a process pool and on a real Dask cluster;
resuming after Ctrl-C; workers without torch; one-line errors."""
import json
import os
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


def test_interrupted_sweep_resumes_without_losing_or_repeating(tmp_path):
    space = dict(SPACE, accelerator={"device": "zcu102", "rows": list(range(8, 72, 4)),
                                      "cols": list(range(8, 72, 4)), "dataflow": ["ws", "os"],
                                      "weight_kib": [256, 1024], "clock_mhz": [150, 200, 250]})
    path = tmp_path / "space.yaml"
    path.write_text(json.dumps(space))        # JSON is YAML
    results = tmp_path / "r.csv"
    args = [sys.executable, "-m", "codesign.cli", "sweep", str(path), "-o", str(results), "--workers", "2",
            "--quiet", "--json"]
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 90
    while time.time() < deadline and proc.poll() is None:
        if results.exists() and results.read_text().count("\n") > 300:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "codesign: interrupted", err
    before = {r["hash"]: r for r in read_results(str(results))[1]}
    assert 300 <= len(before) < 3072
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["resumed"] == len(before) and summary["evaluated"] == 3072 - len(before)
    hashes = [r["hash"] for r in read_results(str(results))[1]]
    assert len(hashes) == len(set(hashes)) == 3072
    after = {r["hash"]: r for r in read_results(str(results))[1]}
    assert all(after[h] == row for h, row in before.items())


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
