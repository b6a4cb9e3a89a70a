"""The layer descriptor table of a design point: per layer dims, tiles, dataflow, widths and DRAM
offsets, and the hardware numbers the headers carry (array, buffers, clock, part)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from accel_sim.config import Accelerator
from accel_sim.cost_model import DIM_K, DIM_M, DIM_N, ORDERS
from accel_sim.devices import Device
from accel_sim.sim_result import SimResult
from codesign.errors import UserError
from codesign.hls.golden import LN_BETA_BITS, LN_GAMMA_BITS, MULT_BITS
from codesign.hls.layout import Stored, stored
from codesign.hls.memmap import ActivationMap, Arena, Region
from codesign.hls.names import unique_identifiers
from codesign.hls.support import FAMILY, check_dataflow, check_precision, pool_geometry
from codesign.hls.types import PrecisionClass, act_frac_bits
from codesign.ir import ConvAttrs, Graph, Op, OpKind

# The fields of cs::LayerDesc (hls_templates/lib/cs_base.h), in declaration order.
FIELDS = (
    "kind", "variant", "dataflow", "w_bits", "a_bits", "o_bits", "in_frac", "out_frac",
    "m", "n", "k", "batch", "tile_m", "tile_n", "tile_k", "m_tiles", "n_tiles", "k_tiles", "k_folds",
    "loop_order", "spill", "sim_row_folds", "sim_col_folds",
    "images", "in_h", "in_w", "in_c", "kh", "kw", "stride_h", "stride_w", "pad_h", "pad_w", "out_h", "out_w",
    "a_off", "a_base", "a_bstride", "a_mstride", "b_src", "b_off", "b_base", "b_bstride", "b_nstride", "b_kstride",
    "o_off", "o_base", "o_bstride", "o_mstride", "psum_off", "bias_off", "mult_off", "shift_off", "per_channel",
    "rows", "row_len", "elems", "in2_elems",
)
OPCODES = {"gemm": 0, "conv": 1, "softmax": 2, "layer_norm": 3, "gelu": 4, "relu": 5, "add": 6, "pool_max": 7,
           "pool_avg": 8, "sigmoid": 9, "silu": 9, "hardswish": 9, "hardsigmoid": 9, "mul": 10}
DATAFLOW_CODES = {"ws": 0, "os": 1, "is": 2}
ARENA_CODES = {"act": 0, "wgt": 1}
SHIFT_BITS = 32


@dataclass(frozen=True)
class BufferPlan:
    """One on-chip buffer as the HLS code declares it: words of word_bits, banks, halves."""
    name: str
    size_kib: float
    word_bits: int
    depth_words: int            # the whole buffer
    banks: int
    double_buffered: bool
    fill_words: int             # what one tile may use: half the buffer when double-buffered

    def capacity(self, bits: int) -> int:
        """Elements of `bits` bits one tile can hold (cs_pack.h layout)."""
        if bits <= self.word_bits:
            return self.fill_words * (self.word_bits // bits)
        return self.fill_words // -(-bits // self.word_bits)


@dataclass(frozen=True)
class HardwarePlan:
    """The numbers of the design point that the emitted headers and Tcl carry."""
    accel_name: str
    device_name: str
    part: str
    clock_mhz: float
    pe_rows: int
    pe_cols: int
    lut_rows: int               # 0: no LUT array (binary layers run on the PE array)
    lut_cols: int
    accum_bits: int
    default_dataflow: str
    dram_word_bits: int
    buffers: dict
    vec_lanes: int
    dram_bytes_per_cycle: float = 0.0   # sustained: peak x efficiency (the simulator's hw_record)
    layer_overhead_cycles: int = 0      # DRAM latency before a layer's first beat, plus its launch

    @property
    def period_ns(self) -> float:
        return 1000.0 / self.clock_mhz

    @classmethod
    def from_design(cls, accel: Accelerator, device: Device) -> HardwarePlan:
        buffers = {}
        for name, buf in accel.buffers.items():
            depth = int(buf.size_kib * 1024 * 8 // buf.word_bits)
            fill = depth // 2 if buf.double_buffered else depth
            buffers[name] = BufferPlan(name, buf.size_kib, buf.word_bits, depth, buf.banks, buf.double_buffered, fill)
        lut = accel.lut_array
        return cls(accel.name, device.name, device.part, float(accel.clock_mhz), accel.pe_array.rows,
                   accel.pe_array.cols, lut.rows if lut else 0, lut.cols if lut else 0,
                   accel.pe_array.accum_bits, accel.pe_array.dataflow.value,
                   dram_word_bits(accel.dram_bytes_per_cycle), buffers, accel.vector_unit.lanes,
                   accel.dram_bytes_per_cycle * accel.dram.efficiency,
                   round(accel.dram.latency_ns * accel.clock_mhz / 1e3 + accel.layer_launch_cycles))


def dram_word_bits(bytes_per_cycle: float) -> int:
    """The AXI data width: the DRAM's bits per cycle rounded up to a power of two, 64 to 512."""
    bits = max(1, math.ceil(bytes_per_cycle * 8))
    return min(512, max(64, 1 << (bits - 1).bit_length()))


