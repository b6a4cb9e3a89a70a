"""The FPGA resource estimator against hand counts, and which resource overflows first."""
import dataclasses
import json
import math
import os

import pytest

from accel_sim import (Accelerator, Buffer, Buffers, Dram, LutArray, PEArray, VectorCycles,
                       VectorUnit, estimate_resources, load_accelerator)
from accel_sim.energy import horowitz_45nm
from accel_sim.resources import (CONTROL, VECTOR_LANE, bram18k_blocks, finn_r_luts_per_pe,
                                 uram_blocks)
from test_cli import assert_one_line_error, codesign


def design(rows=32, cols=32, buffer_kib=256, lanes=32, lut_array=None, macs_per_cycle=()):
    """An int8 rows x cols array, three buffers of `buffer_kib` in 32 banks of one word per cycle."""
    def buf(bits):
        return Buffer(size_kib=buffer_kib, word_bits=bits, banks=32, read_bw_words_per_cycle=32,
                      write_bw_words_per_cycle=32, double_buffered=True)
    return Accelerator(
        name="hand", clock_mhz=200,
        pe_array=PEArray(rows, cols, "ws", operand_bits=8, macs_per_cycle=macs_per_cycle),
        buffers=Buffers(buf(8), buf(8), buf(32)), register_file=None,
        dram=Dram(bandwidth_gbps=19.2, energy_pj_per_bit=20.0),
        vector_unit=VectorUnit(lanes, VectorCycles(4, 3, 2, 1, 1, 1)),
        energy=horowitz_45nm(8, fpga=True), lut_array=lut_array)


def test_hand_count_32x32_int8_on_zcu102():
    """Hand count, 32x32 INT8 array, three 256 KiB buffers (32 banks each), 32 vector lanes, ZCU102.

    DSPs: 1,024 INT8 PEs at two MACs per DSP48E2 (WP486) = 512; vector unit 32 lanes x 2 = 64;
          total 576 of 2,520 (22.9%).
    BRAM18K: ifmap/weight banks are 8 KiB of 8-bit words: 8,192 deep x 8 wide -> 2K x 9 blocks,
          ceil(8192 / 2048) = 4 per bank, x 32 banks = 128 per buffer. ofmap banks are 8 KiB of
          32-bit words: 2,048 deep x 32 wide -> 512 x 36 blocks, 4 per bank = 128. Total 384 of
          1,824 (21.1%). ZCU102 has no URAM.
    LUTs: vector 32 x 800 + control 12,000 = 37,600. FFs: 32 x 1,200 + 18,000 = 56,400.
    """
    est = estimate_resources(design(), "zcu102")
    assert est.used["dsp"] == 512 + 64 == 576
    assert est.breakdown["pe_array"]["dsp"] == 512
    assert est.used["bram18k"] == 3 * 128 == 384
    assert est.used["uram"] == 0
    assert est.used["lut"] == 32 * VECTOR_LANE["lut"] + CONTROL["lut"] == 37_600
    assert est.used["ff"] == 32 * VECTOR_LANE["ff"] + CONTROL["ff"] == 56_400
    assert est.utilization["dsp"] == pytest.approx(576 / 2520)
    assert est.utilization["bram18k"] == pytest.approx(384 / 1824)
    assert est.fits and est.first_overflow is None
    out = est.to_dict()
    assert out["used"]["dsp"] == 576 and out["available"]["bram18k"] == 1824 and out["fits"] is True
    assert out["buffer_placement"] == {"ifmap": "bram18k", "weight": "bram18k", "ofmap": "bram18k"}


def test_growing_the_array_overflows_dsps_first():
    # 2,520 DSPs - 64 for the vector unit leave 2,456 = 4,912 INT8 PEs: 70x70 fits, 71x71 does not
    assert estimate_resources(design(70, 70), "zcu102").fits
    grown = estimate_resources(design(71, 71), "zcu102")
    assert grown.first_overflow == "dsp" and grown.used["dsp"] == math.ceil(71 * 71 / 2) + 64
    assert not grown.fits and grown.utilization["dsp"] > 1


