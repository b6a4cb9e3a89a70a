"""The `codesign` command line as a user runs it: output contracts and one-line errors (exit 2)."""
import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def codesign(*args, timeout=120):
    env = dict(os.environ, PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "codesign.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_inspect_json_contract():
    r = codesign("inspect", "fixture_models:tiny_cnn", "--input-size", "3,32,32", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["model"] == "fixture_models:tiny_cnn" and data["input_shape"] == [1, 3, 32, 32]
    assert {"macs", "params"} <= set(data["totals"])
    assert {"name", "kind", "macs"} <= set(data["ops"][0])
    assert data["totals"]["macs"] == sum(op["macs"] for op in data["ops"])
    assert "extract_s" in data["timing"]


def test_inspect_csv_and_table():
    r = codesign("inspect", "fixture_models:tiny_cnn", "--input-size", "32", "--csv")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith("name,kind,block,output_shape,macs,params")
    assert any(line.startswith("dw,conv2d,") for line in lines)
    r = codesign("inspect", "fixture_models:tiny_cnn", "--input-size", "32")
    assert r.returncode == 0 and "total:" in r.stdout and "conv2d" in r.stdout


def test_unknown_model_suggests_closest():
    assert_one_line_error(codesign("inspect", "resnet_18"), "unknown model", "resnet18")


def test_bad_input_size_is_refused_before_building():
    assert_one_line_error(codesign("inspect", "resnet18", "--input-size", "3,0,224"), "--input-size")


def test_export_failure_names_module():
    assert_one_line_error(codesign("inspect", "fixture_models:data_dependent", "--input-size", "8"),
                          "cannot export", "inner")


def test_argparse_errors_are_one_line():
    assert_one_line_error(codesign("inspect", "resnet18", "--batch", "two"), "--batch")
    assert_one_line_error(codesign("inspect", "resnet18", "--batch", "0"), "--batch")


def test_models_lists_timm_names():
    r = codesign("models", "deit_tiny*")
    assert r.returncode == 0 and "deit_tiny_patch16_224" in r.stdout.split()
