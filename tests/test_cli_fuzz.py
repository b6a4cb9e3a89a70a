"""A fuzzer of the command line: wrong inputs of every kind, run in-process through `codesign.cli.main`.

Each case must end with exit status 2, exactly one line on stderr, no traceback, and no file left in the
working directory that the case did not put there. `pytest --hypothesis-show-statistics` prints how many
cases each command was given; CODESIGN_FUZZ_EXAMPLES=N runs N random (not derandomised) cases per test.
"""
import contextlib
import io
import itertools
import json
import os
import subprocess
import sys
import tempfile

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from codesign.cli import main

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PRESET = open(os.path.join(ROOT, "accel_sim", "presets", "zcu102.yaml"), encoding="utf-8").read()
CFG = open(os.path.join(HERE, "reference", "scalesim", "scale_32x32_os.cfg"), encoding="utf-8").read()
TOPOLOGY = "Layer, M, N, K,\nfc1,16,32,64,\nfc2,16,64,32,\n"
SPACE = ("version: 1\nmodel: {name: 'fixture_models:tiny_cnn', input_size: [3, 16, 16]}\n"
         "accelerator: {rows: [8, 16], cols: [8]}\nobjectives: [latency_ms, energy_mj]\n")
RESULTS_HEADER = ["hash", "model", "rows", "latency_ms", "fps", "energy_mj", "feasible", "violation", "error",
                  "objectives"]
RESULTS_ROW = ["ab12", "m", "8", "1.5", "666.6", "0.2", "true", "0.0", "", "latency_ms,energy_mj"]
_EXAMPLES = int(os.environ.get("CODESIGN_FUZZ_EXAMPLES", "0"))
_modules = itertools.count()


