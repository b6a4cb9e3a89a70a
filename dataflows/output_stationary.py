"""Output-stationary systolic dataflow: each PE keeps one output and accumulates it in place.
Fold timing follows SCALE-Sim's OS demand model, written here as a closed form.
"""
from __future__ import annotations

import numpy as np

from dataflows.base import ArrayShape, DataflowModel, Dataflow, Dims, FoldPlan, Operand, ceil_div, systolic_plan


class OutputStationary(DataflowModel):
    """Rows hold m (output rows), columns hold n (output columns), k streams through time.

    One fold: rows of A enter from the left and columns of B from the top, each skewed by one
    cycle per PE, for K cycles; the last operand reaches the far corner R + C - 2 cycles after it
    entered, and the finished outputs drain while the next fold has not started (SCALE-Sim adds
    C - 1 idle rows after the K-long stream and skews the R-wide demand by R - 1 more), so a fold
    takes K + R + C - 2 cycles. SCALE-Sim reports the zero-based index of the last cycle, one less
    than this count, once per layer. Edge folds are padded to the full array, as in SCALE-Sim.
    """
    dataflow = Dataflow.OS
    spatial_rows = "m"
    spatial_cols = "n"
    temporal = "k"

    def plan(self, dims: Dims, array: ArrayShape) -> FoldPlan:
        m, n, k = dims.m, dims.n, dims.k
        fold_cycles = k + array.rows + array.cols - 2
        row_folds = ceil_div(m, array.rows)
        col_folds = ceil_div(n, array.cols)
        return systolic_plan(
            self.dataflow, m, n, k, fold_cycles, array,
            # every col fold re-reads all of A; every row fold re-reads all of B; O written once
            reads=(col_folds * m * k, row_folds * k * n),
            writes=(m * n, np.zeros_like(m)),
            slots=(Operand.IFMAP, Operand.WEIGHT, Operand.OFMAP),
            # one array edge of A and of B per cycle; a full R x C block of outputs to drain
            min_words=(array.rows, array.cols, array.rows * array.cols),
        )