@dataclass
class LayerEntry:
    index: int
    op: Op
    ident: str
    family: str
    dataflow: str               # ws / os / is, or "vector"
    array: str                  # pe / lut / vector
    prec: PrecisionClass
    values: dict                # FIELDS -> int
    regions: dict               # role -> Region
    sources: dict               # role -> producer op whose output is read in place (None: host-filled)
    sim: dict = field(default_factory=dict)
    views: dict = field(default_factory=dict)       # role -> layout.View of the producer's region
    stored: Stored | None = None                    # where the output sits in its region
    links: list = field(default_factory=list)       # per op input: (producer name or None, View or None)

    @property
    def row(self) -> list[int]:
        return [int(self.values[f]) for f in FIELDS]


@dataclass(frozen=True)
class Variant:
    id: int
    family: str
    prec: PrecisionClass

    @property
    def call(self) -> str:
        name = self.prec.struct_name
        return {"gemm": f"cs::gemm_layer<{name}>(d, act_in, act_b, wgt, act_out)",
                "softmax": f"cs::softmax_layer<{name}>(d, act_in, act_out)",
                "layer_norm": f"cs::layernorm_layer<{name}>(d, act_in, wgt, act_out)",
                "gelu": f"cs::gelu_layer<{name}>(d, act_in, act_out)",
                "relu": f"cs::relu_layer<{name}>(d, act_in, act_out)",
                "add": f"cs::add_layer<{name}>(d, act_in, wgt, act_out)",
                "pool": f"cs::pool_layer<{name}>(d, act_in, act_out)",
                "mul": f"cs::mul_layer<{name}>(d, act_in, act_out)"}.get(
            self.family, f"cs::lut_layer<{name}, lut_{self.family}_a{self.prec.a_bits}>(d, act_in, act_out)")


@dataclass
class LayerTable:
    hw: HardwarePlan
    entries: list
    variants: list
    act_words: int
    wgt_words: int
    maxima: dict
    cut: dict = field(default_factory=dict)     # op -> (the Schedule's tile_m, the emitted tile_m)

    @property
    def precisions(self) -> list[PrecisionClass]:
        seen = {}
        for v in self.variants:
            seen.setdefault(v.prec.struct_name, v.prec)
        return list(seen.values())


def _output_bits(op: Op, graph: Graph) -> int:
    """A PE-array op writes at its consumers' activation width when they agree (requantisation
    is free there); a vector op at its own."""
    if not op.on_pe_array:
        return op.a_bits
    widths = {graph.by_name[s].a_bits for s in graph.dag.successors(op.name)}
    return widths.pop() if len(widths) == 1 else op.a_bits


