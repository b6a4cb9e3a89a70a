"""Numbers a user gives, checked once: type, finite, and a range whose bounds the error states.

Upper bounds keep every product the simulator forms inside int64 and every latency above zero.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from accel_sim.errors import UserError
from accel_sim.packing import MAX_BITS


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    unit: str = ""
    low_open: bool = False        # (low, high] rather than [low, high]

    def text(self, integer: bool) -> str:
        def fmt(v):
            return f"{int(v):,}" if integer or (float(v).is_integer() and abs(v) < 1e15) else f"{v:g}"
        return f"{'(' if self.low_open else '['}{fmt(self.low)}, {fmt(self.high)}]" + (f" {self.unit}" if self.unit else "")


# Bounds by field name (the last part of a dotted field). Why these figures:
# - Sides of a PE array: the largest built is 256 x 256 (TPU v1, Jouppi et al. ISCA 2017); 2^16 per side
#   keeps rows x cols x cycles products inside int64.
# - Clock: above 100 GHz no logic runs; 1 kHz is below any accelerator, and keeps cycles / clock finite.
# - DRAM: 1 PB/s is ~300x an H100's HBM3 (3.35 TB/s, NVIDIA H100 datasheet) and what a SCALE-Sim .cfg
#   in CALC mode ("as fast as needed", accel_sim/scalesim_io.py) becomes; 1 MB/s is below any DRAM
#   (stall counts are kept inside int64 by the bytes-per-cycle floor, accel_sim/config.py).
# - On-chip SRAM: the largest is 44 GB (Cerebras WSE-3); 2^26 KiB = 64 GiB is above it.
# - Words: AXI data buses are at most 1,024 bits wide (Arm AMBA AXI spec, IHI 0022); operands at most
#   MAX_BITS (accel_sim/packing.py); DSP48E2 accumulators are 48 bits (UG579), 64 is above.
# - Vector cycles per element: a LUT exp takes 4 (our presets), an iterative divider ~32; 1,024 is above.
# - Batch and input sizes: 4,096 images of 8,192 x 8,192 x 4,096 channels is far above any inference
#   batch, and with MAX_MACS bounds what one simulation may count.
_HW = {
    "rows": Range(1, 1 << 16, "PEs"), "cols": Range(1, 1 << 16, "PEs"), "lanes": Range(1, 1 << 16, "lanes"),
    "vector_lanes": Range(1, 1 << 16, "lanes"),
    "operand_bits": Range(1, MAX_BITS, "bits"), "a_bits": Range(1, MAX_BITS, "bits"),
    "accum_bits": Range(1, 64, "bits"), "word_bits": Range(1, 1024, "bits"),
    "banks": Range(1, 1 << 16), "macs_per_pe_per_cycle": Range(1, 1 << 12, "MACs"),
    "size_bytes_per_pe": Range(1, 1 << 20, "bytes"),
    "size_kib": Range(0, 1 << 26, "KiB", True), "ifmap_kib": Range(0, 1 << 26, "KiB", True),
    "weight_kib": Range(0, 1 << 26, "KiB", True), "ofmap_kib": Range(0, 1 << 26, "KiB", True),
    "buffer_ref_kib": Range(0, 1 << 26, "KiB", True),
    "read_bw_words_per_cycle": Range(0, 1 << 20, "words/cycle", True),
    "write_bw_words_per_cycle": Range(0, 1 << 20, "words/cycle", True),
    "clock_mhz": Range(0.001, 100_000, "MHz"),
    "bandwidth_gbps": Range(0.001, 1e6, "GB/s"), "dram_bandwidth_gbps": Range(0.001, 1e6, "GB/s"),
    "energy_pj_per_bit": Range(0, 10_000, "pJ/bit", True), "luts_per_pe": Range(0, 1 << 20, "LUTs", True),
    "exp_softmax": Range(0, 1024, "cycles", True), "layernorm": Range(0, 1024, "cycles", True),
    "gelu": Range(0, 1024, "cycles", True), "activation": Range(0, 1024, "cycles", True),
    "eltwise": Range(0, 1024, "cycles", True), "pooling": Range(0, 1024, "cycles", True),
}
# Workload and command-line figures.
_RUN = {
    "batch": Range(1, 4096, "images"), "channels": Range(1, 4096), "height": Range(1, 8192, "pixels"),
    "width": Range(1, 8192, "pixels"),
    "seed": Range(0, 2**32 - 1),                     # numpy and torch take 32-bit seeds
    "samples": Range(1, 1 << 16, "images"),          # fidelity images: 16 by default, ImageNet val is 50,000
    "images": Range(1, 1 << 16, "images"),           # emit-hls test images: 8 by default, as many as `samples` at most
    # Assumptions: a million trials or a billion results rows is days of work at the measured rates
    # (benchmarks/); NSGA-II populations are 50-500 in practice; 1,024 local processes exceed any host.
    "trials": Range(1, 10**6), "population": Range(2, 10**5),
    "workers": Range(1, 1024, "processes"), "row": Range(0, 10**9),
    "target_fps": Range(0, 1e9, "frames/s", True),
    "dim": Range(1, 1 << 24),                        # one dimension of a SCALE-Sim topology layer
    # Assumption: recovery fine-tuning after compression runs a few epochs (1-10 in the pruning and
    # quantisation literature); 1,000 is far above.
    "finetune": Range(0, 1000, "epochs"),
    "keep_ratio": Range(0, 1, low_open=True), "mlp_keep_ratio": Range(0, 1, low_open=True),   # kept fractions
    # An FPGA's resources and memory bandwidth: the largest parts have ~10^7 LUTs and 10^4 GB/s of HBM.
    "dsp": Range(0, 1 << 30), "bram18k": Range(0, 1 << 30), "uram": Range(0, 1 << 30), "lut": Range(0, 1 << 30),
    "ff": Range(0, 1 << 30), "ddr_bandwidth_gbps": Range(0, 1e6, "GB/s"), "hbm_bandwidth_gbps": Range(0, 1e6, "GB/s"),
}
LIMITS: dict[str, Range] = {**_HW, **_RUN}
# One simulation counts at most 2^48 (2.8e14) MACs: ~10^4 x ViT-H/14 at 224 px (~167 GMACs, timm);
# cycles are at most MACs x 1,024 passes (1-bit PEs on 32-bit operands) x 64 < 2^63.
MAX_MACS = 1 << 48
DEFAULT_INT = Range(1, 2**31 - 1)
DEFAULT_FLOAT = Range(0, 1e12, low_open=True)


def shown(value, limit: int = 40) -> str:
    """repr(value) cut to `limit` characters, so a message stays one short line."""
    text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


@functools.lru_cache(maxsize=4096)     # every accelerator a sweep builds checks the same fields
def _range(field: str, integer: bool, minimum, strict, maximum) -> Range:
    name = field.rsplit(".", 1)[-1].rsplit(" ", 1)[-1].lstrip("-").replace("-", "_")   # "x.csv row 3: batch"
    base = LIMITS.get(name, DEFAULT_INT if integer else DEFAULT_FLOAT)
    low = base.low if minimum is None else minimum
    high = base.high if maximum is None else maximum
    low_open = base.low_open if strict is None else strict
    return Range(low, high, base.unit, low_open)


def check_int(value, field: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """`value` if it is an integer within the field's range (see LIMITS); UserError stating it otherwise."""
    rng = _range(field, True, minimum, None, maximum)
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or not (value > rng.low if rng.low_open else value >= rng.low) or value > rng.high:
        raise UserError(f"{field} must be an integer in {rng.text(True)}, got {shown(value)}")
    return int(value)


