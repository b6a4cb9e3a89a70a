"""The accelerator description: frozen dataclasses that validate themselves, and their YAML form.
Loading one from a preset name or a file is accel_sim/loading.py's job.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction

from accel_sim.energy import EnergyTable
from accel_sim.errors import UserError
from accel_sim.inputs import check_int as _int
from accel_sim.inputs import check_number as _num
from accel_sim.packing import best_rate, normalise_table, width_key
from accel_sim.workload import VECTOR_FAMILIES
from dataflows import ArrayShape, Dataflow

FORMAT_VERSION = 1
EXP_IMPLS = ("lut", "poly")
# Eyeriss PE scratchpads (Chen et al. JSSC 2017): ifmap 12, filter 224, psum 24 16-bit words;
# a register file of another size is split in the same proportions.
EYERISS_SPAD_WORDS = (12, 224, 24)
# A byte per 1,000 cycles (0.2 MB/s at 200 MHz, far below any DRAM): with at most MAX_MACS per
# simulation (accel_sim/inputs/numbers.py) moving at most ~2^52 bytes, stall cycles stay inside int64.
MIN_DRAM_BYTES_PER_CYCLE = 1e-3


def _bool(value, field: str) -> None:
    if not isinstance(value, bool):
        raise UserError(f"{field} must be true or false, got {value!r}")


def parse_dataflow(value, field: str = "dataflow") -> Dataflow:
    """`Dataflow` from an enum member or its value; UserError naming `field` otherwise."""
    try:
        return Dataflow(value)
    except ValueError:
        allowed = ", ".join(d.value for d in Dataflow)
        raise UserError(f"{field} must be one of {allowed}; got {value!r}") from None


@dataclass(frozen=True)
class PEArray:
    """The main (DSP) array. `macs_per_cycle` lists what one PE does per cycle at each operand
    width, e.g. {"w16a16": 0.5, "w8a8": 1, "w4a4": 2} (rule in accel_sim/packing.py); empty means
    one mode, w{operand_bits}a{operand_bits}: 1 - narrower operands are not faster, wider ones
    take passes. It is stored as sorted (w_bits, a_bits, macs) triples."""
    rows: int
    cols: int
    dataflow: Dataflow
    operand_bits: int          # native width: the default mode, and the energy table's reference
    accum_bits: int = 32       # partial-sum width kept in the output buffer
    macs_per_cycle: tuple = ()
    pipelined_folds: bool = False   # double-buffered PE registers: the next fold preloads while
    # the current one streams, so folds overlap (off: every fold pays its fill, preload and drain)

    def __post_init__(self):
        _int(self.rows, "rows")
        _int(self.cols, "cols")
        object.__setattr__(self, "dataflow", parse_dataflow(self.dataflow))
        _int(self.operand_bits, "operand_bits")
        _int(self.accum_bits, "accum_bits")
        _bool(self.pipelined_folds, "pipelined_folds")
        object.__setattr__(self, "macs_per_cycle", normalise_table(self.macs_per_cycle, "macs_per_cycle"))

    @property
    def pes(self) -> int:
        return self.rows * self.cols

    @property
    def modes(self) -> tuple[tuple[int, int, float], ...]:
        """The (w_bits, a_bits, macs per PE per cycle) modes, the default one if none are listed."""
        return self.macs_per_cycle or ((self.operand_bits, self.operand_bits, 1.0),)

    def rate(self, w_bits: int, a_bits: int) -> Fraction:
        """MACs one PE completes per cycle on (w_bits, a_bits) operands."""
        return best_rate(self.modes, w_bits, a_bits)


@dataclass(frozen=True)
class LutArray:
    """An optional second array of LUT PEs (XNOR-popcount or add/subtract, as in FINN) that runs
    every layer whose B operand is binary (1-bit weights). A PE does `macs_per_pe_per_cycle`
    binary-weight MACs per cycle on activations up to `a_bits` wide; wider activations are taken
    bit-serially, ceil(a / a_bits) passes. `luts_per_pe` is its fabric cost (resources only)."""
    rows: int
    cols: int
    macs_per_pe_per_cycle: int
    luts_per_pe: float
    a_bits: int = 1

    def __post_init__(self):
        _int(self.rows, "rows")
        _int(self.cols, "cols")
        _int(self.macs_per_pe_per_cycle, "macs_per_pe_per_cycle")
        _num(self.luts_per_pe, "luts_per_pe")
        _int(self.a_bits, "a_bits")

    @property
    def pes(self) -> int:
        return self.rows * self.cols

    def rate(self, a_bits: int) -> Fraction:
        return Fraction(self.macs_per_pe_per_cycle, -(-int(a_bits) // self.a_bits))


@dataclass(frozen=True)
class Buffer:
    """One on-chip SRAM. Bandwidths are totals over its banks, in words of `word_bits`."""
    size_kib: float
    word_bits: int
    banks: int
    read_bw_words_per_cycle: float
    write_bw_words_per_cycle: float
    double_buffered: bool

    def __post_init__(self):
        _num(self.size_kib, "size_kib")
        _int(self.word_bits, "word_bits")
        _int(self.banks, "banks")
        _num(self.read_bw_words_per_cycle, "read_bw_words_per_cycle")
        _num(self.write_bw_words_per_cycle, "write_bw_words_per_cycle")
        _bool(self.double_buffered, "double_buffered")

    @property
    def size_bytes(self) -> float:
        return self.size_kib * 1024.0

    @property
    def fill_bytes(self) -> float:
        """What one tile may occupy: half the buffer when double-buffered (the other half fills)."""
        return self.size_bytes / 2 if self.double_buffered else self.size_bytes


@dataclass(frozen=True)
class Buffers:
    ifmap: Buffer
    weight: Buffer
    ofmap: Buffer
    unified: bool = False      # one SRAM in fact (Eyeriss' global buffer, Tensil's local memory): a
    # tiling may use the three fill halves as one pool; the split above is then only for energy/ports

    def __post_init__(self):
        _bool(self.unified, "unified")

    def items(self):
        return (("ifmap", self.ifmap), ("weight", self.weight), ("ofmap", self.ofmap))


@dataclass(frozen=True)
class RegisterFile:
    size_bytes_per_pe: int
    word_bits: int

    def __post_init__(self):
        _int(self.size_bytes_per_pe, "size_bytes_per_pe")
        _int(self.word_bits, "word_bits")

    def spad_words(self) -> tuple[int, int, int]:
        """(ifmap, filter, psum) scratchpad words per PE, split as in Eyeriss."""
        words = self.size_bytes_per_pe * 8 // self.word_bits
        total = sum(EYERISS_SPAD_WORDS)
        return tuple(max(1, words * share // total) for share in EYERISS_SPAD_WORDS)


@dataclass(frozen=True)
class Dram:
    bandwidth_gbps: float      # GB/s (1e9 bytes per second), peak
    energy_pj_per_bit: float
    efficiency: float = 1.0    # sustained / peak bandwidth (controller, refresh, turnarounds)
    latency_ns: float = 0.0    # first access of a layer: request to first data

    def __post_init__(self):
        _num(self.bandwidth_gbps, "bandwidth_gbps")
        _num(self.energy_pj_per_bit, "energy_pj_per_bit")
        _num(self.efficiency, "efficiency")
        if self.efficiency > 1:
            raise UserError(f"efficiency must be in (0, 1], got {self.efficiency!r}")
        _num(self.latency_ns, "latency_ns", strict=False)


@dataclass(frozen=True)
class Residency:
    """What may stay on chip between layers and inferences (the mapper decides what fits)."""
    activations: bool = False  # a layer's output stays in the input buffer for the next layer
    weights: bool = False      # all weights preloaded once and kept across inferences

    def __post_init__(self):
        _bool(self.activations, "activations")
        _bool(self.weights, "weights")


@dataclass(frozen=True)
class VectorCycles:
    """Cycles one lane spends per element, per op family."""
    exp_softmax: float
    layernorm: float
    gelu: float
    activation: float
    eltwise: float
    pooling: float

    def __post_init__(self):
        for family in VECTOR_FAMILIES:
            _num(getattr(self, family), family)

    def as_tuple(self) -> tuple[float, ...]:
        return tuple(float(getattr(self, family)) for family in VECTOR_FAMILIES)


@dataclass(frozen=True)
class VectorUnit:
    lanes: int
    cycles_per_element: VectorCycles
    exp_impl: str = "lut"      # how exp is built (for HLS emission); the cycles above assume it
    on_output_path: bool = False   # sits between the array and the output buffer, so bias,
    # activations, residual adds and row-held softmax/LayerNorm fuse into the producing layer

    def __post_init__(self):
        _int(self.lanes, "lanes")
        _bool(self.on_output_path, "on_output_path")
        if self.exp_impl not in EXP_IMPLS:
            raise UserError(f"exp_impl must be one of {', '.join(EXP_IMPLS)}; got {self.exp_impl!r}")


@dataclass(frozen=True)
class Accelerator:
    name: str
    clock_mhz: float
    pe_array: PEArray
    buffers: Buffers
    register_file: RegisterFile | None
    dram: Dram
    vector_unit: VectorUnit
    energy: EnergyTable
    description: str = ""
    lut_array: LutArray | None = None     # where binary-weight layers run, if the design has one
    residency: Residency = Residency()
    layer_launch_cycles: float = 0.0      # fixed cost of starting a layer (control, DMA set-up)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise UserError(f"name must be a non-empty string, got {self.name!r}")
        _num(self.clock_mhz, "clock_mhz")
        _num(self.layer_launch_cycles, "layer_launch_cycles", strict=False)
        if self.dram_bytes_per_cycle < MIN_DRAM_BYTES_PER_CYCLE:
            raise UserError(f"dram.bandwidth_gbps {self.dram.bandwidth_gbps:g} at clock_mhz {self.clock_mhz:g} is "
                            f"{self.dram_bytes_per_cycle:.3g} bytes per cycle, below the {MIN_DRAM_BYTES_PER_CYCLE:g} "
                            "the simulator counts stalls for; raise the bandwidth or lower the clock")

    @property
    def pes(self) -> int:
        return self.pe_array.pes

    @property
    def dram_bytes_per_cycle(self) -> float:
        return self.dram.bandwidth_gbps * 1e9 / (self.clock_mhz * 1e6)

    def array_shape(self, lut: bool = False) -> ArrayShape:
        """The PE array's shape for the dataflows, or the LUT array's (same scratchpads, if any)."""
        spads = self.register_file.spad_words() if self.register_file else (0, 0, 0)
        arr = self.lut_array if lut else self.pe_array
        return ArrayShape(arr.rows, arr.cols, *spads)

    def with_dataflow(self, dataflow: Dataflow | str) -> Accelerator:
        pe = dataclasses.replace(self.pe_array, dataflow=parse_dataflow(dataflow))
        return dataclasses.replace(self, pe_array=pe)

    def to_dict(self) -> dict:
        """The YAML / JSON form; `accelerator_from_dict(a.to_dict())` gives `a` back."""
        out = {"version": FORMAT_VERSION, **dataclasses.asdict(self)}
        out["pe_array"]["dataflow"] = self.pe_array.dataflow.value
        table = {width_key(w, a): int(r) if r >= 1 else r for w, a, r in self.pe_array.macs_per_cycle}
        if table:
            out["pe_array"]["macs_per_cycle"] = table
        else:
            del out["pe_array"]["macs_per_cycle"]
        if self.lut_array is None:
            del out["lut_array"]
        return out


# --- YAML: validate the whole mapping first, then build --------------------------------------
_REQ, _OPT = True, False
_BUFFER = {"size_kib": _REQ, "word_bits": _REQ, "banks": _OPT, "read_bw_words_per_cycle": _REQ,
           "write_bw_words_per_cycle": _REQ, "double_buffered": _REQ}
_SCHEMA = {
    "version": _REQ, "name": _REQ, "description": _OPT, "clock_mhz": _REQ,
    "layer_launch_cycles": _OPT,
    "pe_array": {"rows": _REQ, "cols": _REQ, "dataflow": _REQ, "operand_bits": _REQ,
                 "accum_bits": _OPT, "macs_per_cycle": _OPT, "pipelined_folds": _OPT},
    "lut_array": {"rows": _REQ, "cols": _REQ, "macs_per_pe_per_cycle": _REQ, "luts_per_pe": _REQ,
                  "a_bits": _OPT},
    "buffers": {"ifmap": _BUFFER, "weight": _BUFFER, "ofmap": _BUFFER, "unified": _OPT},
    "register_file": {"size_bytes_per_pe": _REQ, "word_bits": _REQ},
    "dram": {"bandwidth_gbps": _REQ, "energy_pj_per_bit": _REQ, "efficiency": _OPT, "latency_ns": _OPT},
    "residency": {"activations": _OPT, "weights": _OPT},
    "vector_unit": {"lanes": _REQ, "exp_impl": _OPT, "on_output_path": _OPT,
                    "cycles_per_element": {family: _REQ for family in VECTOR_FAMILIES}},
    "energy": {"mac_pj": _REQ, "rf_access_pj": _REQ, "buffer_pj_per_bit_ref": _REQ,
               "buffer_ref_kib": _REQ, "vector_op_pj": _REQ, "buffer_size_exponent": _OPT,
               "noc_pj_per_bit": _OPT, "mac_mult_fraction": _OPT},
}
_NULLABLE = {"register_file", "lut_array"}
_OPTIONAL_SECTIONS = {"residency"}


def _validate(data, schema: dict, path: str) -> None:
    where = path or "the top level"
    if not isinstance(data, dict):
        raise UserError(f"{where} must be a mapping of keys to values, got {type(data).__name__}")
    for key in data:
        if key not in schema:
            raise UserError(f"unknown key {key!r} in {where}; allowed keys: {', '.join(schema)}")
    for key, spec in schema.items():
        field = f"{path}.{key}" if path else key
        if key not in data:
            required = spec is _REQ or (isinstance(spec, dict) and key not in _NULLABLE | _OPTIONAL_SECTIONS)
            if required:
                raise UserError(f"missing field {field}")
            continue
        if isinstance(spec, dict) and not (key in _NULLABLE and data[key] is None):
            _validate(data[key], spec, field)


def _build(prefix: str, cls, **kwargs):
    try:
        return cls(**kwargs)
    except UserError as err:
        raise UserError(f"{prefix}.{err}" if prefix else str(err)) from None


def accelerator_from_dict(data: dict, source: str = "accelerator") -> Accelerator:
    """Validate a parsed YAML mapping and build the Accelerator; UserError names the field."""
    try:
        _validate(data, _SCHEMA, "")
        if data["version"] != FORMAT_VERSION:
            raise UserError(f"version must be {FORMAT_VERSION}, got {data['version']!r}")
        pe = _build("pe_array", PEArray, **data["pe_array"])
        specs = {name: spec for name, spec in data["buffers"].items() if name != "unified"}
        buffers = _build("buffers", Buffers, unified=data["buffers"].get("unified", False),
                         **{name: _build(f"buffers.{name}", Buffer, **{"banks": 1, **spec})
                            for name, spec in specs.items()})
        rf = data.get("register_file")
        rf = _build("register_file", RegisterFile, **rf) if rf is not None else None
        dram = _build("dram", Dram, **data["dram"])
        vec = dict(data["vector_unit"])
        cycles = _build("vector_unit.cycles_per_element", VectorCycles, **vec.pop("cycles_per_element"))
        vector = _build("vector_unit", VectorUnit, cycles_per_element=cycles, **vec)
        energy = _build("energy", EnergyTable, **data["energy"])
        lut = data.get("lut_array")
        lut = _build("lut_array", LutArray, **lut) if lut is not None else None
        residency = _build("residency", Residency, **data.get("residency", {}))
        return _build("", Accelerator, name=data["name"], clock_mhz=data["clock_mhz"],
                      pe_array=pe, buffers=buffers, register_file=rf, dram=dram,
                      vector_unit=vector, energy=energy, description=data.get("description", ""),
                      lut_array=lut, residency=residency,
                      layer_launch_cycles=data.get("layer_launch_cycles", 0.0))
    except UserError as err:
        raise UserError(f"{source}: {err}") from None
    except TypeError as err:   # a value of the wrong type reached a comparison
        raise UserError(f"{source}: bad value ({err})") from None
