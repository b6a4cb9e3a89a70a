"""FPGA boards and their devices: DSP slices, BRAM18K, URAM, LUTs, FFs and off-chip bandwidth.
`get_device(name)` takes a board name or a part (case-insensitive); figures come from the datasheets.
"""
# Sources, one per row below (device figures from the family overview, bandwidth from the board):
#   Zynq-7000:           Xilinx DS190 "Zynq-7000 SoC Data Sheet: Overview", product table (Z-7020).
#   Zynq UltraScale+:    Xilinx DS891 "Zynq UltraScale+ MPSoC Data Sheet: Overview", product
#                        tables (ZU9EG, ZU7EV); Kria K26: DS987 "Kria K26 SOM Data Sheet" (the KV260
#                        starter kit, DS986, carries the K26 SOM).
#   Virtex UltraScale+:  Xilinx DS890 "UltraScale Architecture and Product Data Sheet: Overview" (VU9P).
#   Alveo:               DS962 "Alveo U200 and U250 Data Center Accelerator Cards Data Sheet",
#                        DS963 "Alveo U280 Data Center Accelerator Card Data Sheet".
#   Boards:              UG1182 (ZCU102), UG1267 (ZCU104), UG1224 (VCU118), TUL PYNQ-Z2 reference
#                        manual (512 MB DDR3, 16-bit at 1050 Mb/s).
# BRAM is counted in 18 Kb blocks: the datasheets list 36 Kb blocks, each two BRAM18K (UG573).
# URAM blocks are 288 Kb (4K x 72, UG573). DDR bandwidth is the theoretical peak: bus width x
# transfer rate, summed over the board's channels that the fabric can reach. On Alveo cards the
# platform shell (static region) takes part of the device; the figures below are the whole device.
from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass

from accel_sim.errors import UserError
from accel_sim.inputs.numbers import check_int, check_number
from accel_sim.packing import DSP_MULTIPLIER_BITS


@dataclass(frozen=True)
class Device:
    """One FPGA board (or card) and the device on it; counts are whole-device totals."""
    name: str                     # board, e.g. "ZCU102"
    device: str                   # silicon, e.g. "XCZU9EG"
    part: str                     # full part number for Vitis HLS / Vivado
    family: str
    dsp_type: str                 # "DSP48E1" (7 series) or "DSP48E2" (UltraScale/UltraScale+)
    dsp: int
    bram18k: int
    uram: int
    lut: int
    ff: int
    ddr_bandwidth_gbps: float     # GB/s (1e9 bytes/s), peak, all fabric-reachable DDR channels
    hbm_bandwidth_gbps: float = 0.0
    source: str = ""

    def __post_init__(self):
        for field in ("name", "device", "part", "family"):
            if not isinstance(getattr(self, field), str) or not getattr(self, field):
                raise UserError(f"device {field} must be a non-empty string, got {getattr(self, field)!r}")
        if self.dsp_type not in DSP_MULTIPLIER_BITS:
            raise UserError(f"device {self.name}: dsp_type must be one of "
                            f"{', '.join(DSP_MULTIPLIER_BITS)}; got {self.dsp_type!r}")
        for field in ("dsp", "bram18k", "uram", "lut", "ff"):
            check_int(getattr(self, field), f"device {self.name}: {field}")
        if self.dsp + self.lut == 0 or self.bram18k + self.uram == 0:
            raise UserError(f"device {self.name}: a device needs DSPs or LUTs, and BRAM or URAM")
        for field in ("ddr_bandwidth_gbps", "hbm_bandwidth_gbps"):
            check_number(getattr(self, field), f"device {self.name}: {field}")

    def available(self) -> dict[str, int]:
        """Resource name -> count, in the order resources are checked."""
        return {name: getattr(self, name) for name in RESOURCE_ORDER}

    def to_dict(self) -> dict:
        return asdict(self)


# The order in which `ResourceEstimate.first_overflow` looks: hard blocks first (what a design is
# usually sized by), then fabric.
RESOURCE_ORDER = ("dsp", "bram18k", "uram", "lut", "ff")

