"""`codesign emit-hls` without a compiler: the emitted headers carry the design point's numbers,
the descriptor table matches the IR and the simulator, and bad input is one line, exit 2."""
import json
import math
import os
import re

import pytest

from accel_sim.loading import load_accelerator
from accel_sim.devices import get_device
from codesign.errors import UserError
from codesign.frontend import extract
from codesign import emit_hls
from codesign.hls.descriptors import FIELDS
from codesign.search.row_design import design_from_row
from codesign.hls.writer import ProjectWriter
from test_cli import assert_one_line_error, codesign

CNN_LAYERS = "conv,act,dw,pw,fc"


@pytest.fixture(scope="module")
def vit():
    return extract("deit_tiny_patch16_224")


@pytest.fixture(scope="module")
def cnn():
    return extract("fixture_models:tiny_cnn", input_size="3,32,32")


def consts(path):
    """`const int|double CS_X = v;` and `#define CS_PART "..."` of a generated header."""
    text = open(path).read()
    out = {k: float(v) for k, v in re.findall(r"const (?:int|double) (CS_\w+) = ([-0-9.e+]+);", text)}
    out["CS_PART"] = re.search(r'#define CS_PART "([^"]+)"', text).group(1)
    return out


def struct_enums(path):
    found = re.findall(r"struct (\w+) \{\s*enum \{([^}]*)\}", open(path).read())
    return {name: dict(item.strip().split(" = ") for item in body.split(",")) for name, body in found}


def table_rows(path):
    return [[int(v) for v in row.split(",")] for row in re.findall(r"^\s*\{ ([-0-9, ]+) \},$", open(path).read(), re.M)]


def test_headers_carry_the_design_point(vit, tmp_path):
    out = tmp_path / "p"
    emit_hls(vit, accel="zcu102", device="zcu102", precision="w8a8", layers="blocks.0.*", out_dir=str(out))
    accel, dev = load_accelerator("zcu102"), get_device("zcu102")
    c = consts(out / "src" / "cs_config.h")
    assert (c["CS_PE_ROWS"], c["CS_PE_COLS"]) == (accel.pe_array.rows, accel.pe_array.cols) == (64, 64)
    assert c["CS_ACCUM_BITS"] == accel.pe_array.accum_bits == 32
    assert c["CS_CLOCK_MHZ"] == accel.clock_mhz == 200 and c["CS_CLOCK_PERIOD_NS"] == 5.0
    assert c["CS_PART"] == dev.part == "xczu9eg-ffvb1156-2-e"
    for name, buf in accel.buffers.items():
        n = name.upper()
        depth = buf.size_kib * 1024 * 8 / buf.word_bits
        assert c[f"CS_{n}_DEPTH"] == depth and c[f"CS_{n}_WORD_BITS"] == buf.word_bits
        assert c[f"CS_{n}_BANKS"] == buf.banks and c[f"CS_{n}_DOUBLE_BUFFERED"] == 1
        assert c[f"CS_{n}_FILL_WORDS"] == depth / 2
    assert c["CS_IFMAP_DEPTH"] == 1024 * 1024 and c["CS_OFMAP_DEPTH"] == 131072
    assert c["CS_VEC_LANES"] == accel.vector_unit.lanes
    assert c["CS_DRAM_WORD_BITS"] == 512           # 19.2 GB/s at 200 MHz = 768 bits/cycle, capped
    enums = struct_enums(out / "src" / "cs_config.h")
    assert enums["prec_w8a8o8_pe"] == {"W_BITS": "8", "A_BITS": "8", "O_BITS": "8", "ROWS": "CS_PE_ROWS",
                                       "COLS": "CS_PE_COLS", "LANES": "1", "PASSES": "1", "DIGIT_BITS": "8"}
    rate = accel.pe_array.rate(8, 8)                 # the simulator's MACs a PE a cycle at w8a8
    assert (rate.numerator, rate.denominator) == (1, 1)
    assert c["CS_DRAM_BYTES_PER_CYCLE"] == accel.dram_bytes_per_cycle * accel.dram.efficiency
    assert c["CS_LAYER_OVERHEAD_CYCLES"] == round(accel.dram.latency_ns * accel.clock_mhz / 1e3) == 20
    assert enums["vec_a8"]["BITS"] == "8" and enums["vec_a8"]["FRAC"] == "4"
    tcl = (out / "run_hls.tcl").read_text()
    assert "set_part {xczu9eg-ffvb1156-2-e}" in tcl and "create_clock -period 5 " in tcl
    for step in ("open_project", "set_top cs_top", "add_files", "open_solution", "csim_design", "csynth_design",
                 "cosim_design", "export_design"):
        assert step in tcl
    top = (out / "src" / "cs_top.cpp").read_text()
    assert "mode=m_axi port=act_in" in top and "mode=s_axilite port=return" in top
    gemm = (out / "src" / "lib" / "cs_gemm.h").read_text()
    assert "#pragma HLS DATAFLOW" in gemm and "ARRAY_PARTITION variable=a_tile type=cyclic factor=CS_IFMAP_BANKS" in gemm
    assert "type=pipo depth=2" in (out / "src" / "cs_config.h").read_text()
    assert "PIPELINE II=1" in (out / "src" / "lib" / "cs_pe_array.h").read_text()
    readme = (out / "README.md").read_text()
    assert "vitis_hls -f run_hls.tcl" in readme and "g++" in readme


