"""Input-stationary systolic dataflow: an R x C block of A (transposed) is pinned in the PEs.
Fold timing follows SCALE-Sim's IS demand model, written here as a closed form.
"""
from __future__ import annotations

from dataflows.base import ArrayShape, DataflowModel, Dataflow, Dims, FoldPlan, pinned_operand_plan


class InputStationary(DataflowModel):
    """Rows hold k (reduction), columns hold m (output rows), the n columns of B stream through.

    The mirror image of weight stationary with A and B swapped: R cycles to load the pinned
    block, the N columns of B stream in skewed across the rows, partial sums drain skewed across
    the C columns, so a fold takes 2R + C + N - 2 cycles. Folds are ceil(K/R) x ceil(M/C); partial
    sums of each C x N block are accumulated in the output buffer across the K folds.
    """
    dataflow = Dataflow.IS
    spatial_rows = "k"
    spatial_cols = "m"
    temporal = "n"

    def plan(self, dims: Dims, array: ArrayShape) -> FoldPlan:
        return pinned_operand_plan(self.dataflow, dims.k, dims.m, dims.n, array, a_pinned=True)