_US = "DSP48E2"
# (board, device, part for HLS, family, DSP type, DSP slices, BRAM18K, URAM, LUTs, FFs,
#  DDR GB/s, HBM GB/s, source of the row)
_ROWS = [
    ("PYNQ-Z2", "XC7Z020", "xc7z020clg400-1", "Zynq-7000", "DSP48E1", 220, 280, 0, 53_200, 106_400, 2.1, 0.0,
     "DS190 (Z-7020); PYNQ-Z2 manual: DDR3 16-bit x 1050 Mb/s"),
    ("ZCU102", "XCZU9EG", "xczu9eg-ffvb1156-2-e", "Zynq UltraScale+ MPSoC", _US, 2_520, 1_824, 0, 274_080,
     548_160, 19.2, 0.0, "DS891 (ZU9EG); UG1182: PS DDR4 64-bit x 2400 MT/s"),
    ("ZCU104", "XCZU7EV", "xczu7ev-ffvc1156-2-e", "Zynq UltraScale+ MPSoC", _US, 1_728, 624, 96, 230_400,
     460_800, 19.2, 0.0, "DS891 (ZU7EV); UG1267: PS DDR4 64-bit x 2400 MT/s"),
    ("KV260", "XCK26", "xck26-sfvc784-2LV-c", "Kria K26 SOM (Zynq UltraScale+)", _US, 1_248, 288, 64,
     117_120, 234_240, 19.2, 0.0, "DS987 (K26 SOM, on the KV260 kit DS986): DDR4 64-bit x 2400 MT/s"),
    ("VCU118", "XCVU9P", "xcvu9p-flga2104-2L-e", "Virtex UltraScale+", _US, 6_840, 4_320, 960, 1_182_240,
     2_364_480, 38.4, 0.0, "DS890 (VU9P); UG1224: two DDR4 64-bit x 2400 MT/s"),
    ("U250", "XCU250", "xcu250-figd2104-2L-e", "Alveo (Virtex UltraScale+)", _US, 12_288, 5_376, 1_280,
     1_728_000, 3_456_000, 77.0, 0.0, "DS962: four DDR4-2400 x 72-bit channels, 77 GB/s"),
    ("U280", "XCU280", "xcu280-fsvh2892-2L-e", "Alveo (Virtex UltraScale+)", _US, 9_024, 4_032, 960,
     1_303_680, 2_607_360, 38.0, 460.0, "DS963: two DDR4-2400 channels 38 GB/s; HBM2 8 GB 460 GB/s"),
]
DEVICES = tuple(Device(name, device, part, family, dsp_type, dsp, bram, uram, lut, ff, ddr, hbm, source)
                for name, device, part, family, dsp_type, dsp, bram, uram, lut, ff, ddr, hbm, source in _ROWS)
# Other spellings people use for the same board.
_ALIASES = {"zc7020": "PYNQ-Z2", "kria": "KV260", "k26": "KV260", "alveou250": "U250", "alveou280": "U280"}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


@functools.lru_cache(maxsize=1)
def _index() -> dict[str, Device]:
    out = {}
    for dev in DEVICES:
        for key in (dev.name, dev.device, dev.part, dev.device[2:] if dev.device.startswith("XC") else ""):
            if key:
                out[_norm(key)] = dev
    for alias, board in _ALIASES.items():
        out[alias] = next(d for d in DEVICES if d.name == board)
    return out


def list_devices() -> tuple[Device, ...]:
    return DEVICES


def get_device(spec) -> Device:
    """A Device from a board name ("zcu102"), a device ("XCZU9EG") or a part; case-insensitive."""
    if isinstance(spec, Device):
        return spec
    key = _norm(spec) if isinstance(spec, str) else ""
    found = _index().get(key)
    if found is None:
        known = ", ".join(f"{d.name} ({d.device})" for d in DEVICES)
        raise UserError(f"unknown FPGA device {spec!r}; known: {known} (see `codesign devices`)")
    return found
