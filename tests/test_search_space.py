"""Design spaces: YAML validation (one clear line per mistake), knobs, points and their hashes."""
import os
import subprocess
import sys

import pytest

from accel_sim.loading import load_accelerator
from accel_sim.errors import UserError
from codesign.search.knobs import build_accelerator
from codesign.search.metrics import Bound, Constraints
from codesign.search.space import load_space

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples", "spaces")


def small(**changes) -> dict:
    space = {"version": 1, "model": {"name": "deit_tiny_patch16_224"},
             "accelerator": {"device": "zcu102", "rows": [16, 32], "cols": [32, 64], "dataflow": ["ws", "os"],
                             "clock_mhz": 200},
             "compression": {"precision": {"default": ["w8a8", "w4a4"]}, "heads": {"keep_ratio": [1, 0.67]}},
             "objectives": ["latency_ms", "fidelity"], "fidelity": {"proxy": "cosine"}}
    space.update(changes)
    return space


POINT = {"device": "ZCU102", "rows": 32, "cols": 64, "dataflow": "os", "clock_mhz": 200.0,
         "precision.default": "w4a4", "heads.keep_ratio": 0.67}


def test_knobs_size_and_normalised_values():
    space = load_space(small())
    assert [(k.name, k.choices) for k in space.knobs] == [
        ("device", ("ZCU102",)), ("rows", (16, 32)), ("cols", (32, 64)), ("dataflow", ("ws", "os")),
        ("clock_mhz", (200.0,)), ("precision.default", ("w8a8", "w4a4")), ("heads.keep_ratio", (1.0, 0.67))]
    assert space.size == 32
    assert space.has_device and space.has_compression and space.measures_fidelity
    assert space.constraints == Constraints(fits_device=True)     # a device implies "must fit it"


def test_point_hash_is_a_stable_content_hash():
    space = load_space(small())
    point = space.point(POINT)
    assert point.key == "d8318da75aa8f7cb"
    # the same in another process (no dependence on Python's per-process hash seed)
    code = ("import sys; sys.path.insert(0, %r); from test_search_space import small, POINT; "
            "from codesign.search.space import load_space; print(load_space(small()).point(POINT).key)"
            % os.path.dirname(__file__))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONHASHSEED="123"))
    assert out.stdout.strip() == point.key
    # YAML 1 and 1.0 are the same ratio; another model is another point
    assert load_space(small(compression={"heads": {"keep_ratio": [1]}})).point_at(0).values[-1] == \
        ("heads.keep_ratio", 1.0)
    other = load_space(small(model={"name": "vit_tiny_patch16_224"})).point(POINT)
    assert other.key != point.key and other.values == point.values


def test_grid_order_and_seeded_samples():
    space = load_space(small())
    grid = space.grid()
    assert len({p.key for p in grid}) == 32
    # compression knobs vary slowest, so neighbouring points share a workload
    assert [space.compression_of(p).key for p in grid[:8]] == [space.compression_of(grid[0]).key] * 8
    assert grid[-1].as_dict() == POINT
    first, again, other = space.sample(10, seed=1), space.sample(10, seed=1), space.sample(10, seed=2)
    assert [p.key for p in first] == [p.key for p in again] and len({p.key for p in first}) == 10
    assert [p.key for p in first] != [p.key for p in other]
    assert len(space.sample(100, seed=0)) == 32          # more than the space: the whole grid


def test_point_means_an_accelerator_and_a_compression():
    space = load_space(small())
    point = space.point(POINT)
    acc = space.accelerator_of(point)
    base = load_accelerator("zcu102")
    assert (acc.pe_array.rows, acc.pe_array.cols, acc.pe_array.dataflow.value, acc.clock_mhz) == (32, 64, "os", 200)
    # scale_ports: the ifmap buffer follows the rows (64 -> 32), weights and lanes the columns (64 -> 64)
    assert (acc.buffers.ifmap.banks, acc.buffers.ifmap.read_bw_words_per_cycle) == (32, 32.0)
    assert acc.buffers.weight == base.buffers.weight and acc.vector_unit.lanes == 64
    assert acc.pe_array.macs_per_cycle == base.pe_array.macs_per_cycle
    choice = space.compression_of(point)
    assert choice.precision_spec == "default=w4a4" and choice.heads_spec == "0.67"


def test_build_accelerator_knobs():
    base = load_accelerator("zcu102")
    acc = build_accelerator(base, {"rows": 16, "cols": 128, "weight_kib": 256.0, "dram_bandwidth_gbps": 9.6},
                            scale_ports=True)
    assert acc.buffers.weight.size_kib == 256.0 and acc.buffers.weight.banks == 128
    assert acc.buffers.ofmap.write_bw_words_per_cycle == 128.0 and acc.vector_unit.lanes == 128
    assert acc.buffers.ifmap.banks == 16 and acc.dram.bandwidth_gbps == 9.6
    fixed = build_accelerator(base, {"rows": 16, "cols": 128}, scale_ports=False)
    assert fixed.buffers == base.buffers and fixed.vector_unit.lanes == 64


