"""A model's compression (precision policy, pruning plan) as one value, and the one function applying it.
Pruning runs first, then precision; the IR verifier checks the graph after each pass when asked to.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from codesign.ir import Graph, verify, verify_pass
from codesign.transforms.precision import PrecisionPolicy, apply_precision, parse_precision
from codesign.transforms.prune import PrunePlan, apply_pruning, parse_prune

VERIFY_ENV = "CODESIGN_VERIFY_IR"     # "1": verify the IR after every pass (the test suite sets it)


@dataclass(frozen=True)
class Compression:
    """What is done to a model before it is mapped: a precision policy and a pruning plan, either
    absent (None: the model as extracted)."""
    precision: PrecisionPolicy | None = None
    pruning: PrunePlan | None = None

    def __post_init__(self):
        if self.pruning is not None and self.pruning == PrunePlan():
            object.__setattr__(self, "pruning", None)       # a plan that keeps everything: none

    @classmethod
    def of(cls, precision=None, prune_heads=None, prune_mlp=None, importance: str | None = None) -> Compression:
        """From what `--precision`, `--prune-heads`, `--prune-mlp` and `--prune-importance` take, or
        from parsed objects (a PrecisionPolicy, a PrunePlan, a keep ratio)."""
        policy = parse_precision(precision) if isinstance(precision, str) else precision
        plan = prune_heads if isinstance(prune_heads, PrunePlan) else (
            parse_prune(heads=prune_heads) if prune_heads is not None else None)
        if prune_mlp is not None:
            ratio = prune_mlp if isinstance(prune_mlp, float) else parse_prune(mlp=prune_mlp).mlp_keep_ratio
            plan = dataclasses.replace(plan or PrunePlan(), mlp_keep_ratio=ratio)
        if importance is not None and plan is not None:
            plan = dataclasses.replace(plan, importance=importance)
        return cls(policy, plan)

    @property
    def prunes(self) -> bool:
        return self.pruning is not None and (self.pruning.prunes_heads or self.pruning.mlp_keep_ratio is not None)

    @property
    def precision_spec(self) -> str | None:
        return self.precision.spec if self.precision is not None else None

    def to_dict(self) -> dict:
        """{"precision", "prune_heads", "mlp_keep_ratio", ...}: canonical specs, None where not asked for."""
        return {"precision": self.precision_spec, **(self.pruning or PrunePlan()).to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> Compression:
        """The inverse of `to_dict`."""
        return cls.of(data.get("precision"), data.get("prune_heads"), data.get("mlp_keep_ratio"),
                      data.get("prune_importance"))

    def apply(self, graph: Graph, verify_ir: bool | None = None) -> Graph:
        return compress(graph, self, verify_ir)


def verifying(verify_ir: bool | None = None) -> bool:
    """Whether passes verify the IR: as asked, else as the environment says."""
    return bool(verify_ir) if verify_ir is not None else os.environ.get(VERIFY_ENV, "") == "1"


def compress(graph: Graph, compression: Compression, verify_ir: bool | None = None) -> Graph:
    """`graph` pruned, then set to the precision policy's widths; with `verify_ir`, the IR is
    verified before the first pass and after each one (invariants, and what each pass keeps)."""
    check = verifying(verify_ir)
    passes = []
    if compression.prunes:
        passes.append(("pruning", lambda g: apply_pruning(g, compression.pruning)))
    if compression.precision is not None:
        passes.append(("precision", lambda g: apply_precision(g, compression.precision)))
    if check and passes:
        verify(graph)
    for name, run in passes:
        after = run(graph)
        if check:
            verify_pass(graph, after, name)
        graph = after
    return graph
