"""Weight-stationary systolic dataflow: an R x C block of B is pinned in the PEs, A streams by.
Fold timing follows SCALE-Sim's WS demand model, written here as a closed form.
"""
from __future__ import annotations

from dataflows.base import ArrayShape, DataflowModel, Dataflow, Dims, FoldPlan, pinned_operand_plan


class WeightStationary(DataflowModel):
    """Rows hold k (reduction), columns hold n (outputs), the m rows of A stream through time.

    One fold: R cycles to shift the weight block in, then the M rows of A enter skewed across
    the R rows, partial sums flow down the columns and leave skewed across C columns: SCALE-Sim's
    demand is R (weight load) + M + C - 1 (drain) rows, skewed by R - 1, so a fold takes
    2R + C + M - 2 cycles. Folds are ceil(K/R) x ceil(N/C). Each K fold produces partial sums of
    the M x C outputs that are accumulated in the output buffer.
    When B is an activation (attention QK^T, A.V) the pinned block cannot be preloaded before the
    layer starts: it is fetched at run time through the weight path like any weight, at the
    activation bit width.
    """
    dataflow = Dataflow.WS
    spatial_rows = "k"
    spatial_cols = "n"
    temporal = "m"

    def plan(self, dims: Dims, array: ArrayShape) -> FoldPlan:
        return pinned_operand_plan(self.dataflow, dims.k, dims.n, dims.m, array, a_pinned=False)
