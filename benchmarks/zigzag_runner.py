"""Runs inside the ZigZag venv (benchmarks/.venv-zigzag): one mapping search through ZigZag's public API.
Usage: zigzag_runner.py HARDWARE.yaml WORKLOAD.yaml MAPPING.yaml latency|energy|EDP OUT.json
"""
import json
import logging
import sys
import tempfile
import time

logging.basicConfig(level=logging.WARNING)   # before ZigZag's own basicConfig(INFO), which is then a no-op

from zigzag import api  # noqa: E402


def layer_row(cme) -> dict:
    """The figures of one layer's best mapping, as plain numbers and strings."""
    return {"name": cme.layer.name, "latency_cycles": float(cme.latency_total2),
            "energy_pj": float(cme.energy_total), "mac_pj": float(cme.mac_energy),
            "memory_pj": float(cme.mem_energy),
            "memory_pj_by_operand_level": {str(op): [float(x) for x in levels]
                                           for op, levels in cme.mem_energy_breakdown.items()},
            "ideal_cycles": float(cme.ideal_cycle),
            "ideal_temporal_cycles": float(cme.ideal_temporal_cycle),
            "stall_cycles": float(cme.stall_slack_comb), "onloading_cycles": float(cme.data_onloading_cycle),
            "offloading_cycles": float(cme.data_offloading_cycle),
            "spatial_mapping": str(cme.layer.spatial_mapping), "temporal_mapping": str(cme.temporal_mapping)}


def main() -> None:
    hardware, workload, mapping, opt, out = sys.argv[1:6]
    start = time.perf_counter()
    energy, latency, cmes = api.get_hardware_performance_zigzag(
        workload, hardware, mapping, opt=opt, dump_folder=tempfile.mkdtemp(prefix="zigzag_out_"),
        loma_show_progress_bar=False)
    seconds = time.perf_counter() - start
    layers = [layer_row(cme) for cme, _ in cmes[0][1]]
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({"opt": opt, "seconds": seconds, "latency_cycles": float(latency), "energy_pj": float(energy),
                   "layers": layers}, fh, indent=1)


if __name__ == "__main__":
    main()
