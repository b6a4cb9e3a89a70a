"""One DesignPoint through the pipeline: it round-trips through JSON, every kind of results row
(sweep CSV and JSONL, search front CSV and JSON) names the point that was evaluated, and the HLS
project emitted from a row is the one emitted from that point."""
import filecmp
import json
import os

import pytest

from accel_sim import load_accelerator
from codesign.design import DesignPoint
from codesign.search.results_io import read_results
from codesign.search.row_design import design_from_row
from codesign.search.space import load_space
from codesign.search.study import run_search
from codesign.search.sweep import run_sweep
from codesign.transforms import Compression
from test_cli import codesign

# everything a row must carry besides its knobs: an input size, a batch, unscaled buffer ports
SPACE = {"version": 1, "model": {"name": "deit_tiny_patch16_224", "input_size": [3, 224, 224], "batch": 2},
         "accelerator": {"base": "zcu104", "device": "zcu104", "rows": [16, 32], "cols": [16, 32],
                         "dataflow": ["ws", "os"], "weight_kib": [256.0, 512.0], "scale_ports": False},
         "compression": {"precision": {"default": ["w8a8", "w4a4"]}, "heads": {"keep_ratio": [0.67]},
                         "mlp_keep_ratio": [1.0, 0.5]},
         "objectives": ["latency_ms", "energy_mj"], "fidelity": {"samples": 2, "proxy": "cosine"}}


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    """One fidelity cache for the module: each compression choice is measured once."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CODESIGN_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def graph():
    from codesign.frontend import extract
    return extract("deit_tiny_patch16_224", input_size=(3, 224, 224), batch=2)


def test_design_point_round_trips_through_json():
    design = DesignPoint(model="deit_tiny_patch16_224", accelerator=load_accelerator("zcu102"),
                         compression=Compression.of("default=w8a8,blocks.0.*=w4a4", "0.5", "0.75"),
                         device="xczu9eg-ffvb1156-2-e", input_size="160", batch=2, dataflow="os",
                         layer_dataflows={"blocks.*.attn.qk": "ws"}, mapping="scalesim", objective="energy")
    again = DesignPoint.from_dict(json.loads(json.dumps(design.to_dict())))
    assert again == design and hash(again) == hash(design) and again.key == design.key
    assert design.device == "ZCU102" and design.input_size == (3, 160, 160)
    assert DesignPoint(model="m", accelerator=load_accelerator("zcu102"), batch=4).key != \
        DesignPoint(model="m", accelerator=load_accelerator("zcu102")).key


def _check_rows(space, path: str) -> int:
    """Every row of `path` names the design point of the space point it was written for."""
    points = {p.key: p for p in space.grid()}
    rows = read_results(path)[1] if path.endswith((".csv", ".jsonl")) else json.load(open(path))["points"]
    for i, row in enumerate(rows):
        assert design_from_row(path, i) == space.design_of(points[row["hash"]]), (path, i)
    return len(rows)


@pytest.mark.parametrize("ext", [".csv", ".jsonl"])
def test_every_sweep_row_names_the_point_it_evaluated(tmp_path, graph, ext):
    space = load_space(SPACE)
    path = str(tmp_path / f"sweep{ext}")
    run_sweep(space, path, workers=1, graph=graph)
    assert _check_rows(space, path) == space.size == 64


def test_every_search_front_row_names_the_point_it_evaluated_and_emits_its_project(tmp_path, graph):
    space = load_space(SPACE)
    result = run_search(space, 12, seed=0, population=6, storage=f"sqlite:///{tmp_path / 'study.db'}",
                        results=str(tmp_path / "search.csv"), graph=graph)
    assert _check_rows(space, str(tmp_path / "search.csv")) == 12
    front_csv, front_json = (str(tmp_path / f"search.front{ext}") for ext in (".csv", ".json"))
    assert _check_rows(space, front_csv) == _check_rows(space, front_json) == len(result.front) > 0
    # the project emitted from a front row is the one emitted from its design point
    from codesign.hls import emit_design

    design = space.design_of({p.key: p for p in space.grid()}[read_results(front_csv)[1][0]["hash"]])
    by_row, by_point = tmp_path / "by_row", tmp_path / "by_point"
    r = codesign("emit-hls", "--from-results", front_csv, "--row", "0", "--layers", "blocks.0.mlp.fc1",
                 "-o", str(by_row))
    assert r.returncode == 0, r.stderr
    emit_design(design, layers="blocks.0.mlp.fc1", out_dir=str(by_point))
    names = sorted(os.path.relpath(os.path.join(d, f), by_row) for d, _, fs in os.walk(by_row) for f in fs)
    assert names and names == sorted(os.path.relpath(os.path.join(d, f), by_point)
                                     for d, _, fs in os.walk(by_point) for f in fs)
    match, mismatch, errors = filecmp.cmpfiles(by_row, by_point, names, shallow=False)
    assert not mismatch and not errors and len(match) == len(names)
