"""Dataflow strategies: fold counts and per-fold cycles against hand-computed and SCALE-Sim figures.
Every expected number here is worked out in the comment beside it.
"""
import numpy as np
import pytest

import dataflows
from dataflows import ArrayShape, Dataflow, Dims, Operand

VIT_GEMMS = Dims.gemm(m=[197, 197, 197, 197], n=[2304, 768, 3072, 768], k=[768, 768, 768, 3072])


def test_registry_is_explicit_and_complete():
    assert set(dataflows.REGISTRY) == set(Dataflow)
    for df in Dataflow:
        assert dataflows.get(df.value).dataflow is df
        assert dataflows.get(df).describe().startswith(df.value)
    with pytest.raises(ValueError):
        dataflows.get("xs")


def test_codes_round_trip():
    for df in Dataflow:
        assert Dataflow.from_code(df.code) is df


def test_output_stationary_matches_scalesim_golden_cycles():
    # SCALE-Sim reports folds * (K + R + C - 2) - 1: the zero-based index of the last cycle.
    plan = dataflows.plan("os", VIT_GEMMS, ArrayShape(32, 32))
    np.testing.assert_array_equal(plan.row_folds, [7, 7, 7, 7])            # ceil(197 / 32)
    np.testing.assert_array_equal(plan.col_folds, [72, 24, 96, 24])        # ceil(N / 32)
    np.testing.assert_array_equal(plan.fold_cycles, [830, 830, 830, 3134])  # K + 62
    np.testing.assert_array_equal(plan.compute_cycles(1) - 1, [418319, 139439, 557759, 526511])


def test_output_stationary_buffer_reads_match_scalesim_access_report():
    # DETAILED_ACCESS_REPORT.csv: SRAM IFMAP reads 10893312 = 72 col folds x 197 x 768;
    # SRAM Filter reads 12386304 = 7 row folds x 768 x 2304.
    plan = dataflows.plan("os", VIT_GEMMS, ArrayShape(32, 32))
    assert plan.ifmap_reads[0] == 10893312
    assert plan.weight_reads[0] == 12386304
    assert plan.ifmap_reads[3] == 14524416 and plan.weight_reads[3] == 16515072


def test_weight_stationary_hand_computed():
    # 4x4 array, M=10, N=6, K=5: rows take K -> ceil(5/4) = 2 folds, cols take N -> ceil(6/4) = 2;
    # a fold: R (weight load) + M + C - 1 (drain) + R - 1 (skew) = 4 + 10 + 3 + 3 = 20 cycles.
    plan = dataflows.plan("ws", Dims.gemm(10, 6, 5), ArrayShape(4, 4))
    assert (plan.row_folds[0], plan.col_folds[0], plan.fold_cycles[0]) == (2, 2, 20)
    assert plan.compute_cycles(1)[0] == 80
    # weights enter once; A is re-read per col fold; psums written per K fold, read back once
    assert plan.weight_reads[0] == 30 and plan.ifmap_reads[0] == 2 * 50
    assert plan.ofmap_writes[0] == 2 * 60 and plan.ofmap_reads[0] == 60
    assert (plan.row_operand, plan.col_operand, plan.pin_operand) == (Operand.IFMAP, Operand.OFMAP, Operand.WEIGHT)


def test_weight_stationary_single_fold():
    # everything fits one fold: 2*4 + 4 + 4 - 2 = 14 cycles
    plan = dataflows.plan("ws", Dims.gemm(4, 4, 4), ArrayShape(4, 4))
    assert plan.compute_cycles(1)[0] == 14


def test_input_stationary_hand_computed():
    # 4x4 array, M=10, N=6, K=5: rows take K -> 2 folds, cols take M -> ceil(10/4) = 3;
    # a fold: 2R + C + N - 2 = 8 + 4 + 6 - 2 = 16 cycles; 6 folds -> 96.
    plan = dataflows.plan("is", Dims.gemm(10, 6, 5), ArrayShape(4, 4))
    assert (plan.row_folds[0], plan.col_folds[0], plan.fold_cycles[0]) == (2, 3, 16)
    assert plan.compute_cycles(1)[0] == 96
    assert plan.ifmap_reads[0] == 50 and plan.weight_reads[0] == 3 * 30
    assert (plan.row_operand, plan.col_operand, plan.pin_operand) == (Operand.WEIGHT, Operand.OFMAP, Operand.IFMAP)


