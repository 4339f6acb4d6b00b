"""Rand and VOI: agreement with scikit-image and hand-worked cases."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skimage.metrics import adapted_rand_error as sk_are
from skimage.metrics import variation_of_information as sk_voi

from stratoseg.metrics import adapted_rand_error, v_info, v_rand, voi

SHAPES = st.sampled_from([(6, 7), (5, 9), (3, 4, 5), (2, 6, 6)])


@st.composite
def label_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Random pairs, and structured ones: a label image and a relabelled/split/merged copy."""
    shape = draw(SHAPES)
    n = draw(st.integers(2, 8))
    gt = draw(arrays(np.int64, shape, elements=st.integers(0, n)))
    how = draw(st.sampled_from(["random", "split", "merge", "same"]))
    if how == "random":
        pred = draw(arrays(np.int64, shape, elements=st.integers(0, n)))
    elif how == "split":
        pred = gt * 2 + (np.indices(shape).sum(0) % 2)
    elif how == "merge":
        pred = gt // 2
    else:
        pred = gt * 3 + 1
    return pred, gt


@settings(max_examples=150, deadline=None)
@given(label_pairs())
def test_adapted_rand_error_agrees_with_skimage(pair: tuple[np.ndarray, np.ndarray]) -> None:
    pred, gt = pair
    assume((gt != 0).sum() > 1)  # scikit-image divides by zero pairs
    with np.errstate(all="ignore"):  # scikit-image divides 0/0 when a side has no pair
        err, prec, rec = sk_are(gt, pred)
        err_a = sk_are(gt, pred, alpha=1 - 0.3)[0]
    assume(np.isfinite([err, prec, rec, err_a]).all())
    ours = adapted_rand_error(pred, gt)
    assert ours.error == pytest.approx(err, abs=1e-9)
    # scikit-image's precision divides by the true image's pairs: our recall
    assert ours.recall == pytest.approx(prec, abs=1e-9)
    assert ours.precision == pytest.approx(rec, abs=1e-9)
    assert adapted_rand_error(pred, gt, alpha=0.3).error == pytest.approx(err_a, abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(label_pairs(), st.booleans())
def test_voi_agrees_with_skimage(pair: tuple[np.ndarray, np.ndarray], ignore: bool) -> None:
    pred, gt = pair
    ignore_labels = (0,) if ignore else ()
    assume(not ignore or (gt != 0).any())
    split, merge = sk_voi(gt, pred, ignore_labels=ignore_labels)
    ours = voi(pred, gt, ignore_labels=ignore_labels)
    assert ours.split == pytest.approx(split, abs=1e-9)
    assert ours.merge == pytest.approx(merge, abs=1e-9)
    assert ours.total == pytest.approx(split + merge, abs=1e-9)


def test_dask_and_numpy_give_the_same_tables() -> None:
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 50, (20, 30, 30))
    pred = (gt + (rng.random(gt.shape) < 0.1)) % 50
    a = voi(pred, gt)
    b = voi(da.from_array(pred, chunks=7), da.from_array(gt, chunks=(5, 11, 30)))
    assert (a.split, a.merge) == pytest.approx((b.split, b.merge), abs=1e-12)
    assert v_rand(pred, gt).score == pytest.approx(
        v_rand(da.from_array(pred, chunks=8), gt).score, abs=1e-12
    )


# --- hand-worked V_Rand (eq 15), foreground-restricted, alpha = 0.5 --------------------------
GT = np.array([[1, 1, 1, 1, 0, 2, 2]])  # two objects, 0 = membrane (not scored)


def test_perfect_prediction_scores_one() -> None:
    s = v_rand(GT * 5, GT)  # relabelled: labels do not matter
    assert (s.score, s.split, s.merge) == (1.0, 1.0, 1.0)


