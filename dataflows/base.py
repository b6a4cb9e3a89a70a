"""The one interface every dataflow implements: how GEMMs (and convs) fold onto an R x C array.
Inputs and outputs are numpy arrays over many layers at once; numpy only (no numba, no torch).
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from enum import Enum, IntEnum

import numpy as np


class Dataflow(str, Enum):
    """Which operand stays in the PEs while the others stream."""
    WS = "ws"   # weight stationary
    OS = "os"   # output stationary
    IS = "is"   # input stationary
    RS = "rs"   # row stationary (Eyeriss)

    @property
    def code(self) -> int:
        return _CODES[self]

    @classmethod
    def from_code(cls, code: int) -> Dataflow:
        return _BY_CODE[int(code)]


_CODES = {Dataflow.WS: 0, Dataflow.OS: 1, Dataflow.IS: 2, Dataflow.RS: 3}
_BY_CODE = {v: k for k, v in _CODES.items()}


class Operand(IntEnum):
    """The three GEMM operands: A (m x k activations), B (k x n weights), O (m x n outputs)."""
    IFMAP = 0
    WEIGHT = 1
    OFMAP = 2


def ceil_div(a, b):
    """Integer ceiling division that works element-wise on int64 arrays."""
    return -(-np.asarray(a, dtype=np.int64) // np.asarray(b, dtype=np.int64))


@dataclass(frozen=True)
class ArrayShape:
    """What a dataflow needs to know about the hardware: PE grid and per-PE scratchpads."""
    rows: int
    cols: int
    rf_ifmap_words: int = 0    # row stationary only: ifmap, filter and psum scratchpad words per PE
    rf_filter_words: int = 0
    rf_psum_words: int = 0

    @property
    def pes(self) -> int:
        return self.rows * self.cols


@dataclass(frozen=True)
class Dims:
    """Per-layer GEMM view, one entry per layer: `batch` independent (m x k) @ (k x n) products.

    Conv layers may also give their kernel and output size (`kh`, `kw`, `stride`, `oh`, `ow`; zero
    when unknown); only row stationary uses them, the systolic dataflows use the GEMM view.
    """
    m: np.ndarray
    n: np.ndarray
    k: np.ndarray
    batch: np.ndarray
    kh: np.ndarray
    kw: np.ndarray
    stride: np.ndarray
    oh: np.ndarray
    ow: np.ndarray

    @classmethod
    def gemm(cls, m, n, k, batch=1) -> Dims:
        """Dims of plain GEMMs (no conv geometry); scalars or arrays."""
        m, n, k, batch = np.broadcast_arrays(*(np.atleast_1d(np.asarray(x, dtype=np.int64))
                                               for x in (m, n, k, batch)))
        zero = np.zeros_like(m)
        return cls(m, n, k, batch, zero, zero, np.ones_like(m), zero, zero)

    def __len__(self) -> int:
        return len(self.m)

    @property
    def macs(self) -> np.ndarray:
        return self.m * self.n * self.k * self.batch


@dataclass(frozen=True)
class FoldPlan:
    """How each layer's GEMM (per batch element) is cut into folds that run one after another.

    A fold is one full occupation of the array. Folds form a grid of `row_folds` x `col_folds`;
    each takes `fold_cycles` (fill, stream and drain included). The three operands sit in slots:
    the *row* operand depends only on the row-fold index, the *col* operand only on the col-fold
    index, the *pinned* operand on both (each of its pieces is used by exactly one fold). When the
    output is the col operand it is a partial sum accumulated across the row folds.
    Word counts are operand elements moved between the on-chip buffers and the array.
    """
    dataflow: Dataflow
    row_folds: np.ndarray
    col_folds: np.ndarray
    fold_cycles: np.ndarray
    row_operand: Operand
    col_operand: Operand
    pin_operand: Operand
    ifmap_reads: np.ndarray        # buffer -> array, elements per batch element
    weight_reads: np.ndarray
    ofmap_writes: np.ndarray       # array -> buffer (final outputs plus partial sums)
    ofmap_reads: np.ndarray        # buffer -> array (partial sums read back to accumulate)
    min_ifmap_words: np.ndarray    # the smallest piece of each operand a fold needs on chip at once
    min_weight_words: np.ndarray
    min_ofmap_words: np.ndarray
    rf_accesses_per_mac: float     # register / scratchpad accesses per MAC (energy)

    @property
    def folds(self) -> np.ndarray:
        return self.row_folds * self.col_folds

    def compute_cycles(self, batch) -> np.ndarray:
        """Cycles of the whole layer with no memory stall: folds run back to back."""
        return np.asarray(batch, dtype=np.int64) * self.folds * self.fold_cycles


class DataflowModel(abc.ABC):
    """A dataflow strategy. Subclasses say what is spatial and temporal and time each fold."""
    dataflow: Dataflow
    spatial_rows: str      # which GEMM dimension is spread over the array rows
    spatial_cols: str      # ... over the array columns
    temporal: str          # ... streamed through time within a fold

    @abc.abstractmethod
    def plan(self, dims: Dims, array: ArrayShape) -> FoldPlan:
        """Fold counts, per-fold cycles and buffer<->array traffic for every layer in `dims`."""

    def describe(self) -> str:
        return (f"{self.dataflow.value}: rows <- {self.spatial_rows}, cols <- {self.spatial_cols}, "
                f"time <- {self.temporal}")


def systolic_plan(dataflow: Dataflow, sr, sc, t, fold_cycles, array: ArrayShape, *, reads, writes,
                  slots, min_words) -> FoldPlan:
    """Shared constructor for the three systolic dataflows (WS, OS, IS)."""
    row_folds = ceil_div(sr, array.rows)
    col_folds = ceil_div(sc, array.cols)
    ifmap_reads, weight_reads = reads
    ofmap_writes, ofmap_reads = writes
    row_op, col_op, pin_op = slots
    min_i, min_w, min_o = (np.broadcast_to(np.asarray(x, dtype=np.int64), row_folds.shape)
                           for x in min_words)
    return FoldPlan(dataflow, row_folds, col_folds, np.asarray(fold_cycles, dtype=np.int64),
                    row_op, col_op, pin_op,
                    np.asarray(ifmap_reads, dtype=np.int64), np.asarray(weight_reads, dtype=np.int64),
                    np.asarray(ofmap_writes, dtype=np.int64), np.asarray(ofmap_reads, dtype=np.int64),
                    min_i, min_w, min_o,
                    # assumption: a systolic PE touches two operand registers and one accumulator
                    # per MAC (no scratchpad; pipeline registers)
                    rf_accesses_per_mac=3.0)


def pinned_operand_plan(dataflow: Dataflow, k, pinned, streamed, array: ArrayShape, *, a_pinned: bool) -> FoldPlan:
    """Weight stationary (B pinned, A streamed: pinned = n, streamed = m) and input stationary (A
    pinned, B streamed: pinned = m, streamed = n) are one array schedule with the operands' roles
    swapped. R cycles load a pinned R x C block, the streamed extent flows in skewed across the
    rows and partial sums drain skewed across the C columns: 2R + C + streamed - 2 cycles a fold,
    ceil(K/R) x ceil(pinned/C) folds. Each pinned element enters the array once; the streamed
    operand is re-streamed once per column fold; every K fold writes a partial sum of its
    streamed x C block and all but the first read one back (SCALE-Sim's WS and IS demand models)."""
    fold_cycles = 2 * array.rows + array.cols + streamed - 2
    row_folds = ceil_div(k, array.rows)
    col_folds = ceil_div(pinned, array.cols)
    pinned_reads, streamed_reads = k * pinned, col_folds * streamed * k
    block, edge = array.rows * array.cols, array.rows
    if a_pinned:
        reads, slots, min_words = (pinned_reads, streamed_reads), (Operand.WEIGHT, Operand.OFMAP, Operand.IFMAP), (
            block, edge, array.cols)
    else:
        reads, slots, min_words = (streamed_reads, pinned_reads), (Operand.IFMAP, Operand.OFMAP, Operand.WEIGHT), (
            edge, block, array.cols)
    return systolic_plan(dataflow, k, pinned, streamed, fold_cycles, array, reads=reads,
                         writes=(row_folds * streamed * pinned, (row_folds - 1) * streamed * pinned),
                         slots=slots, min_words=min_words)
