"""The FPGA device table: datasheet figures, lookup by board or part, one-line errors."""
import dataclasses
import json

import pytest

from accel_sim import Device, UserError, get_device, list_devices
from test_cli import codesign


def test_table_holds_the_boards_of_the_brief():
    names = {d.name for d in list_devices()}
    assert {"PYNQ-Z2", "ZCU102", "ZCU104", "KV260", "VCU118", "U250", "U280"} <= names
    for dev in list_devices():
        assert dev.dsp > 0 and dev.bram18k > 0 and dev.lut > 0 and dev.ff >= dev.lut
        assert dev.ddr_bandwidth_gbps > 0 and dev.source and dev.part.lower().startswith("xc")


def test_datasheet_figures():
    zu9 = get_device("ZCU102")                 # DS891: ZU9EG
    assert (zu9.dsp, zu9.bram18k, zu9.uram, zu9.lut, zu9.ff) == (2520, 2 * 912, 0, 274_080, 548_160)
    zu7 = get_device("zcu104")                 # DS891: ZU7EV
    assert (zu7.dsp, zu7.bram18k, zu7.uram) == (1728, 2 * 312, 96)
    z20 = get_device("pynq-z2")                # DS190: Z-7020
    assert (z20.dsp, z20.bram18k, z20.lut, z20.dsp_type) == (220, 280, 53_200, "DSP48E1")
    u280 = get_device("u280")                  # DS963
    assert u280.hbm_bandwidth_gbps == 460 and u280.ddr_bandwidth_gbps == 38


@pytest.mark.parametrize("spec", ["zcu102", "ZCU102", "XCZU9EG", "xczu9eg-ffvb1156-2-e", "zu9eg", " Zcu-102 "])
def test_lookup_by_board_device_or_part(spec):
    assert get_device(spec).name == "ZCU102"


def test_kria_aliases():
    assert get_device("kv260") is get_device("K26") is get_device("xck26-sfvc784-2LV-c")


def test_unknown_device_is_one_line_listing_the_known_names():
    with pytest.raises(UserError) as err:
        get_device("zcu999")
    msg = str(err.value)
    assert "\n" not in msg and "'zcu999'" in msg and "ZCU102" in msg and "U280" in msg


def test_bad_counts_are_user_errors():
    zu9 = get_device("zcu102")
    for field, value in (("dsp", -1), ("lut", 2.5), ("ddr_bandwidth_gbps", -3), ("dsp_type", "DSP58")):
        with pytest.raises(UserError) as err:
            dataclasses.replace(zu9, **{field: value})
        assert field in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(UserError):
        dataclasses.replace(zu9, bram18k=0, uram=0)
    assert isinstance(get_device(zu9), Device)


def test_devices_command():
    r = codesign("devices")
    assert r.returncode == 0, r.stderr
    assert "ZCU102" in r.stdout and "xczu9eg-ffvb1156-2-e" in r.stdout and "2,520" in r.stdout
    r = codesign("devices", "--json")
    rows = json.loads(r.stdout)
    assert {row["name"] for row in rows} >= {"KV260", "VCU118"}
    assert {"part", "dsp", "bram18k", "uram", "lut", "ff", "ddr_bandwidth_gbps", "source"} <= set(rows[0])
