"""Boundary F1 with a tolerance radius (Guerrero Peña 2019, §3.3): hand-worked 2-D and 3-D cases."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.segmentation import find_boundaries

from stratoseg.metrics._boundary import BoundaryScore, boundary_f1, label_boundaries


def square(shape: tuple[int, int], rows: slice, cols: slice, label: int = 1) -> np.ndarray:
    out = np.zeros(shape, dtype=np.int32)
    out[rows, cols] = label
    return out


# 4x4 square at rows 2-5, cols 2-5 of an 8x8 image: its inner boundary is the ring of
# 16 - 4 = 12 pixels (rows 2 and 5 in full, columns 2 and 5 in rows 3-4).
GT = square((8, 8), slice(2, 6), slice(2, 6))


def test_boundary_map_of_square() -> None:
    ring = np.zeros((8, 8), bool)
    ring[2:6, 2:6] = True
    ring[3:5, 3:5] = False
    np.testing.assert_array_equal(label_boundaries(GT), ring)


@pytest.mark.parametrize("shape", [(30, 31), (9, 10, 11)])
def test_boundary_map_matches_skimage(shape: tuple[int, ...]) -> None:
    labels = np.random.default_rng(0).integers(0, 4, size=shape)
    expected = find_boundaries(labels, connectivity=1, mode="inner", background=0)
    np.testing.assert_array_equal(label_boundaries(labels), expected)
    # without a background every label's side of every interface is marked
    expected_all = find_boundaries(labels, connectivity=1, mode="thick")
    np.testing.assert_array_equal(label_boundaries(labels, background=None), expected_all)


def test_perfect() -> None:
    assert boundary_f1(GT, GT, tolerance=0) == BoundaryScore(1.0, 1.0, 1.0, 12, 12)
    relabelled = GT * 7  # label values do not matter, only where they change
    assert boundary_f1(relabelled, GT).f1 == 1.0


def test_shift_by_one_pixel() -> None:
    pred = square((8, 8), slice(2, 6), slice(3, 7))  # the square one column to the right
    # pred ring: rows 2 and 5 at cols 3-6, cols 3 and 6 at rows 3-4 (12 pixels).
    # Common to both rings: rows 2 and 5 at cols 3, 4, 5 = 6 pixels; pred (3,3), (4,3) lie inside
    # the GT ring's hole and GT (3,5), (4,5) inside pred's hole. Tolerance 0:
    # P = 6 / 12, R = 6 / 12, F1 = 0.5.
    score = boundary_f1(pred, GT, tolerance=0)
    assert score == BoundaryScore(0.5, 0.5, 0.5, 12, 12)
    # Tolerance 1: every pred pixel is 1 pixel right of a GT ring pixel and every GT pixel
    # 1 pixel left of a pred one -> 1.0.
    assert boundary_f1(pred, GT, tolerance=1).f1 == 1.0
    assert boundary_f1(pred, GT, tolerance=0.99).f1 == 0.5


def test_split_object() -> None:
    # GT: a 6x6 square (rows 2-7, cols 2-7) in 10x10; ring = 36 - 16 = 20 pixels.
    gt = square((10, 10), slice(2, 8), slice(2, 8))
    # pred: the same square split into rows 2-4 (label 1) and rows 5-7 (label 2); the split
    # adds the interior pixels of rows 4 and 5 (cols 3-6): 8 pixels, 28 in all.
    pred = gt.copy()
    pred[5:8, 2:8] = 2
    score = boundary_f1(pred, gt, tolerance=0)
    assert (score.n_pred, score.n_gt) == (28, 20)
    assert score.recall == 1.0
    assert score.precision == pytest.approx(20 / 28)
    assert score.f1 == pytest.approx(2 * (20 / 28) / (20 / 28 + 1))
    # tolerance 1: of the split pixels, cols 3 and 6 touch the ring (distance 1); cols 4, 5 are
    # 2 pixels from it -> P = (28 - 4) / 28 = 6/7
    assert boundary_f1(pred, gt, tolerance=1).precision == pytest.approx(24 / 28)
    assert boundary_f1(pred, gt, tolerance=2).precision == 1.0


def test_missed_and_false_positive_object() -> None:
    # A: 4x4 square (ring of 12) at rows 2-5, cols 2-5; B: 3x3 square (ring of 8) at rows 2-4,
    # cols 10-12; they are 5 columns apart, beyond the tolerance of 2.
    a = square((8, 16), slice(2, 6), slice(2, 6))
    both = a + square((8, 16), slice(2, 5), slice(10, 13), label=2)
    missed = boundary_f1(a, both, tolerance=2)  # B not found: R = 12 / 20 = 0.6, P = 1
    assert (missed.precision, missed.recall, missed.n_pred, missed.n_gt) == (1.0, 0.6, 12, 20)
    assert missed.f1 == pytest.approx(2 * 0.6 / 1.6)  # 0.75
    extra = boundary_f1(both, a, tolerance=2)  # B invented: P = 12 / 20 = 0.6, R = 1
    assert (extra.precision, extra.recall, extra.n_pred, extra.n_gt) == (0.6, 1.0, 20, 12)
    assert extra.f1 == pytest.approx(0.75)


def test_empty() -> None:
    empty = np.zeros((8, 8), np.uint16)
    assert boundary_f1(empty, empty) == BoundaryScore(1.0, 1.0, 1.0, 0, 0)
    assert boundary_f1(GT, empty) == BoundaryScore(0.0, 0.0, 0.0, 12, 0)
    assert boundary_f1(empty, GT) == BoundaryScore(0.0, 0.0, 0.0, 0, 12)
    full = np.ones((8, 8), bool)  # one object filling the image has no boundary either
    assert boundary_f1(full, empty).f1 == 1.0


def test_3d_shift_and_anisotropy() -> None:
    # 4x4x4 cube at 2-5 on each axis of an 8x8x8 volume: 64 - 8 = 56 boundary voxels.
    gt = np.zeros((8, 8, 8), np.int64)
    gt[2:6, 2:6, 2:6] = 1
    pred = np.roll(gt, 1, axis=0)  # shifted by one voxel along z (z = 3-6)
    # Shared boundary voxels: z = 3, 4, 5 with y or x on the cube's side (12 per slice) = 36.
    # (GT's z = 5 face interior and pred's z = 3 face interior are not boundary in the other.)
    score = boundary_f1(pred, gt, tolerance=0)
    assert (score.n_pred, score.n_gt) == (56, 56)
    assert score.precision == pytest.approx(36 / 56)
    assert score.recall == pytest.approx(36 / 56)
    assert boundary_f1(pred, gt, tolerance=1).f1 == 1.0
    # Voxels 2 units deep along z: the z shift now costs 2 units, but pred's z = 3 face interior
    # (4 voxels) is 1 unit from GT's side walls in y/x, and likewise GT's z = 5 face interior:
    # P = R = (36 + 4) / 56 = 5/7 with tolerance 1; tolerance 2 reaches across the shift.
    aniso = boundary_f1(pred, gt, tolerance=1, voxel_size=(2.0, 1.0, 1.0))
    assert aniso.precision == pytest.approx(40 / 56)
    assert aniso.recall == pytest.approx(40 / 56)
    assert boundary_f1(pred, gt, tolerance=2, voxel_size=(2, 1, 1)).f1 == 1.0
    # a single float is the same spacing on every axis
    assert boundary_f1(pred, gt, tolerance=1, voxel_size=0.5).f1 == 1.0


def test_symmetry_and_inputs_untouched() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 3, size=(20, 20)), rng.integers(0, 3, size=(20, 20))
    a_copy, b_copy = a.copy(), b.copy()
    ab, ba = boundary_f1(a, b, tolerance=1.5), boundary_f1(b, a, tolerance=1.5)
    assert (ab.precision, ab.recall, ab.f1) == (ba.recall, ba.precision, ba.f1)
    np.testing.assert_array_equal(a, a_copy)
    np.testing.assert_array_equal(b, b_copy)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="same shape"):
        boundary_f1(GT, GT[:7])
    with pytest.raises(TypeError, match="gt must be a bool or integer label image, got dtype"):
        boundary_f1(GT, GT.astype(np.float32))
    with pytest.raises(TypeError, match="pred dtype"):
        boundary_f1(GT.astype(complex), GT)
    with pytest.raises(ValueError, match="ndim >= 2"):
        boundary_f1(GT[0], GT[0])
    with pytest.raises(ValueError, match="tolerance must be finite and >= 0, got -1"):
        boundary_f1(GT, GT, tolerance=-1)
    with pytest.raises(TypeError, match="tolerance must be a real number"):
        boundary_f1(GT, GT, tolerance="2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="voxel_size must have 1 or 2 values"):
        boundary_f1(GT, GT, voxel_size=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="voxel_size must be finite and > 0"):
        boundary_f1(GT, GT, voxel_size=(1.0, 0.0))
    with pytest.raises(TypeError, match="voxel_size must be a real number or a sequence"):
        boundary_f1(GT, GT, voxel_size=object())  # type: ignore[arg-type]
    assert boundary_f1(GT, GT, voxel_size=[2.0]).f1 == 1.0
    with pytest.raises(TypeError, match="background must be an int or None"):
        boundary_f1(GT, GT, background=0.5)  # type: ignore[arg-type]


def test_ball_dilation_equals_the_distance_transform() -> None:
    """The fast path (shifted ORs over the tolerance ball) counts exactly what the EDT does."""
    from scipy.ndimage import distance_transform_edt

    from stratoseg.metrics import _boundary

    rng = np.random.default_rng(0)
    for _ in range(60):
        ndim = int(rng.choice([2, 3]))
        shape = tuple(int(n) for n in rng.integers(1, 20, ndim))  # thin images too
        source, target = rng.random(shape) < 0.1, rng.random(shape) < 0.05
        target.flat[rng.integers(target.size)] = True  # boundary_f1 never passes an empty map
        tol = float(rng.choice([0, 0.5, 1, 1.5, 2, 2.5, 3]))
        sampling = tuple(float(v) for v in rng.choice([0.5, 1.0, 2.0], ndim))
        dist = distance_transform_edt(~target, sampling=sampling)
        expected = int(np.count_nonzero(dist[source] <= tol * (1 + _boundary._SLACK)))
        assert _boundary._matched(source, target, tolerance=tol, sampling=sampling) == expected


def test_ignored_ground_truth_region_is_not_scored() -> None:
    gt = np.zeros((10, 10), np.int32)
    gt[1:5, 1:5] = 1
    gt[5:10, :] = 9  # not annotated
    pred = gt.copy()
    pred[5:10, :5], pred[5:10, 5:] = 3, 4  # splits inside the ignored region
    assert boundary_f1(pred, gt, tolerance=0, ignore_label=9).f1 == 1.0
    assert boundary_f1(pred, gt, tolerance=0).f1 < 1.0


def test_one_merge_hand_worked() -> None:
    # Two touching 4x3 objects; the prediction merges them into one 4x6 object.
    # gt boundaries: 12 - 2 interior = 10 per object -> 20 (4 of them on the interface).
    # pred boundary: the outer ring of 4x6 = 24 - 8 interior = 16, all on the gt boundary.
    gt = np.zeros((8, 8), np.int32)
    gt[2:6, 1:4] = 1
    gt[2:6, 4:7] = 2
    pred = (gt > 0).astype(np.int32)
    s = boundary_f1(pred, gt, tolerance=0)
    assert (s.n_pred, s.n_gt) == (16, 20)
    assert s.precision == 1.0
    assert s.recall == pytest.approx(16 / 20)
    # each interface pixel is one pixel away from the merged object's top or bottom edge
    assert boundary_f1(pred, gt, tolerance=1).recall == 1.0
