"""Accelerator descriptions: shipped presets, YAML and SCALE-Sim loading, and one-line user errors.
Every bad input must raise UserError whose single-line message names the offending field.
"""
import copy
import dataclasses
import os

import pytest
import yaml

from accel_sim import (Layer, UserError, Workload, accelerator_from_dict, list_presets,
                       load_accelerator, read_topology)
from accel_sim.config import Buffer, Dram, PEArray
from dataflows import Dataflow

REF = os.path.join(os.path.dirname(__file__), "reference", "scalesim")
PRESETS = ["eyeriss", "scalesim_default", "tpu_v1", "u250", "zcu102", "zcu104"]


def one_line_naming(err: pytest.ExceptionInfo, *words):
    msg = str(err.value)
    assert "\n" not in msg, msg
    for word in words:
        assert word in msg, f"{word!r} not in {msg!r}"


def refused_file(tmp_path, name: str, text: str, read, *words):
    """`read` refuses a file `name` holding `text` with one line naming the file and `words`."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UserError) as err:
        read(str(path))
    one_line_naming(err, name, *words)


def test_list_presets():
    listed = dict(list_presets())
    assert sorted(listed) == PRESETS
    assert all(desc and "\n" not in desc for desc in listed.values())


@pytest.mark.parametrize("name", PRESETS)
def test_preset_round_trips_through_dict(name):
    accel = load_accelerator(name)
    assert accel.name == name
    assert accel_from_yaml_text(yaml.safe_dump(accel.to_dict())) == accel
    assert accel.pes == accel.pe_array.rows * accel.pe_array.cols


def accel_from_yaml_text(text):
    return accelerator_from_dict(yaml.safe_load(text), "test.yaml")


def test_preset_figures():
    eyeriss, tpu = load_accelerator("eyeriss"), load_accelerator("tpu_v1")
    assert (eyeriss.pe_array.rows, eyeriss.pe_array.cols, eyeriss.clock_mhz) == (12, 14, 200)
    assert eyeriss.pe_array.dataflow is Dataflow.RS
    assert sum(b.size_kib for _, b in eyeriss.buffers.items()) == 108
    assert eyeriss.register_file.spad_words() == (12, 224, 24)
    assert (tpu.pe_array.rows, tpu.pe_array.dataflow, tpu.clock_mhz) == (256, Dataflow.WS, 700)
    assert tpu.buffers.ifmap.size_kib == 24 * 1024 and tpu.dram.bandwidth_gbps == 34
    assert tpu.dram_bytes_per_cycle == pytest.approx(34e9 / 700e6)
    default = load_accelerator("scalesim_default")
    assert default.pe_array.dataflow is Dataflow.OS and default.dram_bytes_per_cycle == pytest.approx(10)


def test_yaml_file_and_cfg_path(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(load_accelerator("zcu104").to_dict()))
    assert load_accelerator(str(path)).name == "zcu104"
    cfg = load_accelerator(os.path.join(REF, "scale_32x32_os.cfg"))
    assert (cfg.pe_array.rows, cfg.pe_array.cols, cfg.pe_array.dataflow) == (32, 32, Dataflow.OS)
    assert cfg.buffers.weight.size_kib == 64
    assert cfg.dram_bytes_per_cycle >= 1e5   # InterfaceBandwidth: CALC - SCALE-Sim never stalls on DRAM
    user = tmp_path / "user.cfg"
    user.write_text(open(os.path.join(REF, "scale_32x32_os.cfg")).read().replace("CALC", "USER"))
    assert load_accelerator(str(user)).dram_bytes_per_cycle == pytest.approx(10)  # Bandwidth, words/cycle


def test_with_dataflow():
    assert load_accelerator("tpu_v1").with_dataflow("os").pe_array.dataflow is Dataflow.OS


def _edit(path, value):
    data = copy.deepcopy(load_accelerator("zcu102").to_dict())
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize("path, value, words", [
    (("buffers", "ifmap", "size_kib"), 0, ["buffers.ifmap.size_kib", "(0, 67,108,864] KiB"]),
    (("buffers", "weight", "size_kib"), -4, ["buffers.weight.size_kib"]),
    (("dram", "bandwidth_gbps"), -1.0, ["dram.bandwidth_gbps"]),
    (("pe_array", "rows"), 0, ["pe_array.rows"]),
    (("pe_array", "cols"), 2.5, ["pe_array.cols", "integer"]),
    (("pe_array", "dataflow"), "xs", ["pe_array.dataflow", "ws, os, is, rs"]),
    (("clock_mhz",), "fast", ["clock_mhz"]),
    (("energy", "mac_pj"), 0, ["energy.mac_pj"]),
    (("vector_unit", "exp_impl"), "cordic", ["vector_unit.exp_impl", "lut"]),
    (("vector_unit", "cycles_per_element", "gelu"), -2, ["vector_unit.cycles_per_element.gelu"]),
    (("buffers", "ofmap", "double_buffered"), "yes", ["buffers.ofmap.double_buffered"]),
    (("version",), 2, ["version"]),
    (("buffers", "ifmap", "size_kib"), KeyError, ["missing field buffers.ifmap.size_kib"]),
    (("dram",), KeyError, ["missing field dram"]),
    (("buffers", "ifmap", "colour"), "red", ["'colour'", "buffers.ifmap", "size_kib"]),
    (("turbo",), True, ["'turbo'", "allowed keys"]),
])
def test_bad_yaml_values(path, value, words):
    with pytest.raises(UserError) as err:
        accelerator_from_dict(_edit(path, value), "bad.yaml")
    one_line_naming(err, "bad.yaml", *words)


def test_dataclasses_validate_themselves():
    with pytest.raises(UserError):
        Buffer(size_kib=0, word_bits=8, banks=1, read_bw_words_per_cycle=1, write_bw_words_per_cycle=1,
               double_buffered=True)
    with pytest.raises(UserError):
        Dram(bandwidth_gbps=-3, energy_pj_per_bit=1)
    with pytest.raises(UserError):
        PEArray(4, 4, "diagonal", 8)
    accel = load_accelerator("zcu102")
    with pytest.raises(UserError):
        dataclasses.replace(accel, clock_mhz=0)


@pytest.mark.parametrize("text, words", [
    ("version: 1\nname: [unclosed\n", ["malformed YAML", "line"]),
    ("- just\n- a list\n", ["mapping"]),
])
def test_malformed_yaml(tmp_path, text, words):
    refused_file(tmp_path, "broken.yaml", text, load_accelerator, *words)


@pytest.mark.parametrize("spec", ["tpu_v9", "missing.yaml", "/nope/x.cfg", "notes.txt"])
def test_unknown_accelerator(spec):
    with pytest.raises(UserError) as err:
        load_accelerator(spec)
    one_line_naming(err)


CFG_TEXT = ("[general]\nrun_name = 32x32_os\n\n[architecture_presets]\nArrayHeight:    32\n"
            "ArrayWidth:     32\nIfmapSramSzkB:   64\nFilterSramSzkB:  64\nOfmapSramSzkB:   64\n"
            "IfmapOffset:    0\nFilterOffset:   10000000\nOfmapOffset:    20000000\n"
            "Bandwidth : 10\nDataflow : os\nMemoryBanks:   1\n\n[run_presets]\n"
            "InterfaceBandwidth: CALC\n")


def test_good_cfg_text_loads(tmp_path):
    path = tmp_path / "good.cfg"
    path.write_text(CFG_TEXT)
    accel = load_accelerator(str(path))
    assert accel.name == "32x32_os" and accel.pe_array.pes == 1024


@pytest.mark.parametrize("old, new, words", [
    ("ArrayHeight:    32", "ArrayHeight:    big", ["line 5", "column", "ArrayHeight"]),
    ("ArrayWidth:     32", "ArrayWidth:     0", ["line 6", "ArrayWidth"]),
    ("Dataflow : os", "Dataflow : rs", ["Dataflow", "os, ws, is"]),
    ("Dataflow : os", "Dataflow : zz", ["Dataflow"]),
    ("Bandwidth : 10", "Bandwidth : -5", ["Bandwidth", "line 13"]),
    ("InterfaceBandwidth: CALC", "InterfaceBandwidth: FAST", ["InterfaceBandwidth", "CALC or USER"]),
    ("IfmapSramSzkB:   64\n", "", ["missing key IfmapSramSzkB"]),
    ("[architecture_presets]", "[arch]", ["architecture_presets"]),
    ("run_name = 32x32_os", "run_name", ["line"]),
])
def test_bad_scalesim_cfg(tmp_path, old, new, words):
    path = tmp_path / "bad.cfg"
    path.write_text(CFG_TEXT.replace(old, new))
    with pytest.raises(UserError) as err:
        load_accelerator(str(path))
    one_line_naming(err, "bad.cfg", *words)


@pytest.mark.parametrize("text, words", [
    ("Layer, M, N, K,\nqkv, 197, x, 768,\n", ["line 2", "column 3", "N"]),
    ("Layer, M, N, K,\nqkv, 197, 768,\n", ["line 2", "expected 4 values"]),
    ("Layer, M, N, K,\nqkv, 197, 0, 768,\n", ["line 2", "column 3"]),
    ("Name, rows, cols,\na, 1, 2,\n", ["line 1", "header"]),
    ("Layer, M, N, K,\n", ["no layers"]),
    ("", ["empty"]),
    ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
     "c1, 4, 4, 5, 3, 3, 8, 1,\n", ["line 2", "larger than the IFMAP"]),
    ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
     "c1, 8, 8, 3, 3, 3, 8, -1,\n", ["line 2", "column 8", "Stride"]),
])
def test_bad_topology(tmp_path, text, words):
    refused_file(tmp_path, "topo.csv", text, read_topology, *words)


def test_conv_topology(tmp_path):
    # 224x224 padded to 230, 7x7 stride 2: SCALE-Sim's ofmap is ceil((230-7+2)/2) = 113 (PyTorch,
    # which floors, has 112); m = 113*113, k = 7*7*3
    path = tmp_path / "conv.csv"
    path.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
                    "Num Filter, Strides,\nconv1, 230, 230, 7, 7, 3, 64, 2,\nDP_1, 16, 16, 3, 3, 32, 1, 1,\n")
    wl = read_topology(str(path))
    assert (wl.m[0], wl.n[0], wl.k[0], wl.oh[0]) == (113 * 113, 64, 147, 113)
    assert (wl.batch[1], wl.k[1], wl.m[1]) == (32, 9, 14 * 14)   # depthwise: one GEMM per channel


@pytest.mark.parametrize("layer, words", [
    (Layer("fc", m=0, n=4, k=4), ["'fc'", "m must be >= 1"]),
    (Layer("fc", m=4, n=4, k=4, w_bits=0), ["w_bits"]),
    (Layer("fc", m=4, n=4, k=4, a_bits=64), ["a_bits", "32"]),
    (Layer("fc", m=4, n=4, k=4, batch=-1), ["batch"]),
])
def test_bad_workload(layer, words):
    with pytest.raises(UserError) as err:
        Workload.from_layers([layer])
    one_line_naming(err, *words)


def test_bad_layer_kind_and_family():
    with pytest.raises(UserError) as err:
        Layer("x", kind="attention")
    one_line_naming(err, "kind", "gemm, conv, vector")
    with pytest.raises(UserError) as err:
        Layer("x", kind="vector", vector_family="sparkle", elems=4)
    one_line_naming(err, "vector_family", "exp_softmax")