def spills(trips, order) -> bool:
    """Partial sums leave the ofmap buffer between k tiles when the k loop (with more than one
    trip) runs outside the innermost output-tile loop of more than one trip (as the simulator's
    cost model, accel_sim/cost_model.py, charges them)."""
    pos = {int(dim): p for p, dim in enumerate(order)}
    inner = max([pos[d] for d in (DIM_M, DIM_N) if trips[d] > 1], default=-1)
    return trips[DIM_K] > 1 and pos[DIM_K] < inner


def _gemm_values(op: Op) -> dict:
    g = op.gemm
    v = {"m": g.m, "n": g.n, "k": g.k, "batch": g.batch, "kind": OPCODES["gemm"]}
    if isinstance(op.attrs, ConvAttrs):
        a = op.attrs
        images, cout, oh, ow = op.output
        _, cin, height, width = op.inputs[0]
        if (g.m, g.n * g.batch, g.k, g.batch) != (images * oh * ow, cout, cin // a.groups * a.kernel[0] * a.kernel[1],
                                                  a.groups):
            raise UserError(f"the HLS templates cannot emit {op.name!r}: its GEMM view {g} does not match "
                            f"the convolution geometry")
        v.update(kind=OPCODES["conv"], images=images, in_h=height, in_w=width, in_c=cin, kh=a.kernel[0],
                 kw=a.kernel[1], stride_h=a.stride[0], stride_w=a.stride[1], pad_h=a.padding[0],
                 pad_w=a.padding[1], out_h=oh, out_w=ow, b_bstride=g.n * g.k, b_nstride=g.k, b_kstride=1,
                 o_bstride=g.n, o_mstride=g.n * g.batch)
        return v
    v.update(a_bstride=g.m * g.k, a_mstride=g.k, o_bstride=g.m * g.n, o_mstride=g.n)
    if op.kind in (OpKind.ATTN_AV, OpKind.MATMUL):        # B = V (k x n), row-major
        v.update(b_bstride=g.k * g.n, b_nstride=1, b_kstride=g.n)
    else:                                                 # weights [n][k] (torch layout), K of QK^T
        v.update(b_bstride=g.n * g.k, b_nstride=g.k, b_kstride=1)
    return v


