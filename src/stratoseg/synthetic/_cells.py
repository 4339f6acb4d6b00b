"""Clustered, touching cells or nuclei in 2-D or 3-D with instance ground truth."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from stratoseg.synthetic._common import (
    FloatArray,
    Point,
    SyntheticVolume,
    check_fraction,
    check_positive,
    check_seed,
    check_shape,
    ellipsoid_forms,
    ellipsoid_q,
    lazy_volume,
    random_ellipsoids,
    random_orientations,
    resolve_chunks,
    rotations,
    stream_key,
    value_noise,
)

__all__ = ["make_cells"]

_SHAPE_SPREAD = 0.25  # semi-axes are radius * U(0.75, 1.25)
_SPACING = 1.7  # distance between neighbours in a cluster, in radii: most neighbours overlap
_JITTER = 0.12  # of the spacing
_BACKGROUND = 25.0
_CELL = 160.0
_TEXTURE_SCALE = 3.0


@lru_cache(maxsize=2)
def _lattice(ndim: int) -> FloatArray:
    """The points of a close packing (hexagonal, FCC) with unit spacing, nearest to 0 first."""
    r = np.arange(-4, 5)
    if ndim == 2:
        i, j = (a.ravel() for a in np.meshgrid(r, r, indexing="ij"))
        pts = np.stack([i + 0.5 * j, (math.sqrt(3) / 2) * j], axis=1)
        count = 37
    else:
        i, j, k = (a.ravel() for a in np.meshgrid(r, r, r, indexing="ij"))
        even = (i + j + k) % 2 == 0
        pts = np.stack([i[even], j[even], k[even]], axis=1) / math.sqrt(2)
        count = 55
    order = np.argsort(np.sqrt((pts**2).sum(axis=1)), kind="stable")
    return np.asarray(pts[order[:count]], dtype=np.float64)


class _CellsRenderer:
    """Cells drawn from the seed: centres, ellipsoid shapes, brightness; ``render`` any region."""

    def __init__(
        self, shape: Point, seed: int, *, radius: float, cell_fraction: float, cluster_size: float
    ) -> None:
        rng = np.random.default_rng(seed)
        ndim = len(shape)
        size = np.asarray(shape, dtype=np.float64)
        ball = math.pi * radius**2 if ndim == 2 else 4 / 3 * math.pi * radius**3
        n_target = cell_fraction * float(np.prod(size)) / ball
        n_clusters = max(1, int(rng.poisson(n_target / cluster_size)))
        lattice = _lattice(ndim)
        counts = np.minimum(1 + rng.poisson(cluster_size - 1.0, size=n_clusters), len(lattice))
        parents = rng.uniform(0.0, size, size=(n_clusters, ndim))

        # Each cluster takes the lattice points nearest to its parent, in a randomly perturbed
        # order so clusters are compact but irregular, then rotates and jitters them.
        keys = np.sqrt((lattice**2).sum(axis=1)) + rng.uniform(
            0.0, 1.2, size=(n_clusters, len(lattice))
        )
        order = np.argsort(keys, axis=1)[:, : int(counts.max())]
        member = np.arange(order.shape[1]) < counts[:, None]
        group = np.broadcast_to(np.arange(n_clusters)[:, None], order.shape)[member]
        rot = rotations(random_orientations(rng, n_clusters, ndim))[group]
        offsets = (rot * lattice[order[member]][:, None, :]).sum(axis=2)
        offsets += rng.normal(0.0, _JITTER, size=offsets.shape)
        centres = parents[group] + (_SPACING * radius) * offsets
        semi, orientation = random_ellipsoids(
            rng, len(centres), ndim, radius=radius, spread=_SHAPE_SPREAD
        )
        level = rng.uniform(0.75, 1.25, size=len(centres))

        # Ids 1..N go to the cells that can reach the volume, in drawing order.
        self.reach = (1.0 + _SHAPE_SPREAD) * radius
        keep = np.all((centres + self.reach >= 0) & (centres - self.reach <= size - 1), axis=1)
        self.centres = centres[keep]
        self.semi = semi[keep]
        self.orientation = orientation[keep]
        self.level = np.concatenate([[0.0], level[keep]])  # indexed by id
        self.radius = radius
        self.texture_key = stream_key(seed, 1)

    def render(self, lo: Point, hi: Point) -> tuple[FloatArray, np.ndarray]:
        region = tuple(b - a for a, b in zip(lo, hi, strict=True))
        best = np.full(region, np.inf)  # smallest scaled squared distance
        second = np.full(region, np.inf)  # second smallest
        labels = np.zeros(region, dtype=np.uint32)
        c = self.centres
        hit = np.flatnonzero(
            np.all((c + self.reach >= lo) & (c - self.reach <= np.asarray(hi) - 1), axis=1)
        )
        forms, extents = ellipsoid_forms(self.semi[hit], self.orientation[hit])
        for k, form, extent in zip(hit, forms, extents, strict=True):
            found = ellipsoid_q(c[k], form, extent, lo, hi)
            if found is None:
                continue
            box, q = found
            b1, b2 = best[box], second[box]
            closer = q < b1
            second[box] = np.where(closer, b1, np.minimum(b2, q))
            best[box] = np.where(closer, q, b1)
            labels[box] = np.where(closer, k + 1, labels[box])
        inside = best <= 1.0
        labels[~inside] = 0

        # Bright cells, brighter towards their centre, textured, darker where two cells meet
        # (second <= 1: the voxel is inside two cells; their scaled distances are then close).
        rho1 = np.sqrt(np.where(inside, best, 1.0))
        rho2 = np.where(second <= 1.0, np.sqrt(np.minimum(second, 1.0)), np.inf)
        contact = np.clip(1.0 - (rho2 - rho1) * (self.radius / 2.0), 0.0, 1.0) ** 2
        texture = value_noise(self.texture_key, lo, hi, scale=_TEXTURE_SCALE)
        cell = _CELL * self.level[labels] * (1.0 - 0.3 * rho1 * rho1) * (1.0 - 0.45 * contact)
        cell = cell + 22.0 * texture
        intensity = np.where(inside, cell, _BACKGROUND + 4.0 * texture)
        return intensity, labels


def make_cells(
    shape: Sequence[int] = (256, 256),
    *,
    seed: int = 0,
    chunks: int | Sequence[int] | None = None,
    radius: float = 10.0,
    cell_fraction: float = 0.3,
    cluster_size: float = 5.0,
    blur_sigma: float = 1.0,
    noise_std: float = 8.0,
) -> SyntheticVolume:
    """Clustered, touching cells or nuclei (fluorescence-like), with instance ground truth.

    Models a nuclei stain: clusters placed uniformly at random (their number Poisson, for an
    expected ``cell_fraction`` of the volume covered), each of ``1 + Poisson(cluster_size - 1)``
    cells that sit on a randomly rotated, jittered close packing (hexagonal in 2-D, FCC in 3-D)
    with spacing ``1.7 * radius``, so that most neighbours overlap. Cells are randomly oriented
    ellipses/ellipsoids with semi-axes ``radius * U(0.75, 1.25)``. A voxel inside one or more
    cells belongs to the one with the smallest scaled distance ``(x - c)^T A (x - c)``, so touching
    cells share a boundary. The image has bright, textured cells of varying brightness, dimmer
    towards their edges and darker along contacts between cells, on a dark background, with a
    Gaussian blur and Gaussian noise.

    Everything is generated lazily, block by block; the result does not depend on ``chunks``.

    Parameters
    ----------
    shape : sequence of 2 or 3 int
        ``(Y, X)`` or ``(Z, Y, X)``.
    seed : int
        Seed of every random choice; the same seed gives identical arrays.
    chunks : int or sequence of int, optional
        Dask chunk size; default 64 per axis in 3-D, 256 in 2-D, clipped to ``shape``.
    radius : float
        Mean cell radius in voxels, > 0.
    cell_fraction : float
        Expected share of the volume covered by cells before overlaps, in (0, 1).
    cluster_size : float
        Mean number of cells per cluster, >= 1.
    blur_sigma : float
        Standard deviation of the Gaussian blur in voxels, >= 0.
    noise_std : float
        Standard deviation of the additive Gaussian noise in grey levels, >= 0.

    Returns
    -------
    SyntheticVolume
        uint8 ``image`` and uint32 ``labels``: 0 background, cells 1..N (ids of the cells
        reaching the volume, in drawing order).

    Examples
    --------
    >>> vol = make_cells((64, 64), seed=1, radius=6.0)
    >>> vol.image.dtype, vol.labels.dtype, vol.classes
    (dtype('uint8'), dtype('uint32'), {0: 'background'})
    """
    shape = check_shape(shape)
    chunk_size = resolve_chunks(chunks, shape)
    seed = check_seed(seed)
    params = {
        "radius": check_positive(radius, name="radius"),
        "cell_fraction": check_fraction(cell_fraction, name="cell_fraction"),
        "cluster_size": check_positive(cluster_size, name="cluster_size"),
    }
    if params["cluster_size"] < 1.0:
        raise ValueError(f"cluster_size must be >= 1, got {cluster_size!r}")
    renderer = _CellsRenderer(shape, seed, **params)
    return lazy_volume(
        renderer.render,
        kind="cells",
        shape=shape,
        chunks=chunk_size,
        seed=seed,
        params=params,
        blur_sigma=blur_sigma,
        noise_std=noise_std,
        label_dtype=np.uint32,
        classes={0: "background"},
    )