def test_one_split() -> None:
    # object 1 split 2 + 2: n_ij = {2, 2, 2}; sum n^2 = 12; s = (2, 2, 2) -> 12; t = (4, 2) -> 20
    s = v_rand(np.array([[1, 1, 3, 3, 0, 2, 2]]), GT)
    assert s.split == pytest.approx(12 / 20)
    assert s.merge == pytest.approx(12 / 12)
    assert s.score == pytest.approx(12 / (0.5 * 12 + 0.5 * 20))


def test_one_merge() -> None:
    # both objects one segment: n_ij = {4, 2}; sum n^2 = 20; s = (6,) -> 36; t = (4, 2) -> 20
    s = v_rand(np.array([[1, 1, 1, 1, 1, 1, 1]]), GT)  # the membrane voxel is not scored
    assert s.split == pytest.approx(20 / 20)
    assert s.merge == pytest.approx(20 / 36)
    assert s.score == pytest.approx(20 / 28)


def test_missed_object_becomes_boundary_singletons() -> None:
    # object 2 predicted as boundary (0): two singleton segments.
    # sum n^2 = 4^2 + 1 + 1 = 18; s: 4^2 + 1 + 1 = 18; t: 16 + 4 = 20
    s = v_rand(np.array([[1, 1, 1, 1, 0, 0, 0]]), GT)
    assert s.split == pytest.approx(18 / 20)
    assert s.merge == pytest.approx(1.0)
    # the same zeros taken as a segment instead: n = {4, 2}, s = (4, 2): a perfect score
    assert v_rand(np.array([[1, 1, 1, 1, 0, 0, 0]]), GT, pred_boundary=None).score == 1.0


def test_false_positive_on_the_membrane_is_not_scored() -> None:
    s = v_rand(np.array([[1, 1, 1, 1, 9, 2, 2]]), GT)  # label 9 only on the membrane voxel
    assert s.score == 1.0


def test_alpha_and_bad_input() -> None:
    pred = np.array([[1, 1, 3, 3, 0, 2, 2]])
    assert v_rand(pred, GT, alpha=0).score == v_rand(pred, GT).split
    assert v_rand(pred, GT, alpha=1).score == v_rand(pred, GT).merge
    with pytest.raises(ValueError, match="alpha must be in"):
        v_rand(pred, GT, alpha=1.5)
    with pytest.raises(ValueError, match="same shape"):
        v_rand(pred[:, :3], GT)
    with pytest.raises(TypeError, match="integer label image"):
        v_rand(pred.astype(float), GT)
    with pytest.raises(ValueError, match="no voxel to score"):
        v_rand(pred, np.zeros_like(GT))


def test_voi_hand_worked() -> None:
    # one object split in two equal halves: H(S|T) = 1 bit, H(T|S) = 0
    s = voi(np.array([[1, 1, 2, 2]]), np.array([[3, 3, 3, 3]]))
    assert (s.split, s.merge, s.total) == (1.0, 0.0, 1.0)
    # merging two equal objects: the mirror image
    m = voi(np.array([[3, 3, 3, 3]]), np.array([[1, 1, 2, 2]]))
    assert (m.split, m.merge) == (0.0, 1.0)


def test_v_info_hand_worked() -> None:
    # split of one of two objects (sizes 4 | 2 -> 2, 2 | 2), no membrane in the gt.
    # H(T) = h(4/6, 2/6) = 0.9183; H(S) = log2(3) = 1.5850; H(S,T) = H(S); I = H(T)
    gt = np.array([[1, 1, 1, 1, 2, 2]])
    s = v_info(np.array([[1, 1, 3, 3, 2, 2]]), gt)
    h_t = -(4 / 6) * np.log2(4 / 6) - (2 / 6) * np.log2(2 / 6)
    assert s.merge == pytest.approx(1.0)
    assert s.split == pytest.approx(h_t / np.log2(3))
    assert s.score == pytest.approx(h_t / (0.5 * np.log2(3) + 0.5 * h_t))
