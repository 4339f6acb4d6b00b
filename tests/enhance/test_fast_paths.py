"""The fast kernels equal their textbook versions: one multi-label EDT for a set and its
complement, one Dijkstra run for both sides of a cut, the directly built grid graph."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest
from scipy import ndimage as ndi
from scipy import sparse
from scipy.sparse import csgraph

from stratoseg.enhance import (
    distance_to,
    geodesic_distance,
    geodesic_distances,
    geodesic_split,
    split_distances,
)
from stratoseg.enhance._distance import across
from stratoseg.enhance._geodesic import _grid_graph

RNG = np.random.default_rng(7)
SMOOTH_2D = ndi.gaussian_filter(RNG.random((40, 50)), 2)
SMOOTH_3D = ndi.gaussian_filter(RNG.random((12, 20, 24)), 1.5)


def reference_geodesic(image: np.ndarray, seeds: np.ndarray, gamma: float, sampling) -> np.ndarray:
    """Eq (2) on an edge list built one offset at a time, solved as an undirected graph."""
    n = image.size
    index = np.arange(n).reshape(image.shape)
    flat = image.ravel().astype(np.float64)
    rows, cols, weights = [], [], []
    for step in product((-1, 0, 1), repeat=image.ndim):
        if not any(step):
            continue
        src = tuple(
            slice(max(0, -s), m - max(0, s)) for s, m in zip(step, image.shape, strict=True)
        )
        dst = tuple(
            slice(max(0, s), m - max(0, -s)) for s, m in zip(step, image.shape, strict=True)
        )
        a, b = index[src].ravel(), index[dst].ravel()
        length2 = sum((s * v) ** 2 for s, v in zip(step, sampling, strict=True))
        rows.append(a)
        cols.append(b)
        weights.append(np.sqrt(length2 + (gamma * (flat[b] - flat[a])) ** 2))
    graph = sparse.coo_array(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    ).tocsr()
    dist = csgraph.dijkstra(graph, directed=True, indices=np.flatnonzero(seeds), min_only=True)
    return dist.reshape(image.shape)


@pytest.mark.parametrize(
    ("mask", "sampling"),
    [
        (SMOOTH_2D > 0.5, (1.0, 1.0)),
        (SMOOTH_2D > 0.5, (0.7, 1.9)),
        (SMOOTH_3D > 0.5, (2.5, 1.0, 0.5)),
    ],
)
def test_split_distances_equal_two_scipy_transforms(mask: np.ndarray, sampling) -> None:
    to_mask, to_rest = split_distances(mask, sampling=sampling)
    np.testing.assert_allclose(
        to_mask, ndi.distance_transform_edt(~mask, sampling=sampling), atol=1e-5
    )
    np.testing.assert_allclose(
        to_rest, ndi.distance_transform_edt(mask, sampling=sampling), atol=1e-5
    )
    np.testing.assert_allclose(distance_to(mask, sampling=sampling), to_mask, atol=1e-5)
    np.testing.assert_allclose(across(mask, sampling=sampling), to_mask + to_rest, atol=1e-5)
    clipped_mask, clipped_rest = split_distances(mask, sampling=sampling, max_distance=2.0)
    np.testing.assert_allclose(clipped_mask, np.minimum(to_mask, 2.0), atol=1e-5)
    np.testing.assert_allclose(clipped_rest, np.minimum(to_rest, 2.0), atol=1e-5)


def test_split_distances_of_an_empty_or_full_mask_stay_finite() -> None:
    empty = np.zeros((3, 4), bool)
    to_mask, to_rest = split_distances(empty)
    assert np.all(to_rest == 0)
    assert np.all(to_mask == 5.0)
    to_mask, to_rest = split_distances(~empty, max_distance=1.5)
    assert np.all(to_mask == 0)
    assert np.all(to_rest == 1.5)


@pytest.mark.parametrize(
    ("image", "sampling", "gamma"),
    [
        (SMOOTH_2D, (1.0, 1.0), 0.0),
        (SMOOTH_2D, (1.0, 1.7), 4.0),
        (SMOOTH_3D, (2.0, 1.0, 0.5), 3.0),
    ],
)
def test_grid_graph_matches_an_edge_list_reference(image, sampling, gamma) -> None:
    seeds = image < np.quantile(image, 0.1)
    expected = reference_geodesic(image, seeds.ravel(), gamma, sampling)
    np.testing.assert_allclose(
        geodesic_distance(image, seeds, gamma=gamma, sampling=sampling), expected, atol=1e-9
    )
    low, high = geodesic_distances(
        image, [seeds, image > np.quantile(image, 0.9)], gamma=gamma, sampling=sampling
    )
    np.testing.assert_allclose(low, expected, atol=1e-9)
    assert np.all(high[image > np.quantile(image, 0.9)] == 0)
    assert high.max() > 0


@pytest.mark.parametrize("max_distance", [None, 3.0])
@pytest.mark.parametrize(
    ("image", "sampling"), [(SMOOTH_2D, (1.0, 1.3)), (SMOOTH_3D, (2.0, 1.0, 0.5))]
)
def test_geodesic_split_equals_two_runs(image, sampling, max_distance) -> None:
    mask = image < image.mean()
    to_mask, to_rest = geodesic_split(
        image, mask, gamma=5.0, sampling=sampling, max_distance=max_distance
    )
    ref_mask = geodesic_distance(
        image, mask, gamma=5.0, sampling=sampling, max_distance=max_distance
    )
    ref_rest = geodesic_distance(
        image, ~mask, gamma=5.0, sampling=sampling, max_distance=max_distance
    )
    np.testing.assert_allclose(to_mask, ref_mask, atol=1e-9)
    np.testing.assert_allclose(to_rest, ref_rest, atol=1e-9)
    assert np.all(to_mask[mask] == 0)
    assert np.all(to_rest[~mask] == 0)


def test_a_graph_beyond_int32_indices_is_refused_before_allocating() -> None:
    huge = np.broadcast_to(np.float64(0), (1000, 1000, 1000))  # no memory behind it
    with pytest.raises(ValueError, match=r"too large for an unclipped geodesic map.*max_distance"):
        _grid_graph(huge, (1.0, 1.0, 1.0), 1.0)
