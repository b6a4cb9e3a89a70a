"""Input-stationary systolic dataflow: an R x C block of A (transposed) is pinned in the PEs.
Fold timing follows SCALE-Sim's IS demand model, written here as a closed form.
"""
from __future__ import annotations

from dataflows.base import ArrayShape, DataflowModel, Dataflow, Dims, FoldPlan, Operand, ceil_div, systolic_plan


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
        m, n, k = dims.m, dims.n, dims.k
        fold_cycles = 2 * array.rows + array.cols + n - 2
        row_folds = ceil_div(k, array.rows)
        col_folds = ceil_div(m, array.cols)
        return systolic_plan(
            self.dataflow, k, m, n, fold_cycles, array,
            # each element of A enters the array once; B is re-streamed once per col fold
            reads=(m * k, col_folds * k * n),
            writes=(row_folds * m * n, (row_folds - 1) * m * n),
            slots=(Operand.WEIGHT, Operand.OFMAP, Operand.IFMAP),
            min_words=(array.rows * array.cols, array.rows, array.cols),
        )
