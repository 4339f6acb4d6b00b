"""The Rand family: foreground-restricted V_Rand (ISBI 2012, eq 15) and the adapted Rand error."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import dask.array as da
import numpy as np

from stratoseg.metrics._contingency import Contingency, contingency

__all__ = [
    "AdaptedRand",
    "RandScore",
    "adapted_rand_error",
    "adapted_rand_from_table",
    "rand_from_table",
    "v_rand",
]


@dataclass(frozen=True)
class RandScore:
    """Foreground-restricted Rand scores, all in [0, 1], 1 meaning perfect.

    Attributes
    ----------
    score : float
        ``V_alpha^Rand`` (eq 15) at the requested ``alpha``.
    split : float
        ``V_split^Rand = V_{alpha=0}``: low when ground-truth objects are split.
    merge : float
        ``V_merge^Rand = V_{alpha=1}``: low when ground-truth objects are merged.
    alpha : float
        The weight used for ``score``.
    """

    score: float
    split: float
    merge: float
    alpha: float


@dataclass(frozen=True)
class AdaptedRand:
    """Adapted Rand error (1 - F-score of pair counts) with its precision and recall."""

    error: float
    precision: float
    recall: float


def _check_alpha(alpha: float) -> float:
    if not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    return float(alpha)


def rand_from_table(table: Contingency, *, alpha: float = 0.5) -> RandScore:
    """V_Rand of eq (15) from a contingency table (see :func:`v_rand`)."""
    alpha = _check_alpha(alpha)
    single = float(table.single_counts.sum())  # each one a segment of one voxel
    sum_p2 = float(np.dot(table.counts, table.counts)) + single
    s = table.pred_sizes()[1]
    t = table.gt_sizes()[1]
    sum_s2 = float(np.dot(s, s)) + single
    sum_t2 = float(np.dot(t, t))
    if sum_t2 == 0:
        raise ValueError("gt has no voxel to score (empty, or every label ignored)")
    return RandScore(
        score=sum_p2 / (alpha * sum_s2 + (1 - alpha) * sum_t2),
        split=sum_p2 / sum_t2,
        merge=sum_p2 / sum_s2,
        alpha=alpha,
    )


def v_rand(
    pred: np.ndarray | da.Array,
    gt: np.ndarray | da.Array,
    *,
    alpha: float = 0.5,
    ignore_labels: Sequence[int] = (0,),
    pred_boundary: int | None = 0,
) -> RandScore:
    """Foreground-restricted Rand score V_Rand, Hammoumi et al. 2021, eq (15).

    .. math::

        V^{Rand}_\\alpha = \\frac{\\sum_{ij} p_{ij}^2}
                               {\\alpha \\sum_k s_k^2 + (1 - \\alpha) \\sum_k t_k^2}

    with ``p_ij`` the joint distribution of prediction segment ``i`` and ground-truth segment
    ``j``, ``s_k`` and ``t_k`` the sizes of the prediction's and the ground truth's segments
    (the normalisation by the voxel count cancels). ``alpha = 0`` gives ``V_split``,
    ``alpha = 1`` gives ``V_merge``; the ISBI 2012 challenge ranked by ``alpha = 0.5``
    (Arganda-Carreras et al. 2015, the challenge's own script).

    Background and boundaries follow the challenge: voxels whose ground truth is in
    ``ignore_labels`` (the membrane, 0) are not scored ("foreground-restricted"), and voxels the
    prediction labels ``pred_boundary`` (its boundary, 0) belong to no segment, each counting
    as a segment of one voxel. Pass ``pred_boundary=None`` to score that label as a segment like
    any other. Predictions given as boundary maps are first turned into segments, optionally
    with thinned boundaries (:func:`~stratoseg.metrics.segments_from_boundaries`).

    Parameters
    ----------
    pred, gt : (Z, Y, X) or (Y, X) integer arrays
        Predicted and true label images (numpy or dask).
    alpha : float
        Weight of the merge term, in [0, 1].
    ignore_labels : sequence of int
        Ground-truth labels not scored.
    pred_boundary : int or None
        The prediction's boundary label.

    Returns
    -------
    RandScore

    Examples
    --------
    One object split in two (hand-worked in ``tests/metrics/test_rand_voi.py``):

    >>> gt = np.array([[1, 1, 1, 1]])
    >>> s = v_rand(np.array([[1, 1, 2, 2]]), gt)
    >>> s.split, s.merge
    (0.5, 1.0)
    """
    return rand_from_table(
        contingency(pred, gt, ignore_labels=ignore_labels, pred_singletons=pred_boundary),
        alpha=alpha,
    )


def adapted_rand_error(
    pred: np.ndarray | da.Array,
    gt: np.ndarray | da.Array,
    *,
    alpha: float = 0.5,
    ignore_labels: Sequence[int] = (0,),
) -> AdaptedRand:
    """Adapted Rand error of the CREMI / SNEMI3D challenges, as in scikit-image.

    Counting pairs of distinct voxels (self-pairs removed, hence the ``- n`` terms):

    .. math::

        \\mathrm{precision} = \\frac{\\sum n_{ij}^2 - n}{\\sum_i s_i^2 - n},\\quad
        \\mathrm{recall} = \\frac{\\sum n_{ij}^2 - n}{\\sum_j t_j^2 - n},\\quad
        \\mathrm{ARE} = 1 - \\frac{\\sum n_{ij}^2 - n}
                                  {\\alpha (\\sum s_i^2 - n) + (1 - \\alpha)(\\sum t_j^2 - n)}

    with ``s`` the prediction's and ``t`` the ground truth's segment sizes over the ``n``
    voxels whose ground truth is not in ``ignore_labels``. With ``alpha = 0.5`` (the default,
    ``1 - ARE`` is then the F-score) this equals ``skimage.metrics.adapted_rand_error``
    (``image_true=gt``). Two conventions differ from scikit-image 0.26: here ``alpha`` weighs
    the prediction's pairs as in eq (15) (scikit-image's ``alpha`` weighs the ground truth's,
    so ours equals theirs at ``1 - alpha``), and ``precision`` divides by the prediction's pairs
    (scikit-image returns that ratio as its ``recall``).

    Returns
    -------
    AdaptedRand
    """
    return adapted_rand_from_table(contingency(pred, gt, ignore_labels=ignore_labels), alpha=alpha)


def adapted_rand_from_table(table: Contingency, *, alpha: float = 0.5) -> AdaptedRand:
    """The adapted Rand error from a contingency table (see :func:`adapted_rand_error`)."""
    alpha = _check_alpha(alpha)
    n = float(table.n)
    if n == 0:
        raise ValueError("gt has no voxel to score (empty, or every label ignored)")
    s, t = table.pred_sizes()[1], table.gt_sizes()[1]
    both = float(np.dot(table.counts, table.counts)) - n
    in_pred = float(np.dot(s, s)) - n
    in_gt = float(np.dot(t, t)) - n
    denom = alpha * in_pred + (1 - alpha) * in_gt
    return AdaptedRand(
        error=1.0 - (both / denom if denom else 1.0),
        precision=both / in_pred if in_pred else 1.0,
        recall=both / in_gt if in_gt else 1.0,
    )
