"""Row-stationary dataflow (Eyeriss): each PE runs a 1-D convolution of one filter row.
The analytical model below is ours, after Chen et al. ISCA 2016 / JSSC 2017; numpy only.

Model. A conv layer has C input channels, K filters of R x S, an E x F output (stride U).
- Primitive: one PE convolves one filter row (S taps) with one ifmap row, producing one row of
  F partial sums; from its scratchpads it interleaves p filters and q channels, so one
  processing pass costs the PE p*q*S*F cycles (one MAC per cycle).
- Logical PE set: R rows (filter rows, vertical psum accumulation) x E columns (ofmap rows,
  ifmap rows reused along the diagonals). A set taller than the array is cut into
  ceil(R / rows) row folds; a set wider than the array is strip-mined into ceil(E / cols) strips.
- Several sets fit side by side: floor(rows / set_h) x floor(cols / set_w) run concurrently on
  different filter bundles / strips / images (Eyeriss replicates and folds sets the same way).
  When there are fewer of those than sets, the F output columns are split over the idle sets
  (our extension; it is what makes a GEMM, whose rows are independent, use the whole array).
- p and q come from the scratchpad sizes (Eyeriss: ifmap 12, filter 224, psum 24 words per PE):
  q = floor(ifmap_words / S), p = min(psum_words, floor(filter_words / (q*S))), clipped to
  [1, C] and [1, K]. A filter row longer than the ifmap pad streams (q = 1).
- Folds: row folds = ceil(C/q) channel bundles x R folds (the reduction: partial sums go back
  to the global buffer between them); col folds = ceil(ceil(K/p) x strips x images x splits /
  sets), where F' = ceil(F / splits) is the share of output columns of one set.
  Each fold costs p*q*S*F' + set_h + set_w - 2 cycles (the extra is the diagonal ifmap fill and
  vertical psum accumulation of one pass).
- Global-buffer traffic: the ifmap is read once per group of filter bundles that share it by
  multicast (and once per R fold); each weight once per strip and image; each output is written
  once per channel bundle and read back for all but the first.
A plain GEMM (m x k) @ (k x n) is the 1 x 1 conv with C = k, K = n, R = S = E = 1, F = m: every
PE is its own set, holding p x q weights and streaming the m rows of A.
"""
from __future__ import annotations

import numpy as np

from dataflows.base import ArrayShape, DataflowModel, Dataflow, Dims, FoldPlan, Operand, ceil_div


class RowStationary(DataflowModel):
    dataflow = Dataflow.RS
    spatial_rows = "filter rows (kh)"
    spatial_cols = "output rows (oh)"
    temporal = "output columns x filters x channels x filter columns"

    def plan(self, dims: Dims, array: ArrayShape) -> FoldPlan:
        if min(array.rf_ifmap_words, array.rf_filter_words, array.rf_psum_words) < 1:
            raise ValueError("row stationary needs per-PE scratchpads (register_file)")
        m, n, k = dims.m, dims.n, dims.k
        plane = np.maximum(dims.oh * dims.ow, 1)
        window = np.maximum(dims.kh * dims.kw, 1)
        conv = (dims.kh > 0) & (dims.oh > 0) & (dims.ow > 0) & (m % plane == 0) & (k % window == 0)
        r = np.where(conv, dims.kh, 1)
        s = np.where(conv, dims.kw, 1)
        e = np.where(conv, dims.oh, 1)
        f = np.where(conv, dims.ow, m)
        c = np.where(conv, k // window, k)
        u = np.where(conv, np.maximum(dims.stride, 1), 1)
        images = np.where(conv, m // plane, 1)

        q = np.clip(array.rf_ifmap_words // s, 1, c)
        p = np.clip(np.minimum(array.rf_psum_words, array.rf_filter_words // (q * s)), 1, n)
        set_h = np.minimum(r, array.rows)
        r_folds = ceil_div(r, array.rows)
        set_w = np.minimum(e, array.cols)
        strips = ceil_div(e, array.cols)
        sets = (array.rows // set_h) * (array.cols // set_w)
        k_bundles = ceil_div(n, p)
        f_split = np.clip(sets // (k_bundles * strips * images), 1, f)
        f_per_set = ceil_div(f, f_split)

        row_folds = ceil_div(c, q) * r_folds
        col_folds = ceil_div(k_bundles * strips * images * f_split, sets)
        fold_cycles = p * q * s * f_per_set + set_h + set_w - 2

        in_rows = (e - 1) * u + r
        ifmap_elems = c * in_rows * ((f - 1) * u + s) * images
        set_in_cols = (f_per_set - 1) * u + s
        return FoldPlan(
            self.dataflow, row_folds, col_folds, fold_cycles.astype(np.int64),
            Operand.IFMAP, Operand.OFMAP, Operand.WEIGHT,
            ifmap_reads=ifmap_elems * r_folds * ceil_div(k_bundles, sets),
            weight_reads=k * n * strips * images,
            ofmap_writes=m * n * row_folds,
            ofmap_reads=m * n * (row_folds - 1),
            min_ifmap_words=set_in_cols, min_weight_words=s.astype(np.int64), min_ofmap_words=f_per_set,
            # Eyeriss PE: ifmap read, filter read, psum read and psum write in the scratchpads
            rf_accesses_per_mac=4.0,
        )