def test_headers_follow_another_design_point(cnn, tmp_path):
    """A different array, clock, word width, a single-buffered weight buffer and another board."""
    base = load_accelerator("scalesim_default").to_dict()
    base["buffers"]["weight"]["double_buffered"] = False
    base["name"] = "small_os"
    import yaml
    yaml_path = tmp_path / "small.yaml"
    yaml_path.write_text(yaml.safe_dump(base))
    out = tmp_path / "p"
    emit_hls(cnn, accel=str(yaml_path), device="zcu104", precision="w4a4", layers=CNN_LAYERS, out_dir=str(out))
    c = consts(out / "src" / "cs_config.h")
    assert (c["CS_PE_ROWS"], c["CS_PE_COLS"], c["CS_CLOCK_MHZ"], c["CS_CLOCK_PERIOD_NS"]) == (32, 32, 1000, 1)
    assert c["CS_PART"] == get_device("zcu104").part
    assert c["CS_OFMAP_WORD_BITS"] == 8 and c["CS_OFMAP_DEPTH"] == 65536 and c["CS_OFMAP_FILL_WORDS"] == 32768
    assert c["CS_WEIGHT_DOUBLE_BUFFERED"] == 0 and c["CS_WEIGHT_FILL_WORDS"] == c["CS_WEIGHT_DEPTH"] == 65536
    config = (out / "src" / "cs_config.h").read_text()
    assert "#define CS_WEIGHT_CHANNEL(var) CS_PRAGMA(HLS stream variable=var type=shared)" in config
    assert "const int CS_DEFAULT_DATAFLOW = cs::DF_OS;" in config
    assert struct_enums(out / "src" / "cs_config.h")["prec_w4a4o4_pe"]["W_BITS"] == "4"
    assert "create_clock -period 1 " in (out / "run_hls.tcl").read_text()


def test_descriptor_table_matches_the_ir_and_the_simulator(vit, tmp_path):
    out = tmp_path / "p"
    result = emit_hls(vit, precision="w8a8", layers="blocks.0.*", out_dir=str(out))
    base = (out / "src" / "lib" / "cs_base.h").read_text()
    body = re.search(r"struct LayerDesc \{(.*?)\};", base, re.S).group(1)
    declared = [n.strip() for line in re.findall(r"int ([^;]+);", body) for n in line.split(",")]
    assert tuple(declared) == FIELDS
    rows = table_rows(out / "src" / "cs_layers.h")
    ops = [op for op in vit.ops if op.name.startswith("blocks.0.")]
    assert len(rows) == len(ops) == 12
    accel = load_accelerator("zcu102")
    for row, op in zip(rows, ops):
        v = dict(zip(FIELDS, row))
        if not op.on_pe_array:
            assert v["elems"] == op.out_elems
            continue
        g = op.gemm
        assert (v["m"], v["n"], v["k"], v["batch"]) == (g.m, g.n, g.k, g.batch)
        # weight stationary: K folds over the rows, N tiles over the columns, as the simulator folds
        assert v["k_folds"] == v["sim_row_folds"] == math.ceil(g.k / 64)
        assert v["n_tiles"] == v["sim_col_folds"] == math.ceil(g.n / 64) and v["tile_n"] == 64
        ifmap_fill_bits = accel.buffers.ifmap.fill_bytes * 8
        assert v["tile_m"] * g.k * 8 <= ifmap_fill_bits and v["tile_m"] * 64 * 32 <= accel.buffers.ofmap.fill_bytes * 8
        assert v["tile_m"] == g.m                  # 197 rows fit: one tile per column fold
    names = re.findall(r"LAYER_(\w+) = \d+", (out / "src" / "cs_layers.h").read_text())
    assert names[:3] == ["blocks_0_norm1", "blocks_0_attn_qkv", "blocks_0_attn_qk"] and len(set(names)) == 12
    # every layer writes its own region; a consumer reads its producer's region in place
    outs = sorted((e.regions["o"].word_off, e.regions["o"].words) for e in result.table.entries)
    assert all(a + n <= b for (a, n), (b, _) in zip(outs, outs[1:]))
    assert outs[-1][0] + outs[-1][1] <= result.table.act_words
    by_name = {e.op.name: e for e in result.table.entries}
    fc2 = by_name["blocks.0.mlp.fc2"]
    assert fc2.sources["a"] == "blocks.0.mlp.act" and fc2.regions["a"] == by_name["blocks.0.mlp.act"].regions["o"]
    assert by_name["blocks.0.attn.qk"].sources == {"a": None, "b": None}   # head split folded out of the IR


