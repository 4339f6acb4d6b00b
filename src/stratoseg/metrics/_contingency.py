"""The contingency table of two label images: every metric of overlap starts here.

``n_ij`` is the number of voxels labelled ``i`` in the prediction and ``j`` in the ground truth.
It is computed once, sparsely (only the pairs that occur), by sorting packed 64-bit keys: no
loop over labels, so thousands of instances cost one sort of the voxels. Dask arrays are
reduced block by block, so a volume larger than memory needs one pass and small per-block
tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np

__all__ = ["Contingency", "check_label_pair", "contingency"]


def check_label_pair(pred: Any, gt: Any) -> None:
    """Raise unless ``pred`` and ``gt`` are integer (or bool) label images of one shape."""
    for name, arr in (("pred", pred), ("gt", gt)):
        kind = np.dtype(arr.dtype).kind
        if kind not in "biu":
            raise TypeError(f"{name} must be an integer label image, got dtype {arr.dtype}")
        if arr.ndim < 2:
            raise ValueError(f"{name} must be a 2-D or 3-D label image, got shape {arr.shape}")
    if tuple(pred.shape) != tuple(gt.shape):
        raise ValueError(f"pred and gt must have the same shape, got {pred.shape} and {gt.shape}")


@dataclass(frozen=True)
class Contingency:
    """A sparse contingency table.

    Attributes
    ----------
    pred, gt, counts : 1-D int64 arrays
        One entry per occurring pair: labels and voxel count ``n_ij > 0``.
    single_gt, single_counts : 1-D int64 arrays
        Prediction voxels that count as segments of one voxel each (the ISBI convention for
        boundary pixels of the prediction), per ground-truth label: ``single_counts[k]`` voxels
        of ground-truth label ``single_gt[k]``.
    """

    pred: np.ndarray
    gt: np.ndarray
    counts: np.ndarray
    single_gt: np.ndarray
    single_counts: np.ndarray

    @property
    def n(self) -> int:
        """Number of voxels counted."""
        return int(self.counts.sum() + self.single_counts.sum())

    def restrict(
        self, *, ignore_labels: Sequence[int] = (), pred_singletons: int | None = None
    ) -> Contingency:
        """The table :func:`contingency` would give with more ground-truth labels ignored and
        ``pred_singletons`` set, derived without another pass over the voxels."""
        if self.single_counts.size:
            raise ValueError("restrict needs a table without singletons")
        keep = ~np.isin(self.gt, np.asarray(ignore_labels, dtype=np.int64))
        p, g, c = self.pred[keep], self.gt[keep], self.counts[keep]
        if pred_singletons is None:
            empty = np.zeros(0, np.int64)
            return Contingency(p, g, c, empty, empty)
        single = p == pred_singletons
        sg, sc = _sum_by(g[single], c[single])
        return Contingency(p[~single], g[~single], c[~single], sg, sc)

    def pred_sizes(self) -> tuple[np.ndarray, np.ndarray]:
        """Labels and sizes of the prediction's segments (singletons not included)."""
        return _sum_by(self.pred, self.counts)

    def gt_sizes(self) -> tuple[np.ndarray, np.ndarray]:
        """Labels and sizes of the ground truth's segments (singletons included)."""
        return _sum_by(
            np.concatenate([self.gt, self.single_gt]),
            np.concatenate([self.counts, self.single_counts]),
        )


