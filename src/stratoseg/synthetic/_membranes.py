"""An electron-microscopy-like image of cell membranes: a warped Voronoi tessellation."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree

from stratoseg.synthetic._common import (
    FloatArray,
    Point,
    SyntheticVolume,
    check_non_negative,
    check_positive,
    check_seed,
    check_shape,
    lazy_volume,
    resolve_chunks,
    stream_key,
    value_noise,
)

__all__ = ["make_membranes"]

_WAVES = 3  # sinusoids per axis in the displacement field
_WAVELENGTH = (3.0, 6.0)  # range of their wavelengths, in cell sizes
_SEARCH = 4  # grid cells searched around a point; 3 suffice (see _MembranesRenderer.render)
_CYTOPLASM = 150.0
_MEMBRANE = 45.0
_MAX_WARP = 0.5


class _MembranesRenderer:
    """Seeds on a jittered grid and a smooth displacement field, drawn from the seed."""

    def __init__(
        self, shape: Point, seed: int, *, cell_size: float, membrane_width: float, warp: float
    ) -> None:
        rng = np.random.default_rng(seed)
        ndim = len(shape)
        self.cell_size = cell_size
        self.membrane_width = membrane_width
        # One seed uniformly in each cell of a grid of spacing cell_size that covers the volume
        # and a margin beyond the largest displacement.
        amplitude = warp * cell_size
        self.origin = -(cell_size + 1.5 * amplitude)
        self.grid = tuple(math.ceil((n - 2 * self.origin) / cell_size) for n in shape)
        self.jitter = rng.uniform(0.0, 1.0, size=(*self.grid, ndim))
        self.level = rng.uniform(0.85, 1.15, size=self.grid).ravel()
        # Displacement along each axis: a sum of plane waves of random direction and phase.
        direction = rng.normal(size=(ndim, _WAVES, ndim))
        direction /= np.maximum(np.linalg.norm(direction, axis=2, keepdims=True), 1e-12)
        wavelength = cell_size * rng.uniform(*_WAVELENGTH, size=(ndim, _WAVES))
        self.frequency = 2 * math.pi * direction / wavelength[..., None]
        self.phase = rng.uniform(0.0, 2 * math.pi, size=(ndim, _WAVES))
        self.amplitude = amplitude / _WAVES * rng.uniform(0.5, 1.5, size=(ndim, _WAVES))
        self.texture_key = stream_key(seed, 1)
        self.detail_key = stream_key(seed, 2)

    def _warped(self, lo: Point, hi: Point) -> FloatArray:
        """Warped coordinates ``x + D(x)`` of the region's voxels, shape ``(*region, ndim)``."""
        ndim = len(lo)
        axes = [
            np.arange(lo[a], hi[a], dtype=np.float64).reshape(
                tuple(-1 if b == a else 1 for b in range(ndim))
            )
            for a in range(ndim)
        ]
        region = tuple(b - a for a, b in zip(lo, hi, strict=True))
        out = np.empty((*region, ndim))
        for a in range(ndim):
            total = np.broadcast_to(axes[a], region).copy()
            for k in range(_WAVES):
                arg = self.phase[a, k] + self.frequency[a, k, 0] * axes[0]
                for b in range(1, ndim):
                    arg = arg + self.frequency[a, k, b] * axes[b]
                arg = np.ascontiguousarray(np.broadcast_to(arg, region))
                total += self.amplitude[a, k] * np.sin(arg)
            out[..., a] = total
        return out

    def render(self, lo: Point, hi: Point) -> tuple[FloatArray, np.ndarray]:
        region = tuple(b - a for a, b in zip(lo, hi, strict=True))
        ndim = len(region)
        points = self._warped(lo, hi).reshape(-1, ndim)
        # The nearest two seeds of a point are within _SEARCH grid cells of its own: the own
        # cell's seed is within s*sqrt(d), a neighbour's within s*sqrt(d + 3) <= s*sqrt(6), and
        # any seed 4 or more cells away is farther than 3s. So a local tree gives exact answers.
        cell = np.floor((points - self.origin) / self.cell_size)
        g_lo = np.maximum(cell.min(axis=0).astype(int) - _SEARCH, 0)
        g_hi = np.minimum(cell.max(axis=0).astype(int) + _SEARCH + 1, self.grid)
        box = tuple(slice(a, b) for a, b in zip(g_lo, g_hi, strict=True))
        index = np.stack(
            np.meshgrid(*(np.arange(a, b) for a, b in zip(g_lo, g_hi, strict=True)), indexing="ij"),
            -1,
        )
        seeds = (self.origin + (index + self.jitter[box]) * self.cell_size).reshape(-1, ndim)
        flat = np.ravel_multi_index(tuple(index.reshape(-1, ndim).T), self.grid)
        dist, nearest = cKDTree(seeds).query(points, k=2)
        gap = (dist[:, 1] - dist[:, 0]).reshape(region)
        owner = flat[nearest[:, 0]].reshape(region)
        labels = np.where(gap < self.membrane_width, 0, owner + 1).astype(np.uint32)

        # Grey, textured cytoplasm (each cell a little different), dark membranes that fade out
        # over half a membrane width beyond the labelled ones.
        texture = value_noise(self.texture_key, lo, hi, scale=4.0)
        detail = value_noise(self.detail_key, lo, hi, scale=1.5)
        cytoplasm = _CYTOPLASM * self.level[owner] + 18.0 * texture + 10.0 * detail
        dark = np.clip(1.5 - gap / self.membrane_width, 0.0, 1.0)
        return cytoplasm * (1.0 - dark) + _MEMBRANE * dark, labels


