"""Semantic segmentation scores: confusion matrix, per-class Jaccard and Dice."""

from __future__ import annotations

from dataclasses import dataclass

import dask.array as da
import numpy as np

from stratoseg.metrics._contingency import Contingency, contingency

__all__ = [
    "MAX_CLASSES",
    "SemanticScore",
    "confusion_from_table",
    "semantic_from_table",
    "semantic_scores",
]

#: More classes than this is taken for an instance image by mistake.
MAX_CLASSES = 1024


@dataclass(frozen=True)
class SemanticScore:
    """Per-class overlap scores.

    Attributes
    ----------
    confusion : (K, K) int64 ndarray
        ``confusion[j, i]`` voxels of true class ``j`` predicted as class ``i``.
    jaccard, dice : (K,) float ndarray
        Per class; NaN for a class absent from both images.
    mean_jaccard, mean_dice : float
        Means over the classes present in either image.
    accuracy : float
        Fraction of voxels whose class is right.
    """

    confusion: np.ndarray
    jaccard: np.ndarray
    dice: np.ndarray
    mean_jaccard: float
    mean_dice: float
    accuracy: float


def confusion_from_table(table: Contingency, *, n_classes: int | None = None) -> np.ndarray:
    """The dense ``(K, K)`` confusion matrix (true class rows, predicted class columns)."""
    low = int(min(table.pred.min(initial=0), table.gt.min(initial=0)))
    if low < 0:
        raise ValueError(f"semantic scores need class labels 0..K-1, got label {low}")
    top = int(max(table.pred.max(initial=0), table.gt.max(initial=0))) + 1
    k = top if n_classes is None else int(n_classes)
    if k < top:
        raise ValueError(f"n_classes must cover every label, got {n_classes} for label {top - 1}")
    if k > MAX_CLASSES:
        raise ValueError(
            f"{k} classes: more than {MAX_CLASSES}; semantic scores need class "
            "labels 0..K-1 (is this an instance label image?)"
        )
    out = np.zeros((k, k), np.int64)
    np.add.at(out, (table.gt, table.pred), table.counts)
    return out


def semantic_from_table(
    table: Contingency, *, n_classes: int | None = None, ignore_label: int | None = None
) -> SemanticScore:
    """Per-class Jaccard and Dice from a contingency table (see :func:`semantic_scores`); the
    ``ignore_label`` class, absent from the scored ground truth, is not scored either."""
    conf = confusion_from_table(table, n_classes=n_classes)
    tp = np.diag(conf).astype(np.float64)
    fp = conf.sum(axis=0) - tp
    fn = conf.sum(axis=1) - tp
    union = tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        jaccard = np.where(union > 0, tp / union, np.nan)
        dice = np.where(union > 0, 2 * tp / (2 * tp + fp + fn), np.nan)
    if ignore_label is not None and 0 <= ignore_label < len(jaccard):
        jaccard[ignore_label] = dice[ignore_label] = np.nan
    total = conf.sum()
    if total == 0:
        raise ValueError("gt has no voxel to score (empty, or every label ignored)")
    return SemanticScore(
        confusion=conf,
        jaccard=jaccard,
        dice=dice,
        mean_jaccard=float(np.nanmean(jaccard)),
        mean_dice=float(np.nanmean(dice)),
        accuracy=float(tp.sum() / total),
    )


def semantic_scores(
    pred: np.ndarray | da.Array,
    gt: np.ndarray | da.Array,
    *,
    n_classes: int | None = None,
    ignore_label: int | None = None,
) -> SemanticScore:
    """Confusion matrix, per-class Jaccard index and Dice coefficient, and their means.

    .. math::

        J_c = \\frac{TP_c}{TP_c + FP_c + FN_c},\\qquad
        D_c = \\frac{2\\,TP_c}{2\\,TP_c + FP_c + FN_c}

    the hard (0/1) versions of the Jaccard loss of Decencière (lecture, "Jaccard loss") and of
    the Dice score used by tomo2seg (Bertoldo 2021) for matrix/fibre/pore.

    Parameters
    ----------
    pred, gt : (Z, Y, X) or (Y, X) integer arrays
        Class label images with classes ``0 .. K-1``.
    n_classes : int, optional
        ``K``; default one more than the largest label present.
    ignore_label : int, optional
        A ground-truth label not scored (unannotated voxels of sparse scribbles).

    Examples
    --------
    >>> s = semantic_scores(np.array([[0, 1, 1, 2]]), np.array([[0, 1, 2, 2]]))
    >>> s.jaccard.tolist()
    [1.0, 0.5, 0.5]
    """
    ignore = () if ignore_label is None else (ignore_label,)
    return semantic_from_table(
        contingency(pred, gt, ignore_labels=ignore), n_classes=n_classes, ignore_label=ignore_label
    )
