"""The recorded ZigZag 3.9 figures (reference/zigzag/zigzag_3.9.json) still describe what we simulate:
the same accelerator translation and the same layers. ZigZag itself is not needed (nor installed) here.
"""
import json
import os
import sys

import pytest

from accel_sim import load_accelerator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import bench_vs_zigzag as bench  # noqa: E402
from zigzag_spec import mac_with_registers_pj, zigzag_hardware, zigzag_workload  # noqa: E402


@pytest.fixture(scope="module")
def recorded():
    with open(bench.REFERENCE, encoding="utf-8") as fh:
        return json.load(fh)


def plain(data):
    return json.loads(json.dumps(data))


def test_reference_was_recorded_on_the_translated_accelerator(recorded):
    accel = load_accelerator(bench.ACCEL)
    assert recorded["zigzag_hardware"] == plain(zigzag_hardware(accel))
    assert recorded["zigzag"].startswith("zigzag-dse 3.9.")


@pytest.mark.parametrize("network", sorted(bench.NETWORKS))
def test_reference_layers_are_the_ones_we_simulate(recorded, network):
    accel = load_accelerator(bench.ACCEL)
    ops = bench.network_ops(network)
    entry = recorded["networks"][network]
    assert entry["workload"] == plain(zigzag_workload(ops, accel))
    for opt in bench.OPTS:
        layers = entry[opt]["layers"]
        assert [layer["name"] for layer in layers] == [op.name for op in ops]
        # ZigZag costed each MAC at our MAC + register energy and took at least MACs / PEs cycles
        for layer, op in zip(layers, ops):
            assert layer["mac_pj"] == pytest.approx(op.macs * mac_with_registers_pj(accel))
            assert layer["latency_cycles"] >= op.macs / accel.pes