def test_mixed_precision_gives_one_kernel_per_width(vit, tmp_path):
    out = tmp_path / "p"
    result = emit_hls(vit, precision="default=w8a8,*.mlp.fc1=w4a4,*.mlp.fc2=w1a8", layers="blocks.0.*",
                      out_dir=str(out))
    variants = result.to_dict()["variants"]
    # fc1 reads 4-bit activations and writes 8-bit ones for the 8-bit GELU; fc2 has binary weights
    assert {"gemm:prec_w8a8o8_pe", "gemm:prec_w4a4o8_pe", "gemm:prec_w1a8o8_pe"} <= set(variants)
    top = (out / "src" / "cs_top.cpp").read_text()
    assert "cs::gemm_layer<prec_w1a8o8_pe>(d, act_in, act_b, wgt, act_out)" in top
    assert "typedef ap_uint<1> w_t;  // binary" in (out / "src" / "cs_config.h").read_text()
    manifest = json.loads((out / "tb" / "data" / "manifest.json").read_text())
    assert manifest["dram_word_bits"] == 512 and {c["kind"] for c in manifest["cases"]} >= {"linear", "softmax"}


def test_refusals_name_what_is_wrong(vit, cnn, tmp_path):
    with pytest.raises(UserError, match=r"w16a16 of 'blocks.0.attn.qkv' cannot be expressed: .*39-bit accumulator"):
        emit_hls(vit, precision="w16a16", layers="blocks.0.*", out_dir=str(tmp_path / "a"))
    with pytest.raises(UserError, match=r"dataflow rs of 'conv' cannot be emitted"):
        emit_hls(cnn, accel="eyeriss", device="zcu102", precision="w8a8", layers=CNN_LAYERS, out_dir=str(tmp_path / "b"))
    with pytest.raises(UserError, match=r"cannot emit 'bn' \(batch_norm\)"):      # BN without its conv: not folded
        emit_hls(cnn, precision="w8a8", layers="bn,pool", out_dir=str(tmp_path / "c"))
    with pytest.raises(UserError, match=r"--layers 'blocks.99.\*' matches no op"):
        emit_hls(vit, precision="w8a8", layers="blocks.99.*", out_dir=str(tmp_path / "d"))
    poly = load_accelerator("zcu102").to_dict()
    poly["vector_unit"]["exp_impl"] = "poly"
    from accel_sim.config import accelerator_from_dict
    with pytest.raises(UserError, match=r"exp_impl='poly' cannot be emitted"):
        emit_hls(vit, accel=accelerator_from_dict(poly), precision="w8a8", layers="blocks.0.attn.*",
                 out_dir=str(tmp_path / "e"))