def test_example_spaces_load():
    hw = load_space(os.path.join(EXAMPLES, "vit_base_hardware.yaml"))
    assert hw.size == 864 and not hw.has_compression and hw.objectives == ("latency_ms", "energy_mj", "dsp_util")
    joint = load_space(os.path.join(EXAMPLES, "deit_tiny_zcu102.yaml"))
    assert joint.size == 216 * 96 and joint.constraints.fits_device
    ref = load_space(os.path.join(EXAMPLES, "ref_vit_kv260.yaml"))
    assert ref.size == 9 * 2 * 8 * 4 * 2 * 2 * 2 and ref.knobs[-1].name == "finetune"
    first = ref.point_at(0).as_dict()
    a, b = (ref.compression_of(ref.point({**first, "finetune": e})) for e in (0, 1))
    assert a.policy == b.policy and a.plan == b.plan and a.key != b.key       # fine-tuning: fidelity only


def test_constraint_violations():
    c = Constraints(True, (Bound("fps", 30.0), Bound("energy_mj", None, 2.0)))
    row = {"fps": 15.0, "energy_mj": 1.0, **{f"{r}_util": 0.5 for r in ("dsp", "bram18k", "uram", "lut", "ff")}}
    assert c.names == ("simulates", "fits_device", "fps", "energy_mj")
    assert c.violations(row) == [-1.0, -0.5, 0.5, -0.5]
    assert c.violations({**row, "dsp_util": 1.25})[1] == 0.25
    assert c.violations({"error": "tile too large"}) == [1e6] * 4


def test_with_overrides_target_fps_and_device():
    space = load_space(small(accelerator={"rows": [16, 32]}, objectives=["latency_ms", "energy_mj"]))
    target = space.with_overrides(device="vcu118", target_fps=30)
    assert target.objectives == ("fidelity",)
    assert target.constraints == Constraints(True, (Bound("fps", 30.0),))
    assert [k.choices for k in target.hardware if k.name == "device"] == [("VCU118",)]


@pytest.mark.parametrize("changes, message", [
    ({"accelerator": {"rowz": [16]}}, "unknown key 'rowz' in accelerator; allowed: base, device, rows"),
    ({"objectives": ["latency"]}, "unknown objective 'latency'; allowed: latency_ms, fps"),
    ({"objectives": []}, "objectives: empty"),
    ({"accelerator": {"rows": []}}, "accelerator.rows: empty list"),
    ({"accelerator": {"rows": [16, 16]}}, "accelerator.rows: 16 is listed twice"),
    ({"accelerator": {"rows": [0]}}, "accelerator.rows must be an integer in [1, 65,536] PEs, got 0"),
    ({"accelerator": {"dataflow": ["xs"]}}, "accelerator.dataflow must be one of ws, os, is, rs"),
    ({"accelerator": {"device": "zcu999"}}, "unknown FPGA device 'zcu999'"),
    ({"accelerator": {"base": "nope"}}, "nope"),
    ({"constraints": {"fps": {"min": 100, "max": 10}}}, "constraints.fps: min 100 > max 10; no point can meet both"),
    ({"constraints": {"fidelity": {"min": 1.5}}}, "constraints.fidelity: min 1.5 cannot be met"),
    ({"constraints": {"watts": {"max": 3}}}, "unknown key 'watts' in constraints"),
    ({"accelerator": {"rows": [16]}, "objectives": ["dsp_util"]}, "dsp_util needs an FPGA device"),
    ({"accelerator": {"base": "u250", "device": "pynq-z2", "rows": [64, 128]}},
     "no accelerator in the space fits PYNQ-Z2: even the smallest (rows=64) needs 16,640 dsp"),
    ({"compression": {"precision": {"default": ["w3a8"]}}}, "allowed widths: 16, 8, 6, 4, 2, 1"),
    ({"compression": {"heads": {"keep_ratio": [1.5]}}}, "compression.heads.keep_ratio must be a number in (0, 1], got 1.5"),
    ({"compression": {"heads": {"keep_ratio": [1.0], "keep_per_block": [2]}}}, "not both"),
    ({"compression": {"precision": {"groups": {"a": {"ops": "*.qkv", "widths": "w8a8"},
                                               "b": {"ops": "*.qkv", "widths": "w4a4"}}}}},
     "ops '*.qkv' is already in group 'a'"),
    ({"version": 2}, "version must be 1"),
    ({"model": {"name": "deit_tiny_patch16_224", "batch": 0}}, "model.batch must be an integer in [1, 4,096] images, got 0"),
    ({"fidelity": {}}, "no accuracy to measure (random weights or no labelled data)"),
    ({"fidelity": {"proxy": "l2"}}, "fidelity.proxy 'l2' is not valid"),
    ({"fidelity": {"proxy": "cosine", "finetune": 2}}, "fine-tuning (fidelity.finetune, compression.finetune) "
                                                       "needs labelled data: deit_tiny_patch16_224 has none"),
    ({"compression": {"precision": {"default": ["w8a8"]}, "finetune": [-1]}}, "compression.finetune must be an integer in [0, 1,000] epochs, got -1"),
])
def test_bad_spaces_are_one_clear_line(changes, message):
    with pytest.raises(UserError) as err:
        load_space(small(**changes))
    text = str(err.value)
    assert message in text and "\n" not in text, text


def test_empty_and_malformed_files(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(UserError, match="empty.yaml: the space is empty"):
        load_space(str(empty))
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nmodel: [\n")
    with pytest.raises(UserError, match="malformed YAML at line"):
        load_space(str(bad))
    with pytest.raises(UserError, match="cannot read design space"):
        load_space(str(tmp_path / "missing.yaml"))