def test_growing_the_buffers_overflows_bram_first():
    # 1,824 BRAM18K / 3 buffers = 608 per buffer = 19 per bank: 19 x 2 KiB = 38 KiB banks fit
    assert estimate_resources(design(buffer_kib=32 * 38), "zcu102").fits
    grown = estimate_resources(design(buffer_kib=32 * 40), "zcu102")
    assert grown.first_overflow == "bram18k" and grown.used["bram18k"] == 3 * 32 * 20


def test_both_overflow_reports_the_first_in_order():
    est = estimate_resources(design(96, 96, buffer_kib=4096), "zcu102")
    assert est.used["dsp"] > 2520 and est.used["bram18k"] > 1824
    assert est.first_overflow == "dsp"


def test_bram_aspect_ratios_and_uram():
    assert bram18k_blocks(1, 16384) == 1 and bram18k_blocks(9, 2048) == 1 and bram18k_blocks(36, 512) == 1
    assert bram18k_blocks(72, 512) == 2                    # the 512 x 72 SDP RAMB36
    assert bram18k_blocks(18, 1025) == 2 and bram18k_blocks(37, 512) == 2
    assert uram_blocks(72, 4096) == 1 and uram_blocks(73, 4096) == 2 and uram_blocks(8, 4097) == 2


def test_uram_takes_big_buffers_when_the_device_has_it():
    est = estimate_resources(load_accelerator("zcu104"), "zcu104")
    assert est.placement == {"ifmap": "uram", "weight": "uram", "ofmap": "bram18k"}
    assert est.used["uram"] == 96 and est.fits


def test_packing_table_sets_the_dsp_count():
    # zcu102 preset: 4,096 PEs; w16a16 0.5/PE at 1/DSP, w8a8 1/PE at 2/DSP, w4a4 2/PE at 4/DSP
    est = estimate_resources(load_accelerator("zcu102"), "zcu102")
    assert est.breakdown["pe_array"]["dsp"] == 2048
    # a table promising INT4 at 4 MACs per PE needs twice the DSPs
    greedy = estimate_resources(design(macs_per_cycle={"w8a8": 1, "w4a4": 4}), "zcu102")
    assert greedy.breakdown["pe_array"]["dsp"] == 1024
    # 7 series: no INT8 packing on DSP48E1, one MAC per slice
    assert estimate_resources(design(8, 8, buffer_kib=16, lanes=4), "pynq-z2").breakdown["pe_array"]["dsp"] == 64


def test_lut_array_costs_luts_and_ffs():
    luts = finn_r_luts_per_pe(simd=32, w_bits=1, a_bits=1, acc_bits=16)
    assert luts == pytest.approx(1.1 * (32 * 2 + 2 * 63 + 16))    # FINN-R: XNOR lane 2 LUTs
    lut = LutArray(rows=16, cols=16, macs_per_pe_per_cycle=32, luts_per_pe=luts, a_bits=1)
    est = estimate_resources(design(lut_array=lut), "zcu102")
    assert est.breakdown["lut_array"]["lut"] == math.ceil(256 * luts) + 300
    assert est.breakdown["lut_array"]["ff"] == 256 * (32 * 2 + 32)
    assert est.used["dsp"] == 576                                # LUT PEs take no DSPs
    huge = dataclasses.replace(lut, rows=128, cols=128)
    assert estimate_resources(design(lut_array=huge), "zcu102").first_overflow == "lut"


TOPOLOGY = os.path.join(os.path.dirname(__file__), "reference", "scalesim", "vit_b16_gemm.csv")


def test_simulate_reports_resources_in_json_and_text():
    r = codesign("simulate", TOPOLOGY, "--accel", "zcu102", "--device", "ZCU102", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)["resources"]
    assert res["device"] == "ZCU102" and res["fits"] is True and res["first_overflow"] is None
    assert res["used"]["dsp"] == 2048 + 64 * VECTOR_LANE["dsp"]
    r = codesign("simulate", TOPOLOGY, "--accel", "zcu102", "--device", "zcu104", "--summary")
    assert r.returncode == 0, r.stderr                       # the simulation is still shown
    assert "latency" in r.stdout and "DOES NOT FIT on ZCU104: DSP overflows first (2,176 needed, 1,728 available)" in r.stdout


def test_simulate_with_an_unknown_device_is_a_one_line_error():
    assert_one_line_error(codesign("simulate", TOPOLOGY, "--device", "zcu9"), "unknown FPGA device 'zcu9'",
                          "ZCU102")