def fuzz(examples: int):
    """A fixed, derandomised budget in the suite; CODESIGN_FUZZ_EXAMPLES for a longer random run."""
    return settings(max_examples=_EXAMPLES or examples, deadline=None, derandomize=not _EXAMPLES,
                    database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def run_cli(argv, files: dict | None = None) -> tuple[int, str]:
    """Run `codesign argv` in a fresh directory holding `files` (name -> bytes, or None for a folder);
    assert that it left nothing else behind. Returns (exit status, stderr)."""
    old_cwd, old_path = os.getcwd(), list(sys.path)
    old_modules = set(sys.modules)
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in (files or {}).items():
            path = os.path.join(tmp, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if data is None:
                os.makedirs(path, exist_ok=True)
            else:
                with open(path, "wb") as fh:
                    fh.write(data)
        before = _listing(tmp)
        err, out = io.StringIO(), io.StringIO()
        os.chdir(tmp)
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                try:
                    code = main(list(argv))
                except SystemExit as exc:
                    code = exc.code
        finally:
            os.chdir(old_cwd)
            sys.path[:] = old_path
            for name in set(sys.modules) - old_modules:
                if name.startswith("user_mod_"):
                    del sys.modules[name]
        left = _listing(tmp) - before
    assert not left, f"{argv}: files left behind: {sorted(left)}"
    return code, err.getvalue()


def _listing(folder: str) -> set:
    return {os.path.relpath(os.path.join(d, n), folder) for d, dirs, names in os.walk(folder)
            for n in dirs + names if "__pycache__" not in d and n != "__pycache__"}


def assert_refused(argv, files=None, *fragments):
    code, err = run_cli(argv, files)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, (argv, code, err[-2000:])
    assert lines[0].startswith("codesign: error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# --- strategies ---------------------------------------------------------------------------------
def reencoded(text: str):
    """The text in another encoding, or with binary bytes inside it."""
    return st.one_of(
        st.sampled_from(["utf-16", "utf-16-be", "utf-32"]).map(lambda enc: text.encode(enc)),
        st.binary(min_size=1, max_size=200).map(lambda junk: junk + b"\0" + text.encode()),
        st.integers(0, len(text)).map(lambda i: text[:i].encode() + b"\xff\xfe\x80" + text[i:].encode()),
        st.text(alphabet="éüß€中", min_size=1, max_size=5).map(lambda s: (s + text).encode("latin-1", "replace")
                                                             .replace(b"?", b"\xe9")),
    )


def deep_yaml():
    """YAML nested past any sane depth, as flow or block collections."""
    return st.tuples(st.integers(65, 3000), st.booleans()).map(
        lambda t: ("a: " + "[" * t[0] + "]" * t[0] + "\n" if t[1]
                   else "".join("  " * i + f"k{i}:\n" for i in range(min(t[0], 400))) + "  " * 400 + "v: 1\n"))


def alias_bomb():
    """'Billion laughs': each level lists the previous one `width` times."""
    def build(levels_width):
        levels, width = levels_width
        lines = ["l0: &l0 [" + ",".join(["lol"] * width) + "]"]
        for i in range(1, levels):
            lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * width) + "]")
        return "\n".join(lines) + "\n"
    return st.tuples(st.integers(6, 12), st.integers(9, 12)).map(build)


BAD_NUMBERS = st.one_of(
    st.integers(2**40, 10**40), st.integers(-10**30, -1), st.sampled_from([float("nan"), float("inf"), -float("inf"),
                                                                           1e300, -1e-300, 1e13]),
    st.text(alphabet="abcxyz%$ ", min_size=1, max_size=8), st.booleans(), st.lists(st.integers(), max_size=3),
    st.none(), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
ACCEL_NUMBER_FIELDS = [("clock_mhz",), ("pe_array", "rows"), ("pe_array", "cols"), ("pe_array", "operand_bits"),
                       ("pe_array", "accum_bits"), ("buffers", "ifmap", "size_kib"), ("buffers", "weight", "banks"),
                       ("buffers", "ofmap", "word_bits"), ("buffers", "ifmap", "read_bw_words_per_cycle"),
                       ("dram", "bandwidth_gbps"), ("dram", "energy_pj_per_bit"), ("vector_unit", "lanes"),
                       ("vector_unit", "cycles_per_element", "gelu"), ("energy", "mac_pj"),
                       ("energy", "buffer_ref_kib"), ("pe_array", "macs_per_cycle", "w8a8")]


def accel_with(path, value) -> bytes:
    data = yaml.safe_load(PRESET)
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return yaml.safe_dump(data).encode()


def out_of_range_int(low: int, high: int):
    """Text an integer option must refuse: outside [low, high], not an integer, or not a number."""
    return st.one_of(st.integers(high + 1, 10**30).map(str), st.integers(-10**12, low - 1).map(str),
                     st.sampled_from(["nan", "inf", "-inf", "1e3", "1.5", "", " ", "two", "0x10", "1,000", "½"]))


# --- files that are not what they claim ----------------------------------------------------------
FILE_ARGS = {   # argv with {} for the file, the file's name, and a valid content to spoil
    "accelerator YAML": (["simulate", "topo.csv", "--accel", "{}"], "acc.yaml", PRESET),
    "SCALE-Sim cfg": (["simulate", "topo.csv", "--accel", "{}"], "arch.cfg", CFG),
    "topology CSV": (["simulate", "{}", "--accel", "zcu102"], "layers.csv", TOPOLOGY),
    "design space (sweep)": (["sweep", "{}", "--workers", "1"], "space.yaml", SPACE),
    "design space (search)": (["search", "{}", "--trials", "2"], "space.yaml", SPACE),
    "precision policy": (["inspect", "fixture_models:tiny_cnn", "--precision", "{}"], "policy.yaml",
                         "default: w8a8\nrules: {'*.fc': w4a8}\n"),
    "results CSV (pareto)": (["pareto", "{}"], "res.csv",
                             ",".join(RESULTS_HEADER) + "\n" + ",".join(f'"{c}"' for c in RESULTS_ROW) + "\n"),
    "results JSONL (pareto)": (["pareto", "{}"], "res.jsonl", json.dumps(dict(zip(RESULTS_HEADER, RESULTS_ROW))) + "\n"),
    "results (emit-hls)": (["emit-hls", "--from-results", "{}", "--row", "0", "-o", "hls"], "res.csv",
                           "model,rows\nfixture_models:tiny_cnn,8\n"),
}


@pytest.mark.parametrize("kind", list(FILE_ARGS))
@fuzz(12)
@given(data=st.data())
def test_files_in_other_encodings_or_binary(kind, data):
    argv, name, text = FILE_ARGS[kind]
    content = data.draw(reencoded(text), label="bytes")
    assert_refused([a.replace("{}", name) for a in argv], {name: content, "topo.csv": TOPOLOGY.encode()})


@pytest.mark.parametrize("kind", ["accelerator YAML", "design space (sweep)", "precision policy"])
@fuzz(8)
@given(data=st.data())
def test_deep_and_exploding_yaml(kind, data):
    argv, name, _ = FILE_ARGS[kind]
    content = data.draw(st.one_of(deep_yaml(), alias_bomb()), label="yaml")
    message = assert_refused([a.replace("{}", name) for a in argv], {name: content.encode(),
                                                                      "topo.csv": TOPOLOGY.encode()})
    assert any(why in message for why in ("deeper than", "nesting depth", "aliases are expanded")), message


@fuzz(15)
@given(key=st.sampled_from(["ArrayHeight", "ArrayWidth", "IfmapSramSzkB", "OfmapSramSzkB", "Bandwidth",
                            "Dataflow"]),
       value=st.sampled_from(["%(x)s", "%(ArrayWidth)s", "%%", "${x}", "1e999", "-5", "0", "99999999999", "a b"]))
def test_scalesim_cfg_values_and_interpolation(key, value):
    lines = [f"{key}: {value}" if line.split(":")[0].strip() == key else line for line in CFG.splitlines()]
    text = "\n".join(lines).replace("InterfaceBandwidth: CALC", "InterfaceBandwidth: USER") + "\n"
    assert_refused(["simulate", "topo.csv", "--accel", "arch.cfg"],
                   {"arch.cfg": text.encode(), "topo.csv": TOPOLOGY.encode()}, key)


# --- numbers with no upper bound ---------------------------------------------------------------------
@fuzz(40)
@given(path=st.sampled_from(ACCEL_NUMBER_FIELDS), value=BAD_NUMBERS)
def test_accelerator_numbers_out_of_range(path, value):
    assert_refused(["simulate", "topo.csv", "--accel", "acc.yaml"],
                   {"acc.yaml": accel_with(path, value), "topo.csv": TOPOLOGY.encode()}, path[-1])


@fuzz(25)
@given(column=st.integers(1, 3), value=st.one_of(st.integers(2**24 + 1, 10**30).map(str),
                                                  st.sampled_from(["0", "-3", "1.5", "1e9", "nan", "x", "½"])))
def test_topology_dimensions_out_of_range(column, value):
    cells = ["fc1", "16", "32", "64"]
    cells[column] = value
    text = "Layer, M, N, K,\n" + ",".join(cells) + ",\n"
    assert_refused(["simulate", "layers.csv"], {"layers.csv": text.encode()}, "line 2")


@fuzz(15)
@given(dims=st.tuples(*[st.integers(2**17, 2**24)] * 3))   # a product above 2^48
def test_topology_too_large_to_count(dims):
    text = "Layer, M, N, K,\nbig," + ",".join(map(str, dims)) + ",\n"
    assert_refused(["simulate", "layers.csv"], {"layers.csv": text.encode()}, "MACs")


SPACE_NUMBERS = [("accelerator", "rows"), ("accelerator", "cols"), ("accelerator", "clock_mhz"),
                 ("accelerator", "ifmap_kib"), ("accelerator", "dram_bandwidth_gbps"), ("accelerator", "vector_lanes"),
                 ("model", "batch"), ("model", "input_size"), ("fidelity", "samples"), ("fidelity", "seed"),
                 ("constraints", "fps"), ("compression", "mlp_keep_ratio")]


@fuzz(40)
@given(where=st.sampled_from(SPACE_NUMBERS), value=BAD_NUMBERS, as_list=st.booleans())
def test_design_space_numbers_out_of_range(where, value, as_list):
    section, key = where
    assume(not isinstance(value, list))      # a list of valid numbers is a valid knob (or input size)
    assume(not (key == "input_size" and value is None))      # None: the model's own size
    data = yaml.safe_load(SPACE)
    if section == "constraints":     # any finite bound is a valid (if unreachable) constraint
        assume(not (isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= 1e300))
        value = {"min": value}
    elif as_list and section == "accelerator":
        value = [8, value]
    data.setdefault(section, {})[key] = value
    assume(not (section == "fidelity" and key == "seed" and isinstance(value, int) and 0 <= value < 2**32))
    assert_refused(["sweep", "space.yaml", "--workers", "1"], {"space.yaml": yaml.safe_dump(data).encode()},
                   "space.yaml")


NUMERIC_OPTIONS = [   # argv before the option, the option, its range
    (["inspect", "fixture_models:tiny_cnn"], "--batch", 1, 4096),
    (["simulate", "topo.csv"], "--batch", 1, 4096),
    (["emit-hls", "fixture_models:tiny_cnn", "-o", "hls"], "--batch", 1, 4096),
    (["sweep", "space.yaml"], "--seed", 0, 2**32 - 1),
    (["search", "space.yaml", "--trials", "2"], "--seed", 0, 2**32 - 1),
    (["emit-hls", "fixture_models:tiny_cnn", "-o", "hls"], "--seed", 0, 2**32 - 1),
    (["emit-hls", "--from-results", "r.csv", "-o", "hls"], "--row", 0, 10**9),
    (["emit-hls", "ref_vit_mnist", "-o", "hls"], "--images", 1, 1 << 16),
    (["sweep", "space.yaml"], "--samples", 1, 10**9),
    (["sweep", "space.yaml"], "--workers", 1, 1024),
    (["search", "space.yaml", "--trials", "2"], "--population", 2, 10**5),
    (["search", "space.yaml"], "--trials", 1, 10**6),
]


@fuzz(60)
@given(option=st.sampled_from(NUMERIC_OPTIONS), data=st.data())
def test_numeric_options_out_of_range(option, data):
    argv, flag, low, high = option
    value = data.draw(out_of_range_int(low, high), label="value")
    assert_refused([*argv, f"{flag}={value}"], {"topo.csv": TOPOLOGY.encode()}, flag)


@fuzz(20)
@given(value=st.one_of(st.sampled_from(["inf", "nan", "-inf", "0", "-1", "1e10", "fast", ""]),
                       st.floats(1e9 + 1, 1e300).map(repr), st.floats(-1e300, 0).map(repr)))
def test_target_fps_out_of_range(value):
    assert_refused(["search", "space.yaml", "--trials", "2", f"--target-fps={value}"], None, "--target-fps")


@fuzz(25)
@given(text=st.one_of(st.lists(st.one_of(st.integers(-5, 0), st.integers(8193, 10**9), st.just("")),
                               min_size=1, max_size=4).map(lambda v: ",".join(map(str, v))),
                      st.sampled_from(["3,,224", ",224", "224,", "3x", "3,224,224,1", "a", "1e3", "3;224"])))
def test_input_size_malformed(text):
    assert_refused(["inspect", "fixture_models:tiny_cnn", f"--input-size={text}"], None, "--input-size")


# --- malformed specs ------------------------------------------------------------------------------
def _is_valid(parse, text) -> bool:
    from accel_sim.errors import UserError
    try:
        parse(text)
    except UserError:
        return False
    return True


SPEC_TEXT = st.text(alphabet="wa0123456789=,:[]*.-re()kindlr ", min_size=1, max_size=24)


@fuzz(40)
@given(flag=st.sampled_from(["--precision", "--prune-heads", "--prune-mlp"]), text=SPEC_TEXT)
def test_compression_specs_malformed(flag, text):
    from codesign.transforms import parse_precision, parse_prune
    parse = {"--precision": parse_precision, "--prune-heads": lambda t: parse_prune(heads=t),
             "--prune-mlp": lambda t: parse_prune(mlp=t)}[flag]
    assume(not text.endswith((".yaml", ".yml")) and not _is_valid(parse, text))
    assert_refused(["inspect", "fixture_models:tiny_cnn", f"{flag}={text}"], None, flag.lstrip("-").split("-")[0])


@fuzz(20)
@given(text=SPEC_TEXT)
def test_layer_dataflow_overrides_malformed(text):
    from codesign.scheduler import parse_overrides
    assume(not _is_valid(parse_overrides, text))
    assert_refused(["simulate", "topo.csv", f"--layer-dataflow={text}"], {"topo.csv": TOPOLOGY.encode()})


@fuzz(20)
@given(spec=st.one_of(st.text(alphabet="abc.:_-/ 9", min_size=1, max_size=16).filter(lambda s: ":" in s),
                      st.sampled_from(["os:system", "json:dumps", "sys:maxsize", ":", "a:", ":b", "..:x",
                                       "fixture_models:not_a_module", "fixture_models:nothing"])))
def test_object_paths_malformed(spec):
    assume(not spec.lstrip().startswith("-"))
    assert_refused(["inspect", spec, "--input-size", "8"])


# --- results rows of the wrong type -------------------------------------------------------------------
CELL = st.one_of(st.text(alphabet="xyz", min_size=1, max_size=4), st.sampled_from(["nan", "inf", "-inf"]))
JSON_VALUE = st.one_of(st.text(max_size=4), st.lists(st.integers(), max_size=2), st.dictionaries(
    st.text(max_size=2), st.integers(), max_size=2), st.sampled_from([float("nan"), float("inf")]))


@fuzz(25)
@given(column=st.sampled_from(["latency_ms", "fps", "energy_mj", "feasible", "violation"]), value=CELL)
def test_results_csv_cells_of_the_wrong_type(column, value):
    row = dict(zip(RESULTS_HEADER, RESULTS_ROW), **{column: value})
    text = ",".join(RESULTS_HEADER) + "\n" + ",".join(f'"{row[c]}"' for c in RESULTS_HEADER) + "\n"
    assert_refused(["pareto", "res.csv"], {"res.csv": text.encode()}, "res.csv")


@fuzz(25)
@given(line=st.one_of(JSON_VALUE.map(json.dumps), st.sampled_from(['{"hash": ', "{'hash': 'a'}", "[", "NaN",
                                                                    '{"hash": "a"} x'])),
       column=st.sampled_from(["latency_ms", "feasible", "hash"]), value=JSON_VALUE)
def test_results_jsonl_lines_malformed(line, column, value):
    assume(not (column == "hash" and isinstance(value, str) and value))
    good = dict(zip(RESULTS_HEADER, RESULTS_ROW), latency_ms=1.5, fps=666.6, energy_mj=0.2, feasible=True,
                violation=0.0, error=None)
    wrong = json.dumps({**good, column: value})
    for second in (line, wrong):
        assert_refused(["pareto", "res.jsonl"], {"res.jsonl": (json.dumps(good) + "\n" + second + "\n").encode()},
                       "line 2")


@fuzz(20)
@given(knobs=st.one_of(st.sampled_from(['{bad', "[1, 2]", '"x"', "{'a': 1}", "{"]),
                       st.dictionaries(st.sampled_from(["pe_array.rows", "rows", "clock_mhz", "dram.bandwidth_gbps"]),
                                       BAD_NUMBERS.filter(lambda v: v is not None), min_size=1,
                                       max_size=2).map(json.dumps)))
def test_from_results_knobs_malformed(knobs):
    text = 'model,knobs\nfixture_models:tiny_cnn,"' + knobs.replace('"', '""') + '"\n'
    assert_refused(["emit-hls", "--from-results", "res.csv", "--row", "0", "-o", "hls"],
                   {"res.csv": text.encode()}, "res.csv")


# --- the user's own code ------------------------------------------------------------------------------
FAILURES = {
    "raises": "def make():\n    raise {exc}('boom from the factory')\n",
    "needs an argument": "def make(width):\n    return width\n",
    "syntax error": "def make(:\n    pass\n",
    "raises at import": "raise {exc}('boom at import')\ndef make():\n    pass\n",
    "exits": "import sys\ndef make():\n    sys.exit(3)\n",
    "returns no module": "def make():\n    return {value}\n",
    "imports what is missing": "import no_such_package_xyz\ndef make():\n    pass\n",
}


@fuzz(30)
@given(kind=st.sampled_from(list(FAILURES)),
       exc=st.sampled_from(["ValueError", "RuntimeError", "KeyError", "ZeroDivisionError", "AssertionError",
                            "ImportError", "TypeError", "MemoryError", "NotImplementedError"]),
       value=st.sampled_from(["None", "42", "'resnet'", "[1]", "object()"]))
def test_failing_model_factories(kind, exc, value):
    module = f"user_mod_{next(_modules)}"
    source = FAILURES[kind].replace("{exc}", exc).replace("{value}", value)
    message = assert_refused(["inspect", f"{module}:make", "--input-size", "8"], {f"{module}.py": source.encode()})
    assert f"{module}:make" in message


# --- places and services ------------------------------------------------------------------------------
@fuzz(15)
@given(address=st.one_of(st.sampled_from(["not a url", "tcp://", "tcp://:8786", "http://host:1", "tcp://127.0.0.1:1",
                                          "tcp://[::1", "tcp://host:99999", "localhost:0", "tcp://a b:1", ""]),
                         st.text(alphabet="abc:/. ", min_size=1, max_size=12)))
def test_dask_addresses(address):
    assume(address.strip() and not address.startswith("inproc"))
    assert_refused(["sweep", "space.yaml", f"--dask={address}"], {"space.yaml": SPACE.encode()}, "--dask")


@fuzz(12)
@given(url=st.sampled_from(["sqlite://", "sqlite:///:memory:", "sqlite:///no/such/dir/x.db", "nonsense",
                            "foo://bar", "postgresql://u@127.0.0.1:1/db", "mysql://u@127.0.0.1:1/db",
                            "sqlite:///.", "sqlite:///file::memory:?cache=shared", "://"]))
def test_storage_urls(url):
    assert_refused(["search", "space.yaml", "--trials", "2", f"--storage={url}"], {"space.yaml": SPACE.encode()},
                   "--storage")


@fuzz(10)
@given(path=st.sampled_from(["results.txt", "results", "r.csv.bak", "dir/", "r.json"]))
def test_search_results_name_checked_first(path):
    assert_refused(["search", "space.yaml", "--trials", "2", "-o", path, "--storage", "sqlite:///s.db"],
                   {"space.yaml": SPACE.encode()}, "results")


OUTPUTS = [(["simulate", "topo.csv", "--plot"], "--plot"), (["sweep", "space.yaml", "--plot"], "--plot"),
           (["sweep", "space.yaml", "-o"], "-o/--results"), (["search", "space.yaml", "--trials", "2", "-o"], "-o"),
           (["pareto", "res.csv", "--out"], "--out"), (["emit-hls", "fixture_models:tiny_cnn", "-o"], "output")]


@fuzz(20)
@given(where=st.sampled_from(OUTPUTS), place=st.sampled_from(["/proc/x", "/proc/x/y.csv", "topo.csv/x",
                                                              "/dev/null/x", "topo.csv"]))
def test_output_places_that_cannot_be_written(where, place):
    argv, flag = where
    assume(not (place == "topo.csv" and flag in ("-o/--results", "-o", "--out")))   # a file there is fine
    files = {"topo.csv": TOPOLOGY.encode(), "space.yaml": SPACE.encode(), "res.csv": b"hash\n"}
    assert_refused([*argv, place], files)


@fuzz(10)
@given(folder=st.dictionaries(st.sampled_from(["sub/", "a.png/", "notes.txt", "b.png", "c.jpg"]),
                              st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"junk"]), min_size=1,
                              max_size=3))
