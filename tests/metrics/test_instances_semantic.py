"""Panoptic quality and semantic scores: hand-worked cases written out."""

from __future__ import annotations

import numpy as np
import pytest

from stratoseg.metrics import match_instances, semantic_scores

# Ground truth: three 2x2 objects in a 4x8 image (row blocks), background 0.
GT = np.zeros((4, 8), np.int32)
GT[0:2, 0:2] = 1
GT[0:2, 4:6] = 2
GT[2:4, 2:4] = 3


def test_perfect() -> None:
    s = match_instances(GT * 7, GT)
    assert (s.tp, s.fp, s.fn) == (3, 0, 0)
    assert (s.pq, s.sq, s.rq, s.f1, s.precision, s.recall) == (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)


def test_one_split() -> None:
    # object 1 split into two 1x2 halves: IoU 2/4 = 0.5 each, not > 0.5: no match for object 1
    pred = GT.copy()
    pred[1, 0:2] = 9
    s = match_instances(pred, GT)
    assert (s.tp, s.fp, s.fn) == (2, 2, 1)
    # SQ = (1 + 1) / 2 = 1; RQ = 2 / (2 + 2/2 + 1/2) = 2 / 3.5
    assert s.sq == 1.0
    assert s.rq == pytest.approx(2 / 3.5)
    assert s.pq == pytest.approx(2 / 3.5)


def test_one_merge() -> None:
    # objects 1 and 3 merged (plus the two background pixels between them would not touch:
    # they are diagonal neighbours); merged segment has 8 pixels: IoU with each = 4/8 = 0.5
    pred = GT.copy()
    pred[pred == 3] = 1
    s = match_instances(pred, GT)
    assert (s.tp, s.fp, s.fn) == (1, 1, 2)
    assert s.rq == pytest.approx(1 / (1 + 0.5 + 1))
    assert s.pq == pytest.approx(0.4)


def test_one_missed_object() -> None:
    pred = GT.copy()
    pred[pred == 2] = 0
    s = match_instances(pred, GT)
    assert (s.tp, s.fp, s.fn) == (2, 0, 1)
    assert s.precision == 1.0
    assert s.recall == pytest.approx(2 / 3)
    assert s.pq == pytest.approx(2 / 2.5)


def test_one_false_positive_and_partial_overlap() -> None:
    pred = GT.copy()
    pred[3, 6:8] = 5  # a false positive in the background
    pred[0, 5] = 0  # object 2 loses one pixel: IoU 3/4
    s = match_instances(pred, GT)
    assert (s.tp, s.fp, s.fn) == (3, 1, 0)
    # SQ = (1 + 0.75 + 1) / 3; RQ = 3 / (3 + 0.5)
    assert s.sq == pytest.approx(2.75 / 3)
    assert s.rq == pytest.approx(3 / 3.5)
    assert s.pq == pytest.approx(2.75 / 3 * 3 / 3.5)
    assert s.mean_iou == s.sq


def test_thousands_of_instances_in_3d() -> None:
    gt = np.zeros((40, 100, 100), np.int32)
    ids = np.arange(1, 1 + 20 * 25 * 25).reshape(20, 25, 25)
    gt[::2, ::4, ::4] = ids  # 12,500 one-voxel objects
    pred = gt.copy()
    pred[pred % 10 == 0] = 0  # a tenth missed
    s = match_instances(pred, gt)
    assert s.tp == 12500 - 1250
    assert s.fn == 1250
    assert s.fp == 0


def test_bad_threshold() -> None:
    with pytest.raises(ValueError, match="iou_threshold must be in"):
        match_instances(GT, GT, iou_threshold=0.3)


def test_semantic_hand_worked() -> None:
    gt = np.array([[0, 0, 1, 1, 2, 2]])
    pred = np.array([[0, 1, 1, 1, 2, 0]])
    s = semantic_scores(pred, gt)
    # class 0: TP 1, FP 1 (last pixel), FN 1 -> J 1/3, D 2/4
    # class 1: TP 2, FP 1, FN 0 -> J 2/3, D 4/5; class 2: TP 1, FP 0, FN 1 -> J 1/2, D 2/3
    np.testing.assert_allclose(s.jaccard, [1 / 3, 2 / 3, 1 / 2])
    np.testing.assert_allclose(s.dice, [2 / 4, 4 / 5, 2 / 3])
    assert s.mean_jaccard == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert s.accuracy == pytest.approx(4 / 6)
    np.testing.assert_array_equal(s.confusion, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])


def test_semantic_ignore_label_and_absent_class() -> None:
    gt = np.array([[0, 1, 1, 2, 2, 0]])  # 0 = unannotated (sparse scribbles)
    pred = np.array([[1, 1, 1, 2, 1, 2]])
    s = semantic_scores(pred, gt, ignore_label=0, n_classes=4)
    assert np.isnan(s.jaccard[0])
    assert np.isnan(s.jaccard[3])
    assert s.jaccard[1] == pytest.approx(2 / 3)
    assert s.jaccard[2] == pytest.approx(1 / 2)
    with pytest.raises(ValueError, match="more than 1024"):
        semantic_scores(np.arange(2000).reshape(40, 50), np.zeros((40, 50), int))


def test_predicting_the_ignored_class_does_not_count() -> None:
    # scored voxels: gt [1, 1, 2, 2] vs pred [0, 1, 2, 2]: class 1 J = 1/2, class 2 J = 1
    s = semantic_scores(
        np.array([[1, 2, 0, 1, 2, 2]]), np.array([[0, 0, 1, 1, 2, 2]]), ignore_label=0
    )
    assert np.isnan(s.jaccard[0])
    assert s.mean_jaccard == pytest.approx(0.75)
