"""What the engine simulates: a network's layers as a structure of numpy arrays (torch-free).
Build it from `Layer` records (the scheduler does, from the IR) or from a SCALE-Sim topology.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum, IntEnum

import numpy as np

from accel_sim.errors import UserError
from accel_sim.packing import MAX_BITS
from dataflows import Dims

class VectorFamily(str, Enum):
    """The vector unit's op families - one cycles-per-element figure each in an accelerator - in
    the order of their integer codes. The IR maps every op kind off the PE array to one of them."""
    EXP_SOFTMAX = "exp_softmax"
    LAYERNORM = "layernorm"     # and batch / group norm
    GELU = "gelu"
    ACTIVATION = "activation"   # ReLU, SiLU, hardswish, sigmoid, tanh
    ELTWISE = "eltwise"         # add, mul
    POOLING = "pooling"         # pooling, mean, upsampling


VECTOR_FAMILIES = tuple(f.value for f in VectorFamily)
FAMILY_CODE = {f.value: code for code, f in enumerate(VectorFamily)}


class LayerKind(IntEnum):
    GEMM = 0     # on the PE array, GEMM view only (linear, matmul, attention)
    CONV = 1     # on the PE array, GEMM view plus conv geometry (row stationary uses it)
    VECTOR = 2   # on the vector unit


@dataclass(frozen=True)
class Layer:
    """One layer. GEMM/CONV: `batch` independent (m x k) @ (k x n) products (a conv: m = images
    x oh x ow, n = out_ch/groups, k = in_ch/groups x kh x kw, batch = groups). VECTOR: `elems`
    element operations of one `vector_family`.

    Operand sizes are elements per batch element; 0 means the GEMM view (a = m*k, b = k*n,
    o = m*n). A conv's real ifmap is smaller than its im2col view; pass it as `a_elems`.
    For VECTOR layers a/o are the elements read and written and b the parameters (norm scales).
    `b_is_activation`: B is produced at run time (QK^T, A.V), so it is an activation at
    `a_bits` fetched like a weight rather than preloaded. `label` is a free name for reports.
    `producer`, `consumers` and `foldable` describe the graph around the layer for the mapper's
    fusion and residency decisions (-1: the input comes from DRAM).
    """
    name: str
    kind: LayerKind = LayerKind.GEMM
    m: int = 0
    n: int = 0
    k: int = 0
    batch: int = 1
    b_is_activation: bool = False
    w_bits: int = 8
    a_bits: int = 8
    vector_family: VectorFamily | str | None = None
    elems: int = 0
    a_elems: int = 0
    b_elems: int = 0
    o_elems: int = 0
    kh: int = 0
    kw: int = 0
    stride: int = 1
    oh: int = 0
    ow: int = 0
    iw: int = 0                  # conv input width (its A tiles are strips of rows with halo)
    producer: int = -1           # index of the layer whose output is this layer's main input
    consumers: int = 1           # how many layers read this layer's output
    foldable: bool = False       # a BatchNorm right after a conv/linear: folds into its weights
    depthwise: bool = False      # a depthwise conv (batch = channels, n = 1): mapped channel-parallel
    label: str = ""

    def __post_init__(self):
        try:
            kind = LayerKind[self.kind.upper()] if isinstance(self.kind, str) else LayerKind(self.kind)
        except (KeyError, ValueError):
            raise UserError(f"layer {self.name!r}: kind must be one of gemm, conv, vector; "
                            f"got {self.kind!r}") from None
        object.__setattr__(self, "kind", kind)
        if kind == LayerKind.VECTOR:
            if self.vector_family not in FAMILY_CODE:
                raise UserError(f"layer {self.name!r}: vector_family must be one of "
                                f"{', '.join(VECTOR_FAMILIES)}; got {self.vector_family!r}")
            object.__setattr__(self, "vector_family", VectorFamily(self.vector_family))
            if self.elems < 1 and self.a_elems < 1 and self.o_elems < 1:
                raise UserError(f"layer {self.name!r}: a vector layer needs elems >= 1")


_INT_COLUMNS = ("m", "n", "k", "batch", "w_bits", "a_bits", "vec_family", "vec_elems",
                "a_elems", "b_elems", "o_elems", "kh", "kw", "stride", "oh", "ow", "iw", "producer",
                "consumers")
_BOOL_COLUMNS = ("b_is_activation", "foldable", "depthwise")


@dataclass(frozen=True, eq=False)
class Workload:
    """Per-layer arrays (one entry per layer). Build with `from_layers` or `from_arrays`."""
    names: tuple[str, ...]
    labels: tuple[str, ...]
    kind: np.ndarray
    b_is_activation: np.ndarray
    m: np.ndarray
    n: np.ndarray
    k: np.ndarray
    batch: np.ndarray
    w_bits: np.ndarray
    a_bits: np.ndarray
    vec_family: np.ndarray     # family code, -1 for PE-array layers
    vec_elems: np.ndarray
    a_elems: np.ndarray        # per batch element
    b_elems: np.ndarray
    o_elems: np.ndarray
    kh: np.ndarray
    kw: np.ndarray
    stride: np.ndarray
    oh: np.ndarray
    ow: np.ndarray
    iw: np.ndarray
    producer: np.ndarray
    consumers: np.ndarray
    foldable: np.ndarray
    depthwise: np.ndarray

    def __post_init__(self):
        count = len(self.names)
        for f in fields(self):
            if f.name in ("names", "labels"):
                continue
            dtype = bool if f.name in _BOOL_COLUMNS else np.int64
            arr = np.ascontiguousarray(getattr(self, f.name), dtype=dtype).reshape(-1)
            if len(arr) != count:
                raise UserError(f"workload column {f.name} has {len(arr)} entries, expected {count}")
            arr.setflags(write=False)
            object.__setattr__(self, f.name, arr)
        if len(self.labels) != count:
            raise UserError(f"workload labels has {len(self.labels)} entries, expected {count}")
        self._check()

    def _check(self) -> None:
        pe = self.kind != LayerKind.VECTOR
        checks = [("m", self.m, pe, 1), ("n", self.n, pe, 1), ("k", self.k, pe, 1),
                  ("batch", self.batch, pe, 1), ("w_bits", self.w_bits, True, 1),
                  ("a_bits", self.a_bits, True, 1), ("vec_elems", self.vec_elems, ~pe, 1)]
        for name in ("a_elems", "b_elems", "o_elems", "kh", "kw", "oh", "ow", "iw", "consumers"):
            checks.append((name, getattr(self, name), True, 0))
        checks.append(("producer", self.producer, True, -1))
        checks.append(("stride", self.stride, True, 1))
        for name, values, mask, lowest in checks:
            bad = np.flatnonzero(mask & (values < lowest))
            if len(bad):
                i = bad[0]
                raise UserError(f"layer {self.names[i]!r}: {name} must be >= {lowest}, got {values[i]}")
        for name in ("w_bits", "a_bits"):
            bad = np.flatnonzero(getattr(self, name) > MAX_BITS)
            if len(bad):
                i = bad[0]
                raise UserError(f"layer {self.names[i]!r}: {name} must be <= {MAX_BITS}, "
                                f"got {getattr(self, name)[i]}")
        if np.any(self.kind > LayerKind.VECTOR) or np.any(self.kind < 0):
            raise UserError("workload kind codes must be 0 (gemm), 1 (conv) or 2 (vector)")
        bad = np.flatnonzero(self.producer >= np.arange(len(self.names)))
        if len(bad):
            i = bad[0]
            raise UserError(f"layer {self.names[i]!r}: producer must be an earlier layer, got {self.producer[i]}")

    @classmethod
    def from_layers(cls, layers) -> Workload:
        """A Workload from `Layer` records, filling the GEMM-view defaults."""
        layers = list(layers)
        rows = []
        for layer in layers:
            vector = layer.kind == LayerKind.VECTOR
            if vector:
                a = layer.a_elems or layer.elems
                o = layer.o_elems or layer.elems
                pooling = layer.vector_family is VectorFamily.POOLING
                elems = layer.elems or (a if pooling else o) or a
                rows.append((0, 0, 0, 1, layer.w_bits, layer.a_bits, FAMILY_CODE[layer.vector_family],
                             elems, a, layer.b_elems, o, 0, 0, 1, 0, 0, 0, layer.producer, layer.consumers))
            else:
                rows.append((layer.m, layer.n, layer.k, layer.batch, layer.w_bits, layer.a_bits, -1, 0,
                             layer.a_elems or layer.m * layer.k, layer.b_elems or layer.k * layer.n,
                             layer.o_elems or layer.m * layer.n,
                             layer.kh, layer.kw, layer.stride, layer.oh, layer.ow, layer.iw,
                             layer.producer, layer.consumers))
        table = np.array(rows, dtype=np.int64).reshape(len(rows), len(_INT_COLUMNS))
        columns = {name: table[:, i] for i, name in enumerate(_INT_COLUMNS)}
        return cls(names=tuple(x.name for x in layers),
                   labels=tuple(x.label or x.kind.name.lower() for x in layers),
                   kind=np.array([int(x.kind) for x in layers], dtype=np.int64),
                   b_is_activation=np.array([x.b_is_activation for x in layers], dtype=bool),
                   foldable=np.array([x.foldable for x in layers], dtype=bool),
                   depthwise=np.array([x.depthwise for x in layers], dtype=bool),
                   **columns)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def is_vector(self) -> np.ndarray:
        return self.kind == LayerKind.VECTOR

    @property
    def macs(self) -> np.ndarray:
        return np.where(self.is_vector, 0, self.m * self.n * self.k * self.batch)

    def dims(self, index=slice(None)) -> Dims:
        """The GEMM view of the layers at `index`, for the dataflows."""
        return Dims(self.m[index], self.n[index], self.k[index], self.batch[index], self.kh[index],
                    self.kw[index], self.stride[index], self.oh[index], self.ow[index])