def test_calibration_folders(folder):
    files = {f"cal/{name.rstrip('/')}": (None if name.endswith("/") else data) for name, data in folder.items()}
    files["cal"] = None
    assert_refused(["simulate", "fixture_models:tiny_cnn", "--input-size", "8", "--precision", "w8a8", "--fidelity",
                    "--calibration", "cal"], files, "calibration")


@fuzz(4)
@given(content=st.one_of(st.binary(max_size=300), st.just(b"PK\x03\x04" + bytes(40)), st.just(b"\x80\x02}q\x00.")))
def test_checkpoint_files_of_random_bytes(content):
    assert_refused(["simulate", "fixture_models:tiny_cnn", "--input-size", "8", "--precision", "w8a8", "--fidelity",
                    "--checkpoint", "w.pt"], {"w.pt": content}, "checkpoint")


# --- a few cases by hand, and the real executable -------------------------------------------------------
def test_image_header_claiming_900_megapixels():
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b""))
    assert_refused(["simulate", "fixture_models:tiny_cnn", "--input-size", "8", "--precision", "w8a8", "--fidelity",
                    "--calibration", "cal"], {"cal/a.png": png}, "megapixels")


def test_options_that_would_be_ignored_are_refused():
    topo = {"topo.csv": TOPOLOGY.encode()}
    assert_refused(["simulate", "topo.csv", "--checkpoint", "w.pt"], topo, "--checkpoint", "--fidelity")
    assert_refused(["simulate", "topo.csv", "--evaluator", "m:f"], topo, "--evaluator", "--fidelity")


