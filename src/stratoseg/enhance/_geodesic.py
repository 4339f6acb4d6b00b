"""Geodesic distance maps of Hammoumi et al. 2021, §4.1, eq (2) (and eqs (8)-(9), which use
it), by scipy's Dijkstra on the voxel grid's neighbourhood graph.

The graph is built directly in compressed-row form with the same number of entries per voxel
(8 in 2-D, 26 in 3-D); steps that leave the grid or cross a cut get an infinite cost, which
Dijkstra never takes, so no compaction or sort is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from stratoseg.enhance._distance import _clip, _no_feature, _sampling

__all__ = ["geodesic_across", "geodesic_distance", "geodesic_distances", "geodesic_split"]

_INDEX_LIMIT = 2**31 - 1  # scipy's graph routines index with int32


def _grid_graph(
    image: np.ndarray,
    sampling: tuple[float, ...],
    gamma: float,
    cut: np.ndarray | None = None,
    spare: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The full (8-/26-) neighbourhood graph of the grid with the eq (2) step costs.

    Returns ``(costs, cols, start)``: entry ``x * K + k`` is the step from voxel ``x`` along
    the ``k``-th neighbour offset, of cost ``sqrt(l^2 + gamma^2 dI^2)`` (``inf`` where it leaves
    the grid or crosses ``cut``), and ``cols`` its target voxel; both arrays carry ``spare``
    unused entries at the end for a caller's extra row. ``start`` (with a cut): each voxel's
    cheapest step across the cut (``inf`` where it has none).
    """
    shape = image.shape
    n = int(np.prod(shape))
    steps = [s for s in product((-1, 0, 1), repeat=image.ndim) if any(s)]
    k_all = len(steps)
    if n * k_all + spare > _INDEX_LIMIT:
        raise ValueError(
            f"an image of shape {shape} is too large for an unclipped geodesic map "
            "(the graph would exceed 2^31 entries); set max_distance to compute it block-wise"
        )
    pad = ((1, 1),) * image.ndim
    values = np.pad(np.asarray(image, np.float64), pad, constant_values=np.nan)
    centre = tuple(slice(1, 1 + m) for m in shape)
    here = values[centre]
    side = None if cut is None else np.pad(np.asarray(cut, bool), pad)
    buffer = np.full(n * k_all + spare, np.inf)
    costs = buffer[: n * k_all].reshape((*shape, k_all))
    start = None if side is None else np.full(shape, np.inf)
    for k in range(k_all // 2, k_all):  # forward steps; step k_all - 1 - k is the reverse
        step = steps[k]
        window = tuple(slice(1 + a, 1 + a + m) for a, m in zip(step, shape, strict=True))
        cost = values[window] - here
        cost *= gamma
        np.square(cost, out=cost)
        cost += sum((a * v) ** 2 for a, v in zip(step, sampling, strict=True))
        np.sqrt(cost, out=cost)
        cost[np.isnan(cost)] = np.inf  # off the grid
        # the reverse step at voxel x + step is this step at voxel x
        to = tuple(slice(max(a, 0), m + min(a, 0)) for a, m in zip(step, shape, strict=True))
        fro = tuple(slice(max(-a, 0), m + min(-a, 0)) for a, m in zip(step, shape, strict=True))
        if side is not None and start is not None:
            crosses = side[window] != side[centre]
            crossing = np.where(crosses, cost, np.inf)
            np.minimum(start, crossing, out=start)
            np.minimum(start[to], crossing[fro], out=start[to])
            cost[crosses] = np.inf
        costs[..., k] = cost
        costs[..., k_all - 1 - k][to] = cost[fro]
    strides = [int(np.prod(shape[i + 1 :])) for i in range(image.ndim)]
    delta = np.array([sum(a * s for a, s in zip(st, strides, strict=True)) for st in steps])
    cols = np.empty(n * k_all + spare, np.int32)
    targets = cols[: n * k_all].reshape(n, k_all)
    np.add(np.arange(n, dtype=np.int32)[:, None], delta.astype(np.int32)[None, :], out=targets)
    np.copyto(
        targets, np.arange(n, dtype=np.int32)[:, None], where=np.isinf(costs.reshape(n, k_all))
    )
    return buffer, cols, None if start is None else start.ravel()


def _graph(
    costs: np.ndarray, cols: np.ndarray, n: int, k_all: int, extra_row: np.ndarray | None = None
) -> sparse.csr_array:
    """The CSR graph of :func:`_grid_graph`'s arrays, with ``extra_row`` (the targets of one
    more node, whose costs the caller put in the spare entries) as node ``n``."""
    indptr = np.arange(0, n * k_all + 1, k_all, dtype=np.int32)
    size = n
    if extra_row is not None:
        indptr = np.append(indptr, np.int32(n * k_all + extra_row.size))
        size = n + 1
    end = int(indptr[-1])
    return sparse.csr_array((costs[:end], cols[:end], indptr), shape=(size, size))


def _dijkstra(
    graph: sparse.csr_array, sources: np.ndarray, max_distance: float | None
) -> np.ndarray:
    limit = np.inf if max_distance is None else max_distance * (1 + 1e-9)
    return csgraph.dijkstra(graph, directed=True, indices=sources, min_only=True, limit=limit)


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
    return geodesic_distances(
        image, [seeds], gamma=gamma, sampling=sampling, max_distance=max_distance
    )[0]


def geodesic_distances(
    image: np.ndarray,
    seed_masks: Sequence[np.ndarray],
    *,
    gamma: float = 1.0,
    sampling: Sequence[float] | None = None,
    max_distance: float | None = None,
) -> list[np.ndarray]:
    """:func:`geodesic_distance` from several seed masks, building the graph once."""
    costs, cols, _ = _grid_graph(image, _sampling(image.ndim, sampling), gamma)
    n = image.size
    graph = _graph(costs, cols, n, costs.size // n)
    out = []
    for seeds in seed_masks:
        flat = np.flatnonzero(np.asarray(seeds, bool).ravel())
        if flat.size == 0:
            out.append(np.full(image.shape, _no_feature(image.shape, sampling, max_distance)))
            continue
        dist = _dijkstra(graph, flat, max_distance).reshape(image.shape)
        out.append(_clip(dist, max_distance))
    return out


def geodesic_split(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    gamma: float = 1.0,
    sampling: Sequence[float] | None = None,
    max_distance: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Geodesic distances (eq 2) to ``mask`` and to its complement, in one Dijkstra run.

    Returns ``(d(x, mask), d(x, ~mask))``, equal to two :func:`geodesic_distance` calls. The
    shortest path from a voxel outside the mask to the mask stays outside it until its last
    step, and likewise inside; so the graph loses every edge across the mask's border, and a
    single extra source node reaches each border voxel at the cost of its cheapest crossing edge.
    Both sides are then measured at once on a graph of the same size.

    Examples
    --------
    >>> img = np.array([[0.0, 0.0, 1.0, 1.0]])
    >>> to_low, to_high = geodesic_split(img, img < 0.5, gamma=2.0)
    >>> np.round(to_low, 3).tolist(), np.round(to_high, 3).tolist()
    ([[0.0, 0.0, 2.236, 3.236]], [[3.236, 2.236, 0.0, 0.0]])
    """
    mask = np.asarray(mask, bool)
    both = geodesic_across(image, mask, gamma=gamma, sampling=sampling, max_distance=max_distance)
    return np.where(mask, 0.0, both), np.where(mask, both, 0.0)


def geodesic_across(
    image: np.ndarray,
    mask: np.ndarray,
    *,
    gamma: float = 1.0,
    sampling: Sequence[float] | None = None,
    max_distance: float | None = None,
) -> np.ndarray:
    """Each voxel's geodesic distance to the other side of ``mask``: the sum of the two maps
    of :func:`geodesic_split`, whose supports are disjoint."""
    mask = np.asarray(mask, bool)
    if mask.all() or not mask.any():
        return np.full(mask.shape, _no_feature(mask.shape, sampling, max_distance))
    n = mask.size
    costs, cols, start = _grid_graph(
        image, _sampling(image.ndim, sampling), gamma, cut=mask, spare=n
    )
    assert start is not None
    k_all = (costs.size - n) // n
    border = np.flatnonzero(np.isfinite(start)).astype(np.int32)
    # node n, the single source, reaches each border voxel at its cheapest crossing cost
    costs[n * k_all : n * k_all + border.size] = start[border]
    cols[n * k_all : n * k_all + border.size] = border
    graph = _graph(costs, cols, n, k_all, extra_row=border)
    both = _dijkstra(graph, np.array([n]), max_distance)[:n].reshape(mask.shape)
    return _clip(both, max_distance)