def _sum_by(labels: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    uniq, inverse = np.unique(labels, return_inverse=True)
    return uniq, np.bincount(inverse, weights=weights, minlength=uniq.size).astype(np.int64)


def _as_int64(labels: np.ndarray, name: str) -> np.ndarray:
    if labels.dtype == np.uint64 and labels.size and int(labels.max()) > np.iinfo(np.int64).max:
        raise ValueError(
            f"{name} has labels >= 2**63, which are not supported; relabel it "
            "(e.g. skimage.segmentation.relabel_sequential)"
        )
    return labels.astype(np.int64, copy=False)


def _table(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique (pred, gt) pairs of two flat integer arrays and their counts.

    Labels may be negative: pairs are packed as offsets from each side's minimum when the two
    label ranges fit in 63 bits together, and sorted as rows otherwise.
    """
    if pred.size == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    p, g = _as_int64(pred, "pred"), _as_int64(gt, "gt")
    pmin, gmin = int(p.min()), int(g.min())
    span_p, span_g = int(p.max()) - pmin + 1, int(g.max()) - gmin + 1
    if span_p * span_g < 2**62:
        keys, counts = np.unique((p - pmin) * span_g + (g - gmin), return_counts=True)
        return keys // span_g + pmin, keys % span_g + gmin, counts.astype(np.int64)
    pairs, counts = np.unique(np.stack([p, g], axis=1), axis=0, return_counts=True)
    return pairs[:, 0], pairs[:, 1], counts.astype(np.int64)


def _merge(
    parts: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = np.concatenate([x[0] for x in parts])
    g = np.concatenate([x[1] for x in parts])
    c = np.concatenate([x[2] for x in parts])
    if p.size == 0:
        return p, g, c
    pairs, inverse = np.unique(np.stack([p, g], axis=1), axis=0, return_inverse=True)
    return pairs[:, 0], pairs[:, 1], np.bincount(inverse.ravel(), weights=c).astype(np.int64)


def _block_table(
    pred: np.ndarray, gt: np.ndarray, ignore: tuple[int, ...], singleton: int | None
) -> tuple[np.ndarray, ...]:
    p, g = np.asarray(pred).ravel(), np.asarray(gt).ravel()
    if ignore:
        keep = ~np.isin(g, ignore)
        p, g = p[keep], g[keep]
    if singleton is not None:
        single = p == singleton
        sg, sc = np.unique(g[single], return_counts=True)
        p, g = p[~single], g[~single]
    else:
        sg = sc = np.zeros(0, np.int64)
    return (*_table(p, g), sg.astype(np.int64), sc.astype(np.int64))


def contingency(
    pred: np.ndarray | da.Array,
    gt: np.ndarray | da.Array,
    *,
    ignore_labels: Sequence[int] = (),
    pred_singletons: int | None = None,
) -> Contingency:
    """Count the voxels of every (prediction label, ground-truth label) pair.

    Parameters
    ----------
    pred, gt : (Z, Y, X) or (Y, X) integer arrays (numpy or dask)
        Label images of the same shape.
    ignore_labels : sequence of int
        Ground-truth labels whose voxels are not counted at all (e.g. unlabelled regions, or
        the membrane label 0 of the ISBI/CREMI foreground-restricted scores).
    pred_singletons : int, optional
        A prediction label (e.g. 0, the boundary) whose voxels each count as a segment of its
        own, as the ISBI 2012 challenge treats the boundary pixels of the prediction.

    Returns
    -------
    Contingency

    Examples
    --------
    >>> t = contingency(np.array([[1, 1], [2, 2]]), np.array([[5, 5], [5, 6]]))
    >>> list(zip(t.pred.tolist(), t.gt.tolist(), t.counts.tolist()))
    [(1, 5, 2), (2, 5, 1), (2, 6, 1)]
    """
    check_label_pair(pred, gt)
    ignore = tuple(int(i) for i in ignore_labels)
    if isinstance(pred, da.Array) or isinstance(gt, da.Array):
        dp = da.asarray(pred)
        dg = da.asarray(gt).rechunk(dp.chunks)
        blocks = [
            dask.delayed(_block_table)(bp, bg, ignore, pred_singletons)
            for bp, bg in zip(dp.to_delayed().ravel(), dg.to_delayed().ravel(), strict=True)
        ]
        parts = dask.compute(*blocks)
        p, g, c = _merge([x[:3] for x in parts])
        sg, sc = _sum_by(
            np.concatenate([x[3] for x in parts]), np.concatenate([x[4] for x in parts])
        )
        return Contingency(p, g, c, sg, sc)
    return Contingency(*_block_table(np.asarray(pred), np.asarray(gt), ignore, pred_singletons))
