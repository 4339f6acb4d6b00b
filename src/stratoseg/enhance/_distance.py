"""Distance maps of Hammoumi et al. 2021, §4.1, eqs (1)-(3), (5)-(6), (8)-(9), on numpy arrays.

Every map is in physical units (``sampling`` = voxel size) and, when ``max_distance`` is given,
clipped at it: a clipped map at a voxel depends only on the voxels within ``max_distance``,
which is what makes the block-wise computation exact with a halo of that size.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

import numpy as np
from scipy import ndimage as ndi
from scipy import sparse
from scipy.sparse import csgraph

__all__ = ["distance_to", "geodesic_distance", "level_set_distances"]


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
    if not features.any():
        return np.full(features.shape, _no_feature(features.shape, sampling, max_distance))
    dist = ndi.distance_transform_edt(~features, sampling=sampling)
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
    for level in levels:
        above = image >= level
        dt += distance_to(above, sampling=sampling, max_distance=max_distance)
        dtc += distance_to(~above, sampling=sampling, max_distance=max_distance)
    return dt, dtc


def _grid_edges(
    shape: tuple[int, ...], sampling: Sequence[float]
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Edges of the full (8-/26-) neighbourhood graph: (from, to, Euclidean step length)."""
    index = np.arange(int(np.prod(shape))).reshape(shape)
    edges = []
    for step in product((-1, 0, 1), repeat=len(shape)):
        if not any(step) or step < (0,) * len(shape):  # each undirected edge once
            continue
        src = tuple(slice(max(0, -s), n - max(0, s)) for s, n in zip(step, shape, strict=True))
        dst = tuple(slice(max(0, s), n - max(0, -s)) for s, n in zip(step, shape, strict=True))
        length = float(np.sqrt(sum((s * v) ** 2 for s, v in zip(step, sampling, strict=True))))
        edges.append((index[src].ravel(), index[dst].ravel(), length))
    return edges


def geodesic_distance(
    image: np.ndarray,
    seeds: np.ndarray,
    *,
    gamma: float = 1.0,
    sampling: Sequence[float] | None = None,
    max_distance: float | None = None,
) -> np.ndarray:
    """Geodesic distance of eq (2) from the ``seeds`` voxels.

    .. math::

        d(x, y) = \\inf_{\\Gamma \\in P_{x,y}} \\int_0^{l(\\Gamma)}
        \\sqrt{1 + \\gamma^2 (\\nabla I(s) \\cdot \\Gamma'(s))^2}\\, ds

    discretised on the full neighbourhood graph of the voxel grid (8-connectivity in 2-D, 26 in
    3-D): a step of length ``l`` between voxels whose intensities differ by ``dI`` costs
    ``sqrt(l^2 + gamma^2 dI^2)``, the exact integral for a linear intensity along the step.
    Shortest paths come from scipy's Dijkstra (``scipy.sparse.csgraph``), not a Python loop.
    ``gamma = 0`` gives the chamfer (graph) approximation of the Euclidean distance: exact
    along grid lines and diagonals, and at most 8.2 % (2-D) or 12.8 % (3-D) long in other directions
    (measured; pinned by a test).

    Examples
    --------
    A step of height 1 crossed once with gamma = 2: ``sqrt(1 + 4) = 2.236`` instead of 1.

    >>> img = np.array([[0.0, 0.0, 1.0, 1.0]])
    >>> seeds = np.array([[True, False, False, False]])
    >>> np.round(geodesic_distance(img, seeds, gamma=2.0), 3).tolist()
    [[0.0, 1.0, 3.236, 4.236]]
    """
    if not seeds.any():
        return np.full(image.shape, _no_feature(image.shape, sampling, max_distance))
    sampling = tuple(sampling) if sampling is not None else (1.0,) * image.ndim
    flat = np.asarray(image, np.float64).ravel()
    rows, cols, weights = [], [], []
    for src, dst, length in _grid_edges(image.shape, sampling):
        rows.append(src)
        cols.append(dst)
        weights.append(np.sqrt(length**2 + (gamma * (flat[dst] - flat[src])) ** 2))
    n = flat.size
    graph = sparse.coo_array(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n, n),
    ).tocsr()
    dist = csgraph.dijkstra(
        graph,
        directed=False,
        indices=np.flatnonzero(seeds.ravel()),
        min_only=True,
        limit=np.inf if max_distance is None else max_distance * (1 + 1e-9),
    )
    return _clip(dist.reshape(image.shape), max_distance)
