"""Pareto fronts against the definition, and results files (CSV/JSONL) that resume after a crash."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accel_sim.errors import UserError
from codesign.search.pareto import dominates, front_table, pareto_front, write_front
from codesign.search.results_io import ResultsWriter, read_results

OBJ = ("latency_ms", "energy_mj", "fidelity")


def row(h, lat, en, fid, feasible=True):
    return {"hash": h, "latency_ms": lat, "energy_mj": en, "fidelity": fid, "feasible": feasible}


def test_front_of_a_small_set():
    rows = [row("a", 1.0, 9.0, 0.9), row("b", 2.0, 5.0, 0.9), row("c", 2.0, 6.0, 0.9),   # c: dominated by b
            row("d", 3.0, 5.0, 0.99),                                                     # more fidelity: kept
            row("e", 0.5, 1.0, 1.0, feasible=False),                                      # infeasible: ignored
            row("b", 2.0, 5.0, 0.9)]                                                      # same point again
    front = pareto_front(rows, OBJ)
    assert [r["hash"] for r in front] == ["a", "b", "d"]
    assert [r["hash"] for r in pareto_front(rows, ("latency_ms",))] == ["a"]
    assert [r["hash"] for r in pareto_front(rows, ("fidelity",))] == ["d"]          # maximised


vectors = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6), st.booleans()),
                   min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(vectors)
def test_front_matches_the_definition(values):
    rows = [row(f"p{i}", float(a), float(b), float(c), ok) for i, (a, b, c, ok) in enumerate(values)]
    front = {r["hash"] for r in pareto_front(rows, OBJ)}
    def vec(r):
        return (r["latency_ms"], r["energy_mj"], -r["fidelity"])
    expected = {r["hash"] for r in rows if r["feasible"]
                and not any(o["feasible"] and dominates(vec(o), vec(r)) for o in rows)}
    assert front == expected


@pytest.mark.parametrize("ext", [".csv", ".jsonl"])
def test_results_round_trip_and_resume_after_a_torn_line(tmp_path, ext):
    path = str(tmp_path / f"r{ext}")
    cols = ["hash", "rows", "dataflow", "latency_ms", "fits", "first_overflow", "error"]
    first = {"hash": "0123456789012345", "rows": 16, "dataflow": "ws", "latency_ms": 0.1 + 0.2,
             "fits": True, "first_overflow": None, "error": None}
    second = {**first, "hash": "abcdefabcdefabcd", "rows": 32, "latency_ms": 1 / 3, "fits": False,
              "first_overflow": "dsp", "error": "buffers.weight.size_kib=1 is too small"}
    with ResultsWriter(path, cols) as w:
        w.write(first)
        w.write(second)
    with open(path, "a") as fh:         # a process killed in the middle of a row
        fh.write("ffffffffffffffff,64,o")
    columns, rows = read_results(path)
    assert columns == cols and rows == [first, second]     # exact floats, types, None and booleans back
    with pytest.warns(UserWarning, match="dropped a truncated last line"), ResultsWriter(path, cols) as w:
        assert w.done == {first["hash"], second["hash"]}
        w.write({**first, "hash": "9999999999999999"})
    assert [r["hash"] for r in read_results(path)[1]] == [first["hash"], second["hash"], "9999999999999999"]
    with pytest.raises(UserError, match="was written for another space"):
        ResultsWriter(path, cols + ["energy_mj"])


def test_results_file_errors(tmp_path):
    with pytest.raises(UserError, match="ending in .csv or .jsonl"):
        ResultsWriter(str(tmp_path / "r.txt"), ["hash"])
    with pytest.raises(UserError, match="cannot read results file"):
        read_results(str(tmp_path / "missing.csv"))


def test_front_files_and_table(tmp_path):
    rows = [row("aaaaaaaaaaaaaaaa", 1.0, 9.0, 0.9), row("bbbbbbbbbbbbbbbb", 2.0, 5.0, 0.95)]
    cols = ["hash", "rows", "latency_ms", "energy_mj", "fidelity", "feasible"]
    for r, rows_knob in zip(rows, (16, 32)):
        r["rows"] = rows_knob
    front = pareto_front(rows, OBJ)
    paths = write_front(front, cols, OBJ, str(tmp_path / "f"))
    data = json.loads(open(paths[1]).read())
    assert data["objectives"] == {"latency_ms": "minimize", "energy_mj": "minimize", "fidelity": "maximize"}
    assert [p["rows"] for p in data["points"]] == [16, 32]
    assert read_results(paths[0])[1] == front
    text = front_table(front, cols, OBJ, total=5, feasible=2)
    assert text.splitlines()[0] == ("Pareto front: 2 points of 5 (2 feasible); objectives latency_ms (min), "
                                    "energy_mj (min), fidelity (max)")
    assert "aaaaaaaaaa" in text and "rows" in text