def test_results_header_of_another_space_is_not_resumed():
    other = ",".join(RESULTS_HEADER) + "\n"
    assert_refused(["sweep", "space.yaml", "--workers", "1", "-o", "res.csv"],
                   {"space.yaml": SPACE.encode(), "res.csv": other.encode()}, "another space")


def test_emit_hls_refuses_a_place_it_cannot_write():
    assert_refused(["emit-hls", "fixture_models:tiny_cnn", "--input-size", "8", "--layers", "conv,pw,dw",
                    "-o", "/proc/codesign", "--force"])


def _subprocess(*args, cwd):
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + ROOT)
    return subprocess.run([sys.executable, "-m", "codesign.cli", *args], capture_output=True, text=True,
                          timeout=120, env=env, cwd=cwd)


def test_smoke_subprocess_one_line_and_debug_traceback(tmp_path):
    (tmp_path / "acc.yaml").write_bytes(PRESET.encode("utf-16"))
    (tmp_path / "topo.csv").write_text(TOPOLOGY)
    r = _subprocess("simulate", "topo.csv", "--accel", "acc.yaml", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "codesign: error: accelerator file 'acc.yaml' is UTF-16 text; save it as UTF-8"]
    (tmp_path / "user_mod_x.py").write_text("def make():\n    raise ValueError('boom')\n")
    r = _subprocess("inspect", "user_mod_x:make", "--debug", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" in r.stderr and "raise ValueError('boom')" in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("codesign: error: model factory 'user_mod_x:make' raised")
