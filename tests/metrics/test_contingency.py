"""The contingency table: any integer labels, numpy and dask alike, restrict() exact."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest

from stratoseg.metrics import contingency, match_instances, semantic_scores, v_rand, voi


def _cells(t) -> list[tuple[int, int, int]]:
    return sorted(zip(t.pred.tolist(), t.gt.tolist(), t.counts.tolist(), strict=True))


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int64])
def test_negative_labels(dtype: type) -> None:
    gt = np.array([[-1, -1, 0, 0, 1, 1]], dtype)
    pred = np.array([[0, 0, -1, -1, 1, 1]], dtype)  # a relabelling: perfect
    assert _cells(contingency(pred, gt)) == [(-1, 0, 2), (0, -1, 2), (1, 1, 2)]
    s = voi(pred, gt)
    assert (s.split, s.merge) == (0.0, 0.0)
    assert match_instances(pred + 2, gt + 2).pq == 1.0
    with pytest.raises(ValueError, match=r"class labels 0\.\.K-1"):
        semantic_scores(pred, gt)


def test_extreme_label_values() -> None:
    big = np.array([[2**62, 2**62, 5, 5]], np.uint64)
    gt = np.array([[1, 1, 2, 2]], np.uint64)
    assert v_rand(big, gt, pred_boundary=None).score == 1.0
    wide = np.array([[-(2**62), -(2**62), 2**62, 2**62]], np.int64)  # span beyond 63 bits
    assert _cells(contingency(wide, gt)) == [(-(2**62), 1, 2), (2**62, 2, 2)]
    with pytest.raises(ValueError, match=r"labels >= 2\*\*63"):
        contingency(np.array([[2**64 - 1, 0]], np.uint64), np.array([[1, 1]], np.uint64))


@pytest.mark.parametrize("chunks", [1, 3, (2, 5, 7), (4, 16, 16)])
def test_dask_equals_numpy_with_ignore_and_singletons(chunks) -> None:
    rng = np.random.default_rng(1)
    gt = rng.integers(0, 6, (4, 16, 16))
    pred = rng.integers(0, 9, (4, 16, 16)).astype(np.uint16)
    kw = {"ignore_labels": (0, 3), "pred_singletons": 0}
    a = contingency(pred, gt, **kw)
    b = contingency(da.from_array(pred, chunks=chunks), da.from_array(gt, chunks=5), **kw)
    assert _cells(a) == _cells(b)
    assert sorted(zip(a.single_gt.tolist(), a.single_counts.tolist(), strict=True)) == sorted(
        zip(b.single_gt.tolist(), b.single_counts.tolist(), strict=True)
    )


def test_restrict_equals_recomputing() -> None:
    rng = np.random.default_rng(2)
    gt = rng.integers(0, 5, (30, 30))
    pred = rng.integers(0, 7, (30, 30))
    full = contingency(pred, gt, ignore_labels=(4,))
    fast = full.restrict(ignore_labels=(0,), pred_singletons=0)
    slow = contingency(pred, gt, ignore_labels=(4, 0), pred_singletons=0)
    assert _cells(fast) == _cells(slow)
    assert sorted(fast.single_gt.tolist()) == sorted(slow.single_gt.tolist())
    assert fast.n == slow.n
    with pytest.raises(ValueError, match="without singletons"):
        slow.restrict()