def make_membranes(
    shape: Sequence[int] = (256, 256),
    *,
    seed: int = 0,
    chunks: int | Sequence[int] | None = None,
    cell_size: float = 24.0,
    membrane_width: float = 2.0,
    warp: float = 0.15,
    blur_sigma: float = 1.0,
    noise_std: float = 10.0,
) -> SyntheticVolume:
    """Cells packed as in electron microscopy of tissue, with membrane-separated instances.

    Models a serial-section EM image of densely packed cells (as in the ISBI 2012 challenge):
    seeds drawn one per cell of a grid of spacing ``cell_size`` (uniformly within it) define a
    Voronoi tessellation of a warped space, ``x + D(x)``, where ``D`` is a smooth displacement
    made of a few sinusoidal plane waves per axis (total amplitude about ``warp * cell_size``),
    so the cells are curved rather than polygonal. A voxel is membrane when the distances to
    its nearest and second-nearest seeds differ by less than ``membrane_width`` (a band of that
    width around each cell boundary). The image has dark membranes on grey cytoplasm whose
    brightness varies a little per cell, with smooth and fine texture, a Gaussian blur and
    Gaussian noise.

    Everything is generated lazily, block by block; the result does not depend on ``chunks``.

    Parameters
    ----------
    shape : sequence of 2 or 3 int
        ``(Y, X)`` or ``(Z, Y, X)``.
    seed : int
        Seed of every random choice; the same seed gives identical arrays.
    chunks : int or sequence of int, optional
        Dask chunk size; default 64 per axis in 3-D, 256 in 2-D, clipped to ``shape``.
    cell_size : float
        Mean distance between neighbouring cell seeds in voxels, > 0.
    membrane_width : float
        Membrane thickness in voxels, > 0 and < ``cell_size``.
    warp : float
        Amplitude of the displacement field in units of ``cell_size``, in [0, 0.5).
    blur_sigma : float
        Standard deviation of the Gaussian blur in voxels, >= 0.
    noise_std : float
        Standard deviation of the additive Gaussian noise in grey levels, >= 0.

    Returns
    -------
    SyntheticVolume
        uint8 ``image`` and uint32 ``labels``: 0 on membranes, else the id of the nearest seed
        (its index in the seed grid plus one, so ids are unique but not contiguous).

    Examples
    --------
    >>> vol = make_membranes((64, 64), seed=1, cell_size=16.0)
    >>> vol.image.dtype, vol.labels.dtype, vol.classes
    (dtype('uint8'), dtype('uint32'), {0: 'membrane'})
    """
    shape = check_shape(shape)
    chunk_size = resolve_chunks(chunks, shape)
    seed = check_seed(seed)
    params = {
        "cell_size": check_positive(cell_size, name="cell_size"),
        "membrane_width": check_positive(membrane_width, name="membrane_width"),
        "warp": check_non_negative(warp, name="warp"),
    }
    if params["membrane_width"] >= params["cell_size"]:
        raise ValueError(
            f"membrane_width must be < cell_size ({cell_size!r}), got {membrane_width!r}"
        )
    if params["warp"] >= _MAX_WARP:
        raise ValueError(f"warp must be in [0, {_MAX_WARP}), got {warp!r}")
    renderer = _MembranesRenderer(shape, seed, **params)
    return lazy_volume(
        renderer.render,
        kind="membranes",
        shape=shape,
        chunks=chunk_size,
        seed=seed,
        params=params,
        blur_sigma=blur_sigma,
        noise_std=noise_std,
        label_dtype=np.uint32,
        classes={0: "membrane"},
    )