def check_number(value, field: str, *, minimum: float | None = None, strict: bool | None = None,
                 maximum: float | None = None) -> float:
    """`value` if it is a finite number within the field's range; `strict` excludes the minimum."""
    rng = _range(field, False, minimum, strict, maximum)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value) and (value > rng.low if rng.low_open else value >= rng.low)
    if not ok or value > rng.high:
        raise UserError(f"{field} must be a number in {rng.text(False)}, got {shown(value)}")
    return value


def parse_int(text, field: str, **bounds) -> int:
    """An integer typed as text (a command-line option, a CSV cell), checked as `check_int`."""
    if isinstance(text, str):
        raw = text.strip().replace("_", "")
        try:
            value = int(raw) if len(raw) <= 30 else None
        except ValueError:
            value = None
        if value is None:
            rng = _range(field, True, bounds.get("minimum"), None, bounds.get("maximum"))
            raise UserError(f"{field} must be an integer in {rng.text(True)}, got {shown(text)}")
        text = value
    return check_int(text, field, **bounds)


def parse_float(text, field: str, **bounds) -> float:
    """A number typed as text, checked as `check_number` (nan and inf are refused)."""
    if isinstance(text, str):
        try:
            value = float(text.strip())
        except ValueError:
            rng = _range(field, False, bounds.get("minimum"), bounds.get("strict"), bounds.get("maximum"))
            raise UserError(f"{field} must be a number in {rng.text(False)}, got {shown(text)}") from None
        text = value
    return float(check_number(text, field, **bounds))


def check_macs(macs: int, what: str) -> None:
    """Refuse a workload larger than the simulator counts exactly (MAX_MACS)."""
    if macs > MAX_MACS:
        raise UserError(f"{what} has {macs:.3g} MACs, more than the {MAX_MACS:.3g} (2^48) a simulation "
                        "counts in int64; use a smaller batch, input size or layer")