def test_writer_stays_inside_the_output_directory(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "proj"
    root.mkdir()
    (root / "tb").symlink_to(outside)
    (root / "inner").mkdir()
    (root / "ok").symlink_to(root / "inner")
    writer = ProjectWriter(str(root), force=True)
    for rel in ("../x.h", "/etc/x", "src/../../x", "tb/data/x.bin"):
        with pytest.raises(UserError, match="refusing to write"):
            writer.write(rel, b"x")
    writer.write("ok/fine.txt", "fine")             # a link that stays inside is followed
    assert (root / "inner" / "fine.txt").read_text() == "fine" and os.listdir(outside) == []
    with pytest.raises(UserError, match="is not empty; pass --force"):
        ProjectWriter(str(root))


def test_design_point_from_a_results_row(tmp_path):
    rows = tmp_path / "res.jsonl"
    rows.write_text('{"model": "resnet18", "latency_ms": 3.1}\n'
                    '{"model": "deit_tiny_patch16_224", "accel": "zcu104", "precision": "w4a4", '
                    '"knobs": {"pe_array.rows": 32, "clock_mhz": 250}, "ifmap_kib": 512, "fps": 99}\n')
    point = design_from_row(str(rows), 1)
    accel = point.accelerator
    assert point.model == "deit_tiny_patch16_224" and point.compression.precision_spec == "default=w4a4"
    assert (accel.pe_array.rows, accel.pe_array.cols, accel.clock_mhz) == (32, 48, 250)
    assert accel.buffers.ifmap.size_kib == 512 and accel.name == "zcu104"      # no name suffix
    with pytest.raises(UserError, match="--row 5 is out of range"):
        design_from_row(str(rows), 5)


def test_cli_emits_from_a_results_row_and_refuses_bad_input(tmp_path):
    csv = tmp_path / "sweep.csv"
    csv.write_text("model,accel,precision,rows,cols,clock_mhz,weight_kib,latency_ms\n"
                   "fixture_models:tiny_cnn,zcu102,w8a8,64,64,200,1024,0.1\n"
                   "fixture_models:tiny_cnn,zcu102,w4a4,16,8,150,256,0.3\n")
    out = tmp_path / "from_row"
    r = codesign("emit-hls", "--from-results", str(csv), "--row", "1", "--input-size", "3,32,32",
                 "--layers", CNN_LAYERS, "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["layers"] == CNN_LAYERS.split(",")
    c = consts(out / "src" / "cs_config.h")
    assert (c["CS_PE_ROWS"], c["CS_PE_COLS"], c["CS_CLOCK_MHZ"], c["CS_WEIGHT_DEPTH"]) == (16, 8, 150, 256 * 1024)
    assert "prec_w4a4o4_pe" in (out / "src" / "cs_config.h").read_text()
    # a non-empty directory without --force (checked before the model is built)
    assert_one_line_error(codesign("emit-hls", "resnet18", "--precision", "w8a8", "-o", str(out)),
                          "is not empty", "--force")
    # an unsupported op in the chosen layers, named (a BatchNorm folds only into its chosen conv)
    assert_one_line_error(codesign("emit-hls", "fixture_models:tiny_cnn", "--input-size", "3,32,32", "--layers", "bn",
                                   "--precision", "w8a8", "-o", str(tmp_path / "x")), "'bn' (batch_norm)")
    # a precision the templates cannot express
    assert_one_line_error(codesign("emit-hls", "fixture_models:tiny_cnn", "--input-size", "3,32,32",
                                   "--layers", "conv", "-o", str(tmp_path / "y")),
                          "w16a16 of 'conv' cannot be expressed", "accumulator")
    # a path out of the directory: a symbolic link inside it that leads elsewhere
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (out / "tb").rename(tmp_path / "old_tb")
    (out / "tb").symlink_to(outside)
    assert_one_line_error(codesign("emit-hls", "--from-results", str(csv), "--row", "1", "--input-size", "3,32,32",
                                   "--layers", CNN_LAYERS, "-o", str(out), "--force"),
                          "refusing to write", "symbolic link out of the output directory")
    assert os.listdir(outside) == []


def test_from_results_row_of_a_search_builds_the_evaluated_accelerator(tmp_path):
    """A row as `codesign search` writes it: short knobs applied with the search's own builder."""
    from accel_sim import load_accelerator
    from codesign.search.row_design import design_from_row
    from codesign.search.knobs import build_accelerator

    row = tmp_path / "front.csv"
    row.write_text("hash,model,base,device,rows,cols,dataflow,ifmap_kib,dram_bandwidth_gbps,clock_mhz,"
                   "mlp_keep_ratio,precision,prune_heads,latency_ms\n"
                   "abc,deit_tiny_patch16_224,zcu102,ZCU102,64,32,os,256.0,9.6,150.0,1.0,default=w8a8,0.67,10.4\n")
    point = design_from_row(str(row), 0)
    expected = build_accelerator(load_accelerator("zcu102"), {"rows": 64, "cols": 32, "dataflow": "os",
                                 "ifmap_kib": 256.0, "dram_bandwidth_gbps": 9.6, "clock_mhz": 150.0}, True)
    got = point.accelerator
    assert (got.pe_array.rows, got.pe_array.cols, got.clock_mhz) == (64, 32, 150.0)
    assert got.buffers == expected.buffers and got.vector_unit == expected.vector_unit
    assert got.dram.bandwidth_gbps == 9.6
    assert (point.model, point.compression.to_dict(), point.device) == (
        "deit_tiny_patch16_224", {"precision": "default=w8a8", "prune_heads": "0.67", "mlp_keep_ratio": 1.0}, "ZCU102")
