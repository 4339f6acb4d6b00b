"""Euclidean distance maps of Hammoumi et al. 2021, §4.1, eqs (1), (3), (5)-(6), on numpy arrays
(the geodesic ones, eqs (2), (8)-(9), are in ``_geodesic.py``).

Every map is in physical units (``sampling`` = voxel size) and, when ``max_distance`` is given,
clipped at it: a clipped map at a voxel depends only on the voxels within ``max_distance``,
which is what makes the block-wise computation exact with a halo of that size.

The maps come from the ``edt`` package (exact, Felzenszwalb-Huttenlocher, about three times
faster than ``scipy.ndimage.distance_transform_edt``); a set and its complement are measured in
one multi-label pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import edt
import numpy as np

from stratoseg._threads import num_threads

__all__ = ["across", "distance_to", "level_set_distances", "split_distances"]


def _no_feature(
    shape: tuple[int, ...], sampling: Sequence[float] | None, max_distance: float | None
) -> float:
    """The distance to a feature that is not there: ``max_distance`` when clipped, else the
    array's diagonal (longer than any distance inside it), so maps stay finite."""
    if max_distance is not None:
        return float(max_distance)
    spacing = sampling if sampling is not None else (1.0,) * len(shape)
    return float(np.sqrt(sum((n * s) ** 2 for n, s in zip(shape, spacing, strict=True))))


def _clip(dist: np.ndarray, max_distance: float | None) -> np.ndarray:
    return dist if max_distance is None else np.minimum(dist, max_distance)


def _sampling(ndim: int, sampling: Sequence[float] | None) -> tuple[float, ...]:
    return (1.0,) * ndim if sampling is None else tuple(float(v) for v in sampling)


def _edt(labels: np.ndarray, anisotropy: tuple[float, ...]) -> np.ndarray:
    """``edt`` holds the GIL, so blocks on dask's threads take turns: each call uses every
    allowed core instead (:func:`stratoseg._threads.num_threads`)."""
    return edt.edt(labels, anisotropy=anisotropy, black_border=False, parallel=num_threads())


def split_distances(
    mask: np.ndarray,
    *,
    sampling: Sequence[float] | None = None,
    max_distance: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances to ``mask`` and to its complement, in one pass (eqs 1 and 3).

    Returns ``(d(x, mask), d(x, ~mask))``: the first is 0 on the mask, the second off it. One
    multi-label transform (label 1 off the mask, 2 on it) gives each voxel its distance to the
    nearest voxel of the other label, which is the nonzero one of the two.

    Examples
    --------
    >>> to_mask, to_rest = split_distances(np.array([[1, 1, 0, 0]], bool))
    >>> to_mask.tolist(), to_rest.tolist()
    ([[0.0, 0.0, 1.0, 2.0]], [[2.0, 1.0, 0.0, 0.0]])
    """
    mask = np.asarray(mask, bool)
    both = np.asarray(across(mask, sampling=sampling, max_distance=max_distance), np.float64)
    return np.where(mask, 0.0, both), np.where(mask, both, 0.0)


def across(
    mask: np.ndarray,
    *,
    sampling: Sequence[float] | None = None,
    max_distance: float | None = None,
) -> np.ndarray:
    """Each voxel's Euclidean distance to the other side of ``mask`` (float32): the sum of the
    two maps of :func:`split_distances`, whose supports are disjoint."""
    mask = np.asarray(mask, bool)
    if mask.all() or not mask.any():
        return np.full(mask.shape, _no_feature(mask.shape, sampling, max_distance), np.float32)
    labels = np.ascontiguousarray(mask, np.uint8) + np.uint8(1)
    both = np.asarray(_edt(labels, _sampling(mask.ndim, sampling)), np.float32)
    if max_distance is not None:
        np.minimum(both, np.float32(max_distance), out=both)
    return both


def distance_to(
    features: np.ndarray,
    *,
    sampling: Sequence[float] | None = None,
    max_distance: float | None = None,
) -> np.ndarray:
    """Euclidean distance from each voxel to the nearest voxel of ``features`` (eq 1, 3).

    ``DT(x) = min_{y in features} |x - y|``; 0 on the features. With no feature in the array
    (a constant image, a slice without foreground) every voxel gets the array's diagonal
    length, longer than any distance inside it (``max_distance`` when clipped), so the enhanced
    image stays finite.

    Examples
    --------
    >>> distance_to(np.array([[1, 0, 0, 0]], bool)).tolist()
    [[0.0, 1.0, 2.0, 3.0]]
    """
    features = np.asarray(features, bool)
    if not features.any():
        return np.full(features.shape, _no_feature(features.shape, sampling, max_distance))
    dist = _edt(np.ascontiguousarray(~features), _sampling(features.ndim, sampling))
    return _clip(np.asarray(dist, dtype=np.float64), max_distance)


def level_set_distances(
    image: np.ndarray,
    levels: Sequence[float],
    *,
    sampling: Sequence[float] | None = None,
    max_distance: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The summed level-set distance maps of eqs (5) and (6).

    .. math::

        \\overline{DT}(x) = \\sum_i d(x, F_i),\\; F_i = \\{I \\ge i\\};\\qquad
        \\overline{DT}_c(x) = \\sum_i d(x, G_i),\\; G_i = \\{I < i\\}

    over the given threshold ``levels`` (all integer levels of an integer image make it exact;
    fewer levels quantise it). ``d(x, F_i)`` is 0 inside ``F_i``.

    Examples
    --------
    >>> dt, dtc = level_set_distances(np.array([[0, 1, 2]]), [1, 2])
    >>> dt.tolist(), dtc.tolist()
    ([[3.0, 1.0, 0.0]], [[0.0, 1.0, 3.0]])
    """
    dt = np.zeros(image.shape, np.float64)
    dtc = np.zeros(image.shape, np.float64)
    anisotropy = _sampling(image.ndim, sampling)
    labels = np.empty(image.shape, np.uint8)
    for level in levels:
        above = np.greater_equal(image, level)
        if above.all() or not above.any():  # one of the two sets is empty
            far = _no_feature(image.shape, sampling, max_distance)
            (dtc if above.all() else dt)[...] += far
            continue
        np.add(above, 1, out=labels, casting="unsafe")  # 1 below the level, 2 above
        both = _edt(labels, anisotropy)  # see split_distances
        if max_distance is not None:
            np.minimum(both, max_distance, out=both)
        np.add(dt, both, out=dt, where=~above)
        np.add(dtc, both, out=dtc, where=above)
    return dt, dtc