class _Builder:
    def __init__(self, graph: Graph, accel: Accelerator, hw: HardwarePlan, sim: SimResult, selected: list[Op],
                 network: bool, folded: dict):
        self.graph, self.accel, self.hw, self.sim = graph, accel, hw, sim
        self.folded = folded
        self.cut: dict[str, tuple[int, int]] = {}      # op -> (the Schedule's tile_m, the emitted one)
        self.emitted = {op.name for op in selected}
        self.acts = ActivationMap(Arena("act", hw.dram_word_bits), strict=network)
        self.wgt = Arena("wgt", hw.dram_word_bits)
        self.sim_index = {name: i for i, name in enumerate(sim.names)}
        self.folds = sim.schedule.fold_grid()

    def _producers(self, op: Op) -> list[str]:
        """Emitted producers of `op`'s inputs (a folded BatchNorm stands for its conv)."""
        names = [self.folded.get(p, p) for p in self.graph.dag.predecessors(op.name)]
        return [p for p in names if p in self.emitted]

    def _inputs(self, op: Op, bits: int) -> tuple[list[Region], list, list]:
        used: set = set()
        regions, sources, views = [], [], []
        for index in range(len(op.inputs)):
            region, src, seen = self.acts.input(op, index, self._producers(op), bits, used)
            regions.append(region)
            sources.append(src)
            views.append(seen)
        self.links = list(zip(sources, views))
        return regions, sources, views

    def _output(self, op: Op, bits: int, values: dict) -> tuple[Region, Stored]:
        where = stored(self.graph, op) if self.acts.strict else Stored(tuple(op.output), op.out_elems)
        values.update(where.strides)
        return self.acts.output(op, where, bits), where

    def entry(self, index: int, op: Op, ident: str) -> LayerEntry:
        si = self.sim_index[op.name]
        family = FAMILY[op.kind]
        dataflow = self.sim.dataflows[si]
        array = self.sim.arrays[si] if self.sim.arrays else ("vector" if dataflow == "vector" else "pe")
        if op.on_pe_array:
            check_dataflow(op, dataflow)
        check_precision(op, self.accel)
        o_bits = _output_bits(op, self.graph)
        if op.on_pe_array:
            w_bits = op.a_bits if op.b_is_activation else op.w_bits
            lanes, passes = self._rate(w_bits, op.a_bits, array == "lut")
            prec = PrecisionClass("gemm", w_bits, op.a_bits, o_bits, "lut" if array == "lut" else "pe", lanes, passes)
            values, regions, sources, views, where = self._gemm(op, prec, dataflow, array)
            row_folds, col_folds = self.folds
            values.update(sim_row_folds=int(row_folds[si]), sim_col_folds=int(col_folds[si]),
                          dataflow=DATAFLOW_CODES[dataflow])
        else:
            prec = PrecisionClass(family, op.a_bits, op.a_bits, o_bits)
            values, regions, sources, views, where = self._vector(op, prec)
        values.update(w_bits=prec.w_bits, a_bits=prec.a_bits, o_bits=prec.o_bits,
                      in_frac=act_frac_bits(prec.a_bits) if prec.a_bits > 1 else 0,
                      out_frac=(prec.o_bits - 1 if family == "softmax" else act_frac_bits(prec.o_bits))
                      if prec.o_bits > 1 else 0)
        for role, key in (("a", "a_off"), ("b", "b_off"), ("o", "o_off"), ("bias", "bias_off"),
                          ("mult", "mult_off"), ("shift", "shift_off"), ("psum", "psum_off")):
            if role in regions:
                values[key] = regions[role].word_off
        if "b" in regions:
            values["b_src"] = ARENA_CODES[regions["b"].arena]
        sim = {"cycles": int(self.sim.columns["cycles"][si]), "macs": int(self.sim.columns["macs"][si]),
               "compute_cycles": int(self.sim.columns["compute_cycles"][si])}
        return LayerEntry(index, op, ident, family, dataflow, array, prec,
                          {f: int(values.get(f, 0)) for f in FIELDS}, regions, sources, sim, views, where,
                          self.links)

    def _rate(self, w_bits: int, a_bits: int, on_lut: bool) -> tuple[int, int]:
        """(lanes, passes) of the array for these widths: the simulator's rate (accel_sim/mapper.py)."""
        if on_lut:
            lut = self.accel.lut_array
            return lut.macs_per_pe_per_cycle, -(-a_bits // lut.a_bits)
        rate = self.accel.pe_array.rate(w_bits, a_bits)
        return rate.numerator, rate.denominator

    def _gemm(self, op: Op, prec: PrecisionClass, dataflow: str, array: str):
        v = _gemm_values(op)
        g = op.gemm
        rows = self.hw.lut_rows if array == "lut" else self.hw.pe_rows
        bufs = self.hw.buffers
        caps = (bufs["ifmap"].capacity(prec.a_bits), bufs["weight"].capacity(prec.w_bits),
                bufs["ofmap"].capacity(self.hw.accum_bits))
        si = self.sim_index[op.name]
        tile = self.sim.schedule.tile(si)                        # the simulated tiles
        tile_m, tile_n, tile_k = tile["tile_m"], tile["tile_n"], tile["tile_k"]
        fit_m = min(caps[0] // tile_k, caps[2] // tile_n)
        if tile_m > fit_m >= 1 and tile_k * tile_n <= caps[1]:
            # The HLS ifmap buffer holds a conv's A tile im2col'd (kh x kw times the input strip the
            # simulator counts) and the ofmap buffer the tile's accumulators (the simulator lets an
            # output tile that does not fit stream its outputs): the m extent is cut to fit both.
            self.cut[op.name] = (tile_m, fit_m)
            tile_m = fit_m
        if not (tile_m * tile_k <= caps[0] and tile_k * tile_n <= caps[1] and tile_m * tile_n <= caps[2]):
            raise UserError(
                f"layer {op.name!r} (m={g.m}, n={g.n}, K={g.k}): the {self.sim.schedule.mapping} mapping's tile "
                f"{tile_m}x{tile_n}x{tile_k} (m x n x k) does not fit the on-chip buffers (ifmap holds {caps[0]} "
                f"elements per tile, weight {caps[1]}, ofmap {caps[2]} accumulators); use larger buffers or "
                f"another --mapping")
        trips = tuple(-(-d // t) for d, t in zip((g.m, g.n, g.k), (tile_m, tile_n, tile_k)))
        order = int(self.sim.schedule.tilings[si]["order"])
        v.update(tile_m=tile_m, tile_n=tile_n, tile_k=tile_k, m_tiles=trips[0], n_tiles=trips[1], k_tiles=trips[2],
                 k_folds=(trips[2] - 1) * -(-tile_k // rows) + -(-(g.k - (trips[2] - 1) * tile_k) // rows)
                 if dataflow in ("ws", "is") else 1,
                 loop_order=order, spill=int(spills(trips, ORDERS[order])))
        in_regions, in_sources, in_views = self._inputs(op, prec.a_bits)
        regions = {"a": in_regions[0]}
        sources = {"a": in_sources[0]}
        views = {"a": in_views[0]}
        weights = not op.b_is_activation
        if weights:
            regions["b"] = self.wgt.alloc(g.k * g.n * g.batch, prec.w_bits)
        else:
            regions["b"], sources["b"], views["b"] = in_regions[1], in_sources[1], in_views[1]
        n_params = g.n * g.batch if weights else 1
        regions["bias"] = self.wgt.alloc(n_params, self.hw.accum_bits)
        regions["mult"] = self.wgt.alloc(n_params, MULT_BITS)
        regions["shift"] = self.wgt.alloc(1, SHIFT_BITS)
        for role, seen in views.items():
            if seen is not None:
                v[f"{role}_base"] = seen.base
                v.update({f"{role}_{name}": value for name, value in seen.strides.items()})
        regions["o"], where = self._output(op, prec.o_bits, v)
        if v["spill"]:
            regions["psum"] = self.acts.arena.alloc(g.m * g.n * g.batch, self.hw.accum_bits)
        v["per_channel"] = int(weights)
        return v, regions, sources, views, where

    def _vector(self, op: Op, prec: PrecisionClass):
        bits = prec.a_bits
        family = FAMILY[op.kind]
        v = {"kind": OPCODES.get(family, 0), "elems": op.out_elems}
        in_regions, in_sources, in_views = self._inputs(op, bits)
        for seen in in_views:
            if seen is not None and (seen.base or seen.strides):
                raise UserError(f"the HLS templates cannot emit {op.name!r}: the vector unit reads its input "
                                f"contiguously, not through the {seen.kind} layout op; emit a subset with --layers")
        regions, sources = {}, {}
        if family in ("add", "mul") and len(op.inputs) == 2:
            big = 0 if math.prod(op.inputs[0]) >= math.prod(op.inputs[1]) else 1
            regions["a"], sources["a"] = in_regions[big], in_sources[big]
            regions["b"], sources["b"] = in_regions[1 - big], in_sources[1 - big]
            v["in2_elems"] = regions["b"].elems
        else:
            regions["a"], sources["a"] = in_regions[0], in_sources[0]
            if family == "add":                          # + a parameter tensor (position embedding)
                regions["b"], sources["b"] = self.wgt.alloc(op.params, bits), None
                v["in2_elems"] = op.params
        if family == "pool":
            kernel, stride, padding, mode, out_hw = pool_geometry(op)
            images, channels, height, width_in = op.inputs[0]
            v.update(kind=OPCODES[f"pool_{mode}"], images=images, in_h=height, in_w=width_in, in_c=channels,
                     kh=kernel[0], kw=kernel[1], stride_h=stride[0], stride_w=stride[1], pad_h=padding[0],
                     pad_w=padding[1], out_h=out_hw[0], out_w=out_hw[1])
        width = op.output[-1]
        if family in ("softmax", "layer_norm"):
            v.update(rows=op.out_elems // width, row_len=width)
        if family == "layer_norm":
            regions["b"] = self.wgt.alloc(width, LN_GAMMA_BITS)       # gamma
            regions["bias"] = self.wgt.alloc(width, LN_BETA_BITS)     # beta
        regions["o"], where = self._output(op, prec.o_bits, v)
        return v, regions, sources, {}, where


def build_table(graph: Graph, accel: Accelerator, device: Device, sim: SimResult, selected: list[Op],
                network: bool = False, folded: dict | None = None) -> LayerTable:
    """The descriptor table of `selected` ops (in graph order) on this design point; `network`:
    the whole model, every input read from its producer through the layout ops (layout.py);
    `folded`: BatchNorm ops folded into their producers (support.fold_batchnorm)."""
    hw = HardwarePlan.from_design(accel, device)
    builder = _Builder(graph, accel, hw, sim, selected, network, folded or {})
    idents = unique_identifiers(op.name for op in selected)
    entries = [builder.entry(i, op, idents[op.name]) for i, op in enumerate(selected)]
    variants: dict = {}
    for e in entries:
        key = (e.family, e.prec)
        if key not in variants:
            variants[key] = Variant(len(variants), e.family, e.prec)
        e.values["variant"] = variants[key].id
    pe = [e for e in entries if e.op.on_pe_array]
    vec = [e.values for e in entries if not e.op.on_pe_array]

    def fold_max(extent: str, edge) -> int:
        return max([-(-e.values[extent] // edge(e)) for e in pe], default=1)

    maxima = {  # loop bounds and local array sizes: at least 1 (C++ has no empty arrays)
        "tile_m": max([e.values["tile_m"] for e in pe], default=1),
        "tile_n": max([e.values["tile_n"] for e in pe], default=1),
        "tile_k": max([e.values["tile_k"] for e in pe], default=1),
        "k_folds": fold_max("tile_k", lambda e: hw.lut_rows if e.array == "lut" else hw.pe_rows),
        "m_folds": fold_max("tile_m", lambda e: (hw.lut_rows if e.array == "lut" else hw.pe_rows)
                            if e.dataflow == "os" else (hw.lut_cols if e.array == "lut" else hw.pe_cols)),
        "n_folds": fold_max("tile_n", lambda e: hw.lut_cols if e.array == "lut" else hw.pe_cols),
        "tiles": max([e.values["batch"] * e.values["m_tiles"] * e.values["n_tiles"] * e.values["k_tiles"]
                      for e in pe], default=1),
        "stream": max([max(e.values["tile_m"], e.values["tile_n"], e.values["tile_k"]) for e in pe], default=1)
        + max(hw.pe_rows + hw.pe_cols, hw.lut_rows + hw.lut_cols),
        "uses": max([e.values["kh"] * e.values["kw"] for e in pe], default=1),
        "row": max([max(v["row_len"], v["in_c"]) for v in vec], default=1), "rows": max([v["rows"] for v in vec], default=1),
        "elems": max([v["elems"] for v in vec], default=1),
    }
    maxima = {key: max(1, value) for key, value in maxima.items()}
    return LayerTable(hw, entries, list(variants.values()), builder.acts.arena.words, builder.wgt.words, maxima,
                      builder.cut)
