"""Several metrics of one prediction against one ground truth, sharing one contingency table."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import dask.array as da
import numpy as np

from stratoseg.metrics._boundary import boundary_f1
from stratoseg.metrics._contingency import check_label_pair, contingency
from stratoseg.metrics._image import check_finite, psnr, ssim, uiq
from stratoseg.metrics._instances import instances_from_table
from stratoseg.metrics._rand import adapted_rand_from_table, rand_from_table
from stratoseg.metrics._semantic import semantic_from_table
from stratoseg.metrics._voi import info_from_table, voi_from_table

__all__ = ["DEFAULT_METRICS", "IMAGE_METRICS", "LABEL_METRICS", "evaluate"]

#: Metrics of label images (integer pred and gt) and of images (regression outputs).
LABEL_METRICS = ("vrand", "vinfo", "arand", "voi", "pq", "jaccard", "bf1")
IMAGE_METRICS = ("psnr", "ssim", "uiq")
DEFAULT_METRICS = ("vrand", "voi", "arand", "pq", "jaccard")
_IMAGE_FUNCTIONS: dict[str, Callable[..., float]] = {"psnr": psnr, "ssim": ssim, "uiq": uiq}
#: By default ``jaccard`` is computed only for images with fewer labels than this.
DEFAULT_MAX_CLASSES = 16


def _plain(score: Any) -> dict[str, Any]:
    """A score dataclass as JSON-able values (arrays to lists, NaN kept as float)."""
    return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in asdict(score).items()}


def evaluate(
    pred: np.ndarray | da.Array,
    gt: np.ndarray | da.Array,
    *,
    metrics: Sequence[str] | None = None,
    ignore_label: int | None = None,
    alpha: float = 0.5,
    iou_threshold: float = 0.5,
    tolerance: float = 2.0,
    voxel_size: Sequence[float] | None = None,
) -> dict[str, dict[str, Any]]:
    """Compute the named metrics; label metrics share one pass over the voxels.

    Conventions (``docs/metrics.md``): ``vrand`` and ``vinfo`` are foreground-restricted as in
    the ISBI 2012 challenge (ground-truth 0 not scored, prediction 0 = boundary, one segment per
    voxel); ``arand`` ignores ground-truth 0 as CREMI and scikit-image do; ``voi``, ``pq``
    (background 0) and ``jaccard`` score every voxel. ``ignore_label`` removes that
    ground-truth label from every label metric.

    Parameters
    ----------
    pred, gt : arrays of one shape
        Label images for label metrics; any numeric images for image metrics (``gt`` is the
        reference).
    metrics : sequence of str, optional
        Names from :data:`LABEL_METRICS` and :data:`IMAGE_METRICS`. Default
        :data:`DEFAULT_METRICS`, where ``jaccard`` is left out for instance images (labels of
        :data:`DEFAULT_MAX_CLASSES` or more); asked for explicitly it allows up to
        :data:`~stratoseg.metrics.MAX_CLASSES` classes.
    ignore_label : int, optional
        A ground-truth label not scored.
    alpha, iou_threshold, tolerance, voxel_size
        Passed to V_Rand/V_Info, instance matching and boundary F1.

    Returns
    -------
    dict
        ``{metric: {field: value}}`` with plain Python values (JSON-able).

    Raises
    ------
    ValueError
        For unknown metrics, mismatched shapes, empty images, or a ground truth with nothing to
        score.
    TypeError
        For non-integer images where label metrics are asked for.
    """
    explicit = metrics is not None
    metrics = list(DEFAULT_METRICS if metrics is None else metrics)
    unknown = [m for m in metrics if m not in LABEL_METRICS + IMAGE_METRICS]
    if unknown or not metrics:
        raise ValueError(
            f"metrics must be some of {', '.join(LABEL_METRICS + IMAGE_METRICS)}; "
            f"got {', '.join(unknown) or 'none'}"
        )
    if tuple(pred.shape) != tuple(gt.shape):
        raise ValueError(f"pred and gt must have the same shape, got {pred.shape} and {gt.shape}")
    if 0 in tuple(pred.shape):
        raise ValueError(f"pred and gt are empty: shape {tuple(pred.shape)}")
    out: dict[str, dict[str, Any]] = {}
    loaded: list[np.ndarray] = []

    def dense() -> tuple[np.ndarray, np.ndarray]:
        """pred and gt in memory, read once however many metrics need them."""
        if not loaded:
            loaded.extend(np.asarray(a) for a in (pred, gt))
        return loaded[0], loaded[1]

    ignore = () if ignore_label is None else (int(ignore_label),)
    label_metrics = [m for m in metrics if m in LABEL_METRICS]
    if label_metrics:
        check_label_pair(pred, gt)
        table = contingency(pred, gt, ignore_labels=ignore)
        if not (table.gt != 0).any():
            raise ValueError(
                "the ground truth is empty: no voxel other than 0"
                + (f" and the ignored label {ignore_label}" if ignore else "")
            )
        isbi = table.restrict(ignore_labels=(0,), pred_singletons=0)
        top = max(int(table.pred.max(initial=0)), int(table.gt.max(initial=0)))
        if not explicit and top >= DEFAULT_MAX_CLASSES:
            label_metrics.remove("jaccard")  # an instance image: its ids are not classes
        for m in label_metrics:
            if m == "vrand":
                out[m] = _plain(rand_from_table(isbi, alpha=alpha))
            elif m == "vinfo":
                out[m] = _plain(info_from_table(isbi, alpha=alpha))
            elif m == "voi":
                out[m] = _plain(voi_from_table(table))
            elif m == "arand":
                out[m] = _plain(adapted_rand_from_table(table.restrict(ignore_labels=(0,))))
            elif m == "pq":
                out[m] = _plain(instances_from_table(table, iou_threshold=iou_threshold))
            elif m == "jaccard":
                out[m] = _plain(semantic_from_table(table, ignore_label=ignore_label))
            elif m == "bf1":
                out[m] = _plain(
                    boundary_f1(
                        *dense(),
                        tolerance=tolerance,
                        voxel_size=voxel_size,
                        ignore_label=ignore_label,
                    )
                )
    image_metrics = [m for m in metrics if m in IMAGE_METRICS]
    if image_metrics:
        test, ref = dense()
        check_finite(test, "pred")  # named as the caller knows them, before the metrics do
        check_finite(ref, "gt")
        for m in image_metrics:
            out[m] = {"value": float(_IMAGE_FUNCTIONS[m](ref, test))}
    return out
