"""Boundary F1: how well the object boundaries of a label image match the ground truth's.

The contour F1 score with an uncertainty radius used by Guerrero Peña (2019, thesis, §3.3
"Experiments and results", p. 46-47, Table 2 and Figure 15), after Estrada & Jepson (2009).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.ndimage import distance_transform_edt

from stratoseg._errors import check_dtype

__all__ = ["BoundaryScore", "boundary_f1", "label_boundaries"]

#: Relative slack on the tolerance so that a distance equal to it (e.g. sqrt(2)) always counts.
_SLACK = 1e-9


@dataclass(frozen=True)
class BoundaryScore:
    """Result of :func:`boundary_f1`.

    Attributes
    ----------
    precision : float
        Fraction of predicted boundary pixels within the tolerance of a ground-truth one.
    recall : float
        Fraction of ground-truth boundary pixels within the tolerance of a predicted one.
    f1 : float
        Harmonic mean ``2 P R / (P + R)`` (0 when ``P + R = 0``).
    n_pred : int
        Number of predicted boundary pixels (voxels).
    n_gt : int
        Number of ground-truth boundary pixels (voxels).
    """

    precision: float
    recall: float
    f1: float
    n_pred: int
    n_gt: int


def _check_labels(labels: ArrayLike, name: str) -> NDArray[Any]:
    arr = np.asarray(labels)
    dtype = check_dtype(arr.dtype, name=f"{name} dtype")
    if dtype.kind not in "biu":
        raise TypeError(f"{name} must be a bool or integer label image, got dtype {dtype}")
    if arr.ndim < 2:
        raise ValueError(f"{name} must have ndim >= 2, got ndim={arr.ndim} (shape {arr.shape})")
    return arr


def label_boundaries(labels: ArrayLike, *, background: int | None = 0) -> NDArray[np.bool_]:
    """Inner boundaries of a label image: object pixels with a face neighbour of another label.

    A pixel :math:`p` with label :math:`l(p) \\ne` ``background`` is a boundary pixel when one
    of its ``2 * ndim`` face neighbours :math:`q` (4-connectivity in 2-D, 6 in 3-D) inside the
    image has :math:`l(q) \\ne l(p)`. Background pixels are never boundary pixels, and the image
    edge is not a boundary. This is :func:`skimage.segmentation.find_boundaries` with
    ``mode="inner", connectivity=1`` (the tests check that they agree).

    Parameters
    ----------
    labels : (M, N[, ...]) array_like of int or bool
        Instance or semantic labels, ``ndim >= 2``.
    background : int or None
        The label that has no boundary (default 0). ``None``: every label is an object, so both
        sides of every interface are marked.

    Returns
    -------
    (M, N[, ...]) ndarray of bool
        The boundary map.

    Examples
    --------
    >>> lab = np.zeros((4, 5), int); lab[:, 1:4] = 1; lab[:, 3] = 2
    >>> label_boundaries(lab).astype(int)
    array([[0, 1, 1, 1, 0],
           [0, 1, 1, 1, 0],
           [0, 1, 1, 1, 0],
           [0, 1, 1, 1, 0]])
    """
    arr = _check_labels(labels, "labels")
    if background is not None and (
        isinstance(background, bool) or not isinstance(background, Integral)
    ):
        raise TypeError(f"background must be an int or None, got {background!r}")
    edge = np.zeros(arr.shape, dtype=bool)
    for axis in range(arr.ndim):
        lo = [slice(None)] * arr.ndim
        hi = [slice(None)] * arr.ndim
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        differs = arr[tuple(lo)] != arr[tuple(hi)]
        edge[tuple(lo)] |= differs
        edge[tuple(hi)] |= differs
    if background is not None:
        edge &= arr != background
    return edge


def _check_voxel_size(voxel_size: Any, ndim: int) -> tuple[float, ...] | None:
    if voxel_size is None:
        return None
    try:
        values: list[Any] = [voxel_size] if isinstance(voxel_size, Real) else list(voxel_size)
    except TypeError:
        raise TypeError(
            f"voxel_size must be a real number or a sequence of them, got {voxel_size!r}"
        ) from None
    if len(values) == 1:
        values = values * ndim
    if len(values) != ndim:
        raise ValueError(f"voxel_size must have 1 or {ndim} values, got {voxel_size!r}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, Real):
            raise TypeError(f"voxel_size must be real numbers, got {voxel_size!r}")
        if not (math.isfinite(float(v)) and float(v) > 0):
            raise ValueError(f"voxel_size must be finite and > 0, got {voxel_size!r}")
    return tuple(float(v) for v in values)


#: Above this many offsets in the tolerance ball, a distance transform is cheaper than shifts.
_MAX_SHIFTS = 128


def _ball_offsets(tolerance: float, sampling: tuple[float, ...]) -> np.ndarray:
    """Integer offsets whose physical length is at most ``tolerance``, shape ``(k, ndim)``."""
    radius = [math.floor(tolerance * (1 + _SLACK) / s) for s in sampling]
    grids = np.meshgrid(*(np.arange(-r, r + 1) for r in radius), indexing="ij")
    offsets = np.stack([g.ravel() for g in grids], axis=1)
    length = np.sqrt(((offsets * np.asarray(sampling)) ** 2).sum(axis=1))
    return offsets[length <= tolerance * (1 + _SLACK)]


def _within(target: NDArray[np.bool_], offsets: np.ndarray) -> NDArray[np.bool_]:
    """Pixels within one of ``offsets`` of a ``target`` pixel: a dilation by shifted ORs."""
    hit = np.zeros_like(target)
    for off in offsets:
        if any(abs(int(o)) >= n for o, n in zip(off, target.shape, strict=True)):
            continue  # reaches outside the image along some axis: nothing to find
        src, dst = [], []
        for o, n in zip(off, target.shape, strict=True):
            o = int(o)
            src.append(slice(max(0, -o), n - max(0, o)))
            dst.append(slice(max(0, o), n - max(0, -o)))
        hit[tuple(dst)] |= target[tuple(src)]
    return hit


def _matched(
    source: NDArray[np.bool_],
    target: NDArray[np.bool_],
    *,
    tolerance: float,
    sampling: tuple[float, ...] | None,
) -> int:
    """How many ``source`` pixels lie within ``tolerance`` of a ``target`` pixel.

    Exact either way: for a small tolerance ball, a dilation of ``target`` by the ball's
    offsets (a pixel is within the tolerance exactly when some offset in the ball reaches a
    target pixel); otherwise the Euclidean distance transform.
    """
    offsets = _ball_offsets(tolerance, sampling or (1.0,) * source.ndim)
    if len(offsets) <= _MAX_SHIFTS:
        return int(np.count_nonzero(source & _within(target, offsets)))
    dist = distance_transform_edt(~target, sampling=sampling)
    return int(np.count_nonzero(dist[source] <= tolerance * (1 + _SLACK)))


def boundary_f1(
    pred: ArrayLike,
    gt: ArrayLike,
    *,
    tolerance: float = 2.0,
    voxel_size: float | Sequence[float] | None = None,
    background: int | None = 0,
    ignore_label: int | None = None,
) -> BoundaryScore:
    """Boundary (contour) F1 score of a label image against its ground truth.

    Guerrero Peña (2019, thesis, §3.3, p. 46-47, Table 2) compares computed contours with the
    ground truth by an F1 score that tolerates small displacements through an uncertainty radius
    :math:`\\iota` (2 to 7 pixels there), following Estrada & Jepson (2009). Here, with
    :math:`B_P` and :math:`B_G` the boundary pixels of ``pred`` and ``gt``
    (:func:`label_boundaries`: object pixels with a face neighbour of another label) and
    :math:`d(p, B)` the Euclidean distance from :math:`p` to the nearest pixel of :math:`B`
    (:func:`scipy.ndimage.distance_transform_edt`, in physical units with ``voxel_size``):

    .. math::

        P = \\frac{|\\{p \\in B_P : d(p, B_G) \\le \\iota\\}|}{|B_P|}, \\quad
        R = \\frac{|\\{g \\in B_G : d(g, B_P) \\le \\iota\\}|}{|B_G|}, \\quad
        F_1 = \\frac{2 P R}{P + R}.

    Unlike Estrada & Jepson, matches are not one-to-one: several predicted pixels may match the
    same ground-truth pixel (as in the BSDS-style "BF score" with distance maps).

    Parameters
    ----------
    pred : (M, N[, ...]) array_like of int or bool
        Predicted labels (instances or semantic classes), ``ndim >= 2``.
    gt : array_like of int or bool, same shape
        Ground-truth labels.
    tolerance : float
        :math:`\\iota` >= 0, in pixels, or in the unit of ``voxel_size`` when given. 0 requires
        exact coincidence.
    voxel_size : float or sequence of float, optional
        Pixel (voxel) spacing per axis, e.g. ``(2.0, 1.0, 1.0)`` for anisotropic volumes.
    background : int or None
        Label without boundaries (default 0); ``None`` treats every label as an object.
    ignore_label : int, optional
        A ground-truth label whose voxels are not scored: boundary pixels of either image
        that lie there are dropped before counting.

    Returns
    -------
    BoundaryScore
        Precision, recall, F1 and the two boundary pixel counts. If both boundary maps are
        empty, P = R = F1 = 1 (nothing to find, nothing wrongly found). If exactly one is empty,
        P = R = F1 = 0.

    Raises
    ------
    ValueError
        Shapes differ, ``ndim < 2``, ``tolerance`` negative or not finite, bad ``voxel_size``.
    TypeError
        Float, complex or other non-label dtypes; non-real ``tolerance`` or ``voxel_size``.

    Examples
    --------
    >>> gt = np.zeros((8, 8), int); gt[2:6, 2:6] = 1
    >>> boundary_f1(gt, gt)
    BoundaryScore(precision=1.0, recall=1.0, f1=1.0, n_pred=12, n_gt=12)
    >>> boundary_f1(np.roll(gt, 1, axis=1), gt, tolerance=0).f1
    0.5
    """
    p = _check_labels(pred, "pred")
    g = _check_labels(gt, "gt")
    if p.shape != g.shape:
        raise ValueError(f"pred and gt must have the same shape, got {p.shape} and {g.shape}")
    if isinstance(tolerance, bool) or not isinstance(tolerance, Real):
        raise TypeError(f"tolerance must be a real number, got {tolerance!r}")
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be finite and >= 0, got {tolerance!r}")
    sampling = _check_voxel_size(voxel_size, p.ndim)
    bp = label_boundaries(p, background=background)
    bg = label_boundaries(g, background=background)
    if ignore_label is not None:
        scored = g != ignore_label
        bp &= scored
        bg &= scored
    n_pred, n_gt = int(np.count_nonzero(bp)), int(np.count_nonzero(bg))
    if n_pred == 0 or n_gt == 0:
        score = 1.0 if n_pred == n_gt else 0.0
        return BoundaryScore(score, score, score, n_pred, n_gt)
    tol = float(tolerance)
    precision = _matched(bp, bg, tolerance=tol, sampling=sampling) / n_pred
    recall = _matched(bg, bp, tolerance=tol, sampling=sampling) / n_gt
    total = precision + recall
    f1 = 2 * precision * recall / total if total > 0 else 0.0
    return BoundaryScore(precision, recall, f1, n_pred, n_gt)
