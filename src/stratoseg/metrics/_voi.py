"""Variation of information (Meilă 2007) and the information-theoretic score V_Info."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import dask.array as da
import numpy as np

from stratoseg.metrics._contingency import Contingency, contingency

__all__ = [
    "InfoScore",
    "VOIScore",
    "entropies",
    "info_from_table",
    "v_info",
    "voi",
    "voi_from_table",
]


@dataclass(frozen=True)
class VOIScore:
    """Variation of information in bits, 0 meaning identical segmentations.

    Attributes
    ----------
    split : float
        ``H(pred | gt)``: information the prediction adds, high when objects are split.
    merge : float
        ``H(gt | pred)``: information the prediction misses, high when objects are merged.
    total : float
        ``VOI = split + merge``.
    """

    split: float
    merge: float
    total: float


@dataclass(frozen=True)
class InfoScore:
    """Information-theoretic scores of Arganda-Carreras et al. (2015), in [0, 1], 1 perfect.

    ``split = I(S;T) / H(S)``, ``merge = I(S;T) / H(T)`` and
    ``score = I(S;T) / ((1 - alpha) H(S) + alpha H(T))``.
    """

    score: float
    split: float
    merge: float
    alpha: float


def _plogp(counts: np.ndarray, n: float) -> float:
    """``-sum p log2 p`` with ``p = counts / n`` (zero counts contribute nothing)."""
    c = counts[counts > 0].astype(np.float64)
    return float(-(c / n * np.log2(c / n)).sum())


def entropies(table: Contingency) -> tuple[float, float, float]:
    """``H(S)``, ``H(T)`` and the joint ``H(S, T)`` in bits; singleton voxels of the prediction
    (see :func:`~stratoseg.metrics.contingency`) are segments of probability ``1/n`` each."""
    n = float(table.n)
    if n == 0:
        raise ValueError("gt has no voxel to score (empty, or every label ignored)")
    single = float(table.single_counts.sum())
    h_single = single * (np.log2(n) / n) if single else 0.0
    h_s = _plogp(table.pred_sizes()[1], n) + h_single
    h_t = _plogp(table.gt_sizes()[1], n)
    h_st = _plogp(table.counts, n) + h_single
    return h_s, h_t, h_st


def voi_from_table(table: Contingency) -> VOIScore:
    """VOI from a contingency table (see :func:`voi`)."""
    h_s, h_t, h_st = entropies(table)
    split, merge = max(h_st - h_t, 0.0), max(h_st - h_s, 0.0)
    return VOIScore(split=split, merge=merge, total=split + merge)


def voi(
    pred: np.ndarray | da.Array,
    gt: np.ndarray | da.Array,
    *,
    ignore_labels: Sequence[int] = (),
    pred_boundary: int | None = None,
) -> VOIScore:
    """Variation of information with its split and merge parts (Meilă 2007; Herreros §3).

    .. math::

        \\mathrm{VOI}(S, T) = H(S \\mid T) + H(T \\mid S),\\quad
        H(S \\mid T) = H(S, T) - H(T)

    in bits, with ``S`` the prediction and ``T`` the ground truth; ``H(S|T)`` is the split
    part (over-segmentation), ``H(T|S)`` the merge part. Equal to
    ``skimage.metrics.variation_of_information(gt, pred, ignore_labels=...)``, which returns
    ``[H(pred|gt), H(gt|pred)]``.

    Parameters
    ----------
    pred, gt : (Z, Y, X) or (Y, X) integer arrays
        Predicted and true label images (numpy or dask).
    ignore_labels : sequence of int
        Ground-truth labels whose voxels are not scored (CREMI ignores its background).
    pred_boundary : int or None
        A prediction label whose voxels each form a segment of their own (ISBI convention).

    Examples
    --------
    One object split into two halves: one bit of split, no merge.

    >>> s = voi(np.array([[1, 1, 2, 2]]), np.array([[7, 7, 7, 7]]))
    >>> s.split, s.merge
    (1.0, 0.0)
    """
    return voi_from_table(
        contingency(pred, gt, ignore_labels=ignore_labels, pred_singletons=pred_boundary)
    )


def info_from_table(table: Contingency, *, alpha: float = 0.5) -> InfoScore:
    """V_Info from a contingency table (see :func:`v_info`)."""
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    h_s, h_t, h_st = entropies(table)
    mutual = float(h_s + h_t - h_st)
    denom = (1 - alpha) * h_s + alpha * h_t
    return InfoScore(
        score=float(mutual / denom) if denom else 1.0,
        split=float(mutual / h_s) if h_s else 1.0,
        merge=float(mutual / h_t) if h_t else 1.0,
        alpha=float(alpha),
    )


def v_info(
    pred: np.ndarray | da.Array,
    gt: np.ndarray | da.Array,
    *,
    alpha: float = 0.5,
    ignore_labels: Sequence[int] = (0,),
    pred_boundary: int | None = 0,
) -> InfoScore:
    """Foreground-restricted information-theoretic score V_Info (the ISBI 2012 second metric).

    .. math::

        V^{Info}_{split} = \\frac{I(S;T)}{H(S)},\\quad
        V^{Info}_{merge} = \\frac{I(S;T)}{H(T)},\\quad
        V^{Info}_\\alpha = \\frac{I(S;T)}{(1 - \\alpha) H(S) + \\alpha H(T)}

    (Arganda-Carreras et al. 2015), with the same foreground restriction and boundary
    convention as :func:`~stratoseg.metrics.v_rand`; ``alpha = 0`` gives the split score and
    ``alpha = 1`` the merge score, as in eq (15).
    """
    return info_from_table(
        contingency(pred, gt, ignore_labels=ignore_labels, pred_singletons=pred_boundary),
        alpha=alpha,
    )