def test_rectangular_array_uses_rows_and_cols_as_scalesim():
    # OS on 8 rows x 2 cols, M=16, N=4, K=3: ceil(16/8) * ceil(4/2) = 4 folds of 3 + 8 + 2 - 2 = 11
    plan = dataflows.plan("os", Dims.gemm(16, 4, 3), ArrayShape(8, 2))
    assert plan.compute_cycles(1)[0] == 44
    # WS on the same array: rows take K=3 (1 fold), cols take N=4 (2 folds): 2*8 + 2 + 16 - 2 = 32
    assert dataflows.plan("ws", Dims.gemm(16, 4, 3), ArrayShape(8, 2)).compute_cycles(1)[0] == 64


def test_row_stationary_conv_hand_computed():
    # 3x4 array, scratchpads 12/224/24 words. Conv C=2, K=4, 3x3 filters, 4x4 output, stride 1.
    # q = min(12 // 3, 2) = 2 channels, p = min(24, 224 // 6, K=4) = 4 filters; a set is
    # 3 (filter rows) x 4 (output rows), one set fits; 1 row fold x 1 col fold;
    # a pass: p*q*S*F = 4*2*3*4 = 96 MAC cycles + set_h + set_w - 2 = 5 -> 101 cycles.
    dims = Dims(*(np.array([v]) for v in (16, 4, 18, 1, 3, 3, 1, 4, 4)))
    plan = dataflows.plan("rs", dims, ArrayShape(3, 4, 12, 224, 24))
    assert (plan.row_folds[0], plan.col_folds[0], plan.fold_cycles[0]) == (1, 1, 101)
    assert plan.compute_cycles(1)[0] >= dims.macs[0] / 12      # 1152 MACs on 12 PEs


def test_row_stationary_gemm_view_uses_all_pes():
    # GEMM m=100, n=48, k=24 on 4x4 PEs: each PE is a set; q = 12 channels, p = min(24, 224//12=18)
    # = 18 filters -> 3 filter bundles; 16 sets // 3 = 5 splits of the 100 rows (20 each);
    # col folds = ceil(3 * 5 / 16) = 1; row folds = ceil(24 / 12) = 2; pass = 18*12*20 = 4320.
    plan = dataflows.plan("rs", Dims.gemm(100, 48, 24), ArrayShape(4, 4, 12, 224, 24))
    assert (plan.row_folds[0], plan.col_folds[0], plan.fold_cycles[0]) == (2, 1, 4320)


def test_row_stationary_needs_scratchpads():
    with pytest.raises(ValueError):
        dataflows.plan("rs", Dims.gemm(4, 4, 4), ArrayShape(4, 4))


@pytest.mark.parametrize("df", list(Dataflow))
def test_folds_cover_every_mac(df):
    rng = np.random.default_rng(1)
    dims = Dims.gemm(rng.integers(1, 300, 40), rng.integers(1, 300, 40), rng.integers(1, 300, 40),
                     rng.integers(1, 4, 40))
    array = ArrayShape(8, 12, 12, 224, 24)
    plan = dataflows.plan(df, dims, array)
    assert np.all(plan.compute_cycles(dims.batch) * array.pes >= dims.macs)
    assert np.all(plan.row_folds >= 1) and np.all(plan.col_folds >= 1)


@pytest.mark.parametrize("df", list(Dataflow))
def test_vectorised_plan_equals_one_by_one(df):
    dims = Dims.gemm([5, 64, 197], [7, 33, 768], [9, 64, 3072])
    array = ArrayShape(16, 8, 12, 224, 24)
    whole = dataflows.plan(df, dims, array)
    for i in range(3):
        one = dataflows.plan(df, Dims.gemm(dims.m[i], dims.n[i], dims.k[i]), array)
        assert one.compute_cycles(1)[0] == whole.compute_cycles(1)[i]
        assert one.ifmap_reads[0] == whole.ifmap_reads[i]
