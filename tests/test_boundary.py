"""The input boundary by its parts: files, numbers, results rows, services, links, figures, API arguments."""
import dataclasses
import math
import os
import warnings

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from accel_sim.errors import UserError
from accel_sim.inputs import check_int, check_number, parse_float, parse_int, read_ini, read_text, read_yaml
from accel_sim.inputs.files import MAX_YAML_DEPTH, parse_yaml
from codesign.boundary.figures import FigureError, check_figures, figure_problem
from codesign.boundary.rows import check_rows, json_lines
from codesign.boundary.services import check_dask_address, check_storage_url


def test_text_files_refuse_other_encodings_and_say_which(tmp_path):
    cases = {"utf16.txt": ("é".encode("utf-16"), "is UTF-16 text"), "nul.txt": (b"a\0b", "is binary"),
             "latin.txt": ("a\nbé".encode("latin-1"), "not UTF-8 text (byte 0xe9 on line 2)")}
    for name, (data, fragment) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(UserError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
            read_text(tmp_path / name, "file")
    (tmp_path / "bom.txt").write_bytes("\ufeffhello".encode("utf-8"))
    assert read_text(tmp_path / "bom.txt", "file") == "hello"
    with pytest.raises(UserError, match="is a directory"):
        read_text(tmp_path, "file")
    os.symlink("/dev/zero", tmp_path / "zero.yaml")
    with pytest.raises(UserError, match="is not a regular file"):
        read_text(tmp_path / "zero.yaml", "file")
    (tmp_path / "big.txt").write_bytes(b"x" * 2048)
    with pytest.raises(UserError, match="larger than"):
        read_text(tmp_path / "big.txt", "file", limit=1024)


def test_yaml_depth_and_alias_budgets():
    depth = MAX_YAML_DEPTH - 1    # the mapping holding the lists is a level too
    assert parse_yaml("a: " + "[" * depth + "]" * depth, "ok.yaml") is not None
    with pytest.raises(UserError, match="nest"):        # libyaml stops at 1,000 levels by itself
        parse_yaml("a: " + "[" * 5000 + "]" * 5000, "deep.yaml")
    with pytest.raises(UserError, match="nested deeper than 64 levels"):
        parse_yaml("a: " + "[" * MAX_YAML_DEPTH + "]" * MAX_YAML_DEPTH, "deep.yaml")
    bomb = "a: &a [" + ",".join(["x"] * 10) + "]\n" + "".join(
        f"{n}: &{n} [" + ",".join([f"*{p}"] * 10) + "]\n" for p, n in zip("abcdef", "bcdefg"))
    with pytest.raises(UserError, match="200,000 YAML nodes once its aliases are expanded"):
        parse_yaml(bomb, "bomb.yaml")
    # a few shared aliases are fine and keep their meaning
    assert parse_yaml("a: &a [1, 2]\nb: *a\n", "ok.yaml") == {"a": [1, 2], "b": [1, 2]}


def test_yaml_and_ini_files(tmp_path):
    (tmp_path / "x.yaml").write_text("a: [1,\n")
    with pytest.raises(UserError, match=r"x.yaml: malformed YAML at line 2"):
        read_yaml(tmp_path / "x.yaml", "file", "x.yaml")
    (tmp_path / "x.cfg").write_text("[general]\nrun_name = %(x)s\n")
    parser, _ = read_ini(tmp_path / "x.cfg", "SCALE-Sim config")
    assert parser["general"]["run_name"] == "%(x)s"      # interpolation is off
    (tmp_path / "y.cfg").write_text("no section\n")
    with pytest.raises(UserError, match="y.cfg: line 1: malformed SCALE-Sim config"):
        read_ini(tmp_path / "y.cfg", "SCALE-Sim config")


@pytest.mark.parametrize("value, fragment", [
    (0, "[1, 65,536] PEs, got 0"), (1 << 16 + 1, "got 131072"), (2.0, "integer"), (True, "got True"),
    ("8", "got '8'"), (10**400, "got 1000000000000000000000000000000000000..."),
])
def test_bounded_integers_state_their_range(value, fragment):
    with pytest.raises(UserError, match=r"rows must be an integer in \[1, 65,536\] PEs") as err:
        check_int(value, "pe_array.rows")
    assert fragment in str(err.value) and len(str(err.value)) < 120


def test_bounded_numbers():
    assert check_number(200, "clock_mhz") == 200 and check_int(64, "lanes") == 64
    for bad in (float("nan"), float("inf"), 0, 1e6, -3, "200"):
        with pytest.raises(UserError, match=r"clock_mhz must be a number in \[0.001, 100,000\] MHz"):
            check_number(bad, "clock_mhz")
    assert parse_int(" 42 ", "--batch") == 42 and parse_float("2.5", "--target-fps") == 2.5
    for text in ("1e3", "4.0", "", "nan", "9" * 40):
        with pytest.raises(UserError, match=r"--batch must be an integer in \[1, 4,096\] images"):
            parse_int(text, "--batch")
    with pytest.raises(UserError, match=r"--target-fps must be a number in \(0, 1,000,000,000\]"):
        parse_float("inf", "--target-fps")


def test_results_rows_are_checked_once():
    label = "results file 'r.jsonl'"
    assert json_lines('{"hash": "a"}\n\n{"hash": "b"}\n', label) == [{"hash": "a"}, {"hash": "b"}]
    for text, fragment in [("3\n", "line 1 holds a JSON int"), ('{"a": 1}\n[1]\n', "line 2 holds a JSON list"),
                           ('{"a": \n', "line 1 is not JSON")]:
        with pytest.raises(UserError, match=fragment):
            json_lines(text, label)
    kinds = {"latency_ms": "number", "feasible": "bool", "hash": "text"}
    check_rows([{"hash": "a", "latency_ms": 1.5, "feasible": True}], ["hash", "latency_ms", "feasible"], kinds,
               label, 1)
    for row, fragment in [({"hash": "a", "latency_ms": "fast", "feasible": True}, "column 'latency_ms' holds 'fast'"),
                          ({"hash": "a", "latency_ms": float("nan"), "feasible": True}, "holds nan, not a finite"),
                          ({"hash": "a", "latency_ms": 1.0, "feasible": "yes"}, "holds 'yes', not true or false"),
                          ({"hash": "a", "latency_ms": 1.0}, "line 1 lacks column 'feasible'")]:
        with pytest.raises(UserError, match=fragment):
            check_rows([row], ["hash", "latency_ms", "feasible"], kinds, label, 1)


def test_results_resume_checks_the_header_and_reports_a_torn_line(tmp_path):
    from codesign.search.results_io import ResultsWriter

    path = str(tmp_path / "r.csv")
    (tmp_path / "r.csv").write_text("hash,model,other\n")          # a header only, of another space
    with pytest.raises(UserError, match="was written for another space"):
        ResultsWriter(path, ["hash", "model", "latency_ms"])
    assert (tmp_path / "r.csv").read_text() == "hash,model,other\n"
    (tmp_path / "r.csv").write_text("hash,model,latency_ms\na,m,1.5\nb,m,2")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ResultsWriter(path, ["hash", "model", "latency_ms"]) as writer:
            assert writer.done == {"a"}
    assert any("dropped a truncated last line" in str(w.message) for w in caught)
    assert (tmp_path / "r.csv").read_text() == "hash,model,latency_ms\na,m,1.5\n"


def test_storage_urls_and_dask_addresses_fail_fast(tmp_path):
    for url, fragment in [("sqlite://", "in-memory SQLite"), ("sqlite:///:memory:", "in-memory"),
                          ("nonsense", "is not a database URL"), ("foo://x", "unknown database scheme 'foo'"),
                          (f"sqlite:///{tmp_path}/no/x.db", "does not exist"),
                          ("postgresql://u@127.0.0.1:1/db", "nothing answers at 127.0.0.1:1")]:
        with pytest.raises(UserError, match=fragment):
            check_storage_url(url)
    check_storage_url(f"sqlite:///{tmp_path}/study.db")
    for address, fragment in [("not a url", "is not an address"), ("http://h:1", "unknown scheme 'http'"),
                              ("tcp://127.0.0.1:1", "nothing answers at 127.0.0.1:1"), ("tcp://", "not an address"),
                              ("tcp://h:99999", "not an address")]:
        with pytest.raises(UserError, match=fragment):
            check_dask_address(address)


def test_project_writer_never_writes_through_a_hard_link(tmp_path):
    from codesign.hls.writer import ProjectWriter

    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    out = tmp_path / "proj"
    out.mkdir()
    os.link(outside, out / "README.md")
    writer = ProjectWriter(str(out), force=True)
    writer.write("README.md", "new")
    assert outside.read_text() == "keep me" and (out / "README.md").read_text() == "new"
    assert sorted(os.listdir(out)) == ["README.md"]          # no temporary file left


def test_figures_out_of_range_are_named():
    good = {"totals": {"cycles": 10, "energy_pj": 1.0, "utilization": 0.5}, "layers": [{"name": "fc", "cycles": 3}]}
    assert figure_problem(good) is None
    assert "layers[0] (fc).cycles = -3 is negative" in figure_problem({"layers": [{"name": "fc", "cycles": -3}]})
    assert "is not finite" in figure_problem({"totals": {"latency_ms": float("nan")}})
    assert "outside [0, 1]" in figure_problem({"totals": {"utilization": 1.5}})
    with pytest.raises(FigureError, match="simulating m: totals.fps = inf is not finite"):
        check_figures({"totals": {"fps": float("inf")}}, "simulating m")


@pytest.mark.parametrize("kwargs, fragment", [
    ({"model": 123}, "model=123 (int) is not valid"),
    ({"model": "t.csv", "accel": None}, "accel=None (NoneType) is not valid"),
    ({"model": "t.csv", "batch": "2"}, "batch='2' (str) is not valid: give an integer"),
    ({"model": "t.csv", "precision": 8}, "precision=8 (int) is not valid"),
    ({"model": "t.csv", "layer_dataflows": "x"}, "layer_dataflows='x' (str) is not valid"),
    ({"model": "t.csv", "input_size": (3, "a", 4)}, "input_size=(3, 'a', 4) is not valid"),
])
def test_api_arguments_name_themselves(kwargs, fragment):
    import codesign

    with pytest.raises(UserError) as err:
        codesign.simulate(**kwargs)
    assert fragment in str(err.value)


def test_dram_slower_than_a_byte_per_thousand_cycles_is_refused():
    from accel_sim.loading import load_accelerator

    base = load_accelerator("zcu102")
    with pytest.raises(UserError, match="bytes per cycle, below the 0.001"):
        dataclasses.replace(base, clock_mhz=100_000, dram=dataclasses.replace(base.dram, bandwidth_gbps=0.001))


def _log_uniform(low: float, high: float, integer: bool):
    exponent = st.floats(math.log10(low), math.log10(high))
    return exponent.map(lambda e: max(int(low), min(int(high), round(10 ** e))) if integer else 10 ** e)


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(rows=_log_uniform(1, 1 << 16, True), cols=_log_uniform(1, 1 << 16, True),
       clock=_log_uniform(0.001, 100_000, False), dram=_log_uniform(0.001, 1e6, False),
       kib=_log_uniform(1, 1 << 26, False), lanes=_log_uniform(1, 1 << 16, True),
       dims=st.lists(st.tuples(*[_log_uniform(1, 1 << 16, True)] * 3), min_size=1, max_size=3))
def test_every_figure_is_finite_and_in_range_at_the_bounds(tmp_path_factory, rows, cols, clock, dram, kib, lanes,
                                                           dims):
    """Accelerators and workloads anywhere within the boundary's ranges give figures that are finite,
    not negative, and utilisation within [0, 1] - or a one-line UserError (e.g. a tile that fits no buffer)."""
    import codesign
    from accel_sim.loading import load_accelerator

    base = load_accelerator("zcu102")
    buffers = type(base.buffers)(*(dataclasses.replace(b, size_kib=kib) for _, b in base.buffers.items()))
    try:
        accel = dataclasses.replace(base, clock_mhz=clock, dram=dataclasses.replace(base.dram, bandwidth_gbps=dram),
                                    pe_array=dataclasses.replace(base.pe_array, rows=rows, cols=cols), buffers=buffers,
                                    vector_unit=dataclasses.replace(base.vector_unit, lanes=lanes))
    except UserError as err:
        assert "bytes per cycle" in str(err)
        return
    topology = tmp_path_factory.mktemp("topo") / "t.csv"
    topology.write_text("Layer, M, N, K,\n" + "".join(f"l{i},{m},{n},{k},\n" for i, (m, n, k) in enumerate(dims)))
    try:
        sim = codesign.simulate(str(topology), accel)
    except UserError as err:
        assert "\n" not in str(err)
        event("refused: " + str(err).split(":")[0][:30])
        return
    event("simulated")
    assert figure_problem(sim.result.to_dict()) is None
