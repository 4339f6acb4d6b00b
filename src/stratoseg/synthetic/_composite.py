"""A glass-fibre composite seen by X-ray CT: fibres, matrix, pores, blur, noise, ring artefacts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from stratoseg.synthetic._common import (
    FloatArray,
    Point,
    SyntheticVolume,
    check_fraction,
    check_non_negative,
    check_positive,
    check_seed,
    check_shape,
    ellipsoid_forms,
    ellipsoid_q,
    lazy_volume,
    random_ellipsoids,
    resolve_chunks,
    stream_key,
    value_noise,
)

__all__ = ["make_composite"]

#: Grey levels of matrix (0), fibre (1) and pore (2) before blur and noise.
_LEVELS = np.array([110.0, 190.0, 40.0])
_CLASSES = {0: "matrix", 1: "fibre", 2: "pore"}
_PORE_SPREAD = 0.3  # pore semi-axes are pore_radius * U(0.7, 1.3)
_TEXTURE_AMPLITUDE = 6.0  # grey levels of smooth texture in the matrix
_TEXTURE_SCALE = 6.0
_RING_SPACING = 8.0  # one ring artefact per this many voxels of radius, on average


def _capsule(
    mask: np.ndarray, lo: Point, hi: Point, p0: FloatArray, d: FloatArray, length: float, r: float
) -> None:
    """Set ``mask`` (the region ``[lo, hi)``) where a voxel is within ``r`` of segment p0 + t d.

    Candidates are taken slice by slice along the segment's dominant axis, in a window around
    the axis line wide enough to hold the cross-section, so the work is proportional to the
    fibre's volume rather than to its bounding box.
    """
    ndim = len(lo)
    a = int(np.argmax(np.abs(d)))
    p1 = p0 + length * d
    c_lo = max(lo[a], math.ceil(min(p0[a], p1[a]) - r))
    c_hi = min(hi[a], math.floor(max(p0[a], p1[a]) + r) + 1)
    if c_lo >= c_hi:
        return
    c = np.arange(c_lo, c_hi, dtype=np.float64)
    s = (c - p0[a]) / d[a]
    others = [b for b in range(ndim) if b != a]
    coords: list[np.ndarray] = [np.empty(0)] * ndim
    coords[a] = c.reshape((-1,) + (1,) * len(others))
    for k, b in enumerate(others):
        half = math.ceil(r * math.sqrt(1.0 + (d[b] / d[a]) ** 2)) + 1
        centre = np.rint(p0[b] + s * d[b]).reshape((-1,) + (1,) * len(others))
        offsets = np.arange(-half, half + 1, dtype=np.float64)
        coords[b] = centre + offsets.reshape(
            (1, *(-1 if j == k else 1 for j in range(len(others))))
        )
    full = np.broadcast_shapes(*(x.shape for x in coords))
    diff = [np.broadcast_to(coords[i] - p0[i], full) for i in range(ndim)]
    t = diff[0] * d[0]
    for i in range(1, ndim):
        t = t + diff[i] * d[i]
    t = np.clip(t, 0.0, length)
    dist2 = (diff[0] - t * d[0]) ** 2
    for i in range(1, ndim):
        dist2 = dist2 + (diff[i] - t * d[i]) ** 2
    inside = dist2 <= r * r
    for b in others:
        xb = np.broadcast_to(coords[b], full)
        inside &= (xb >= lo[b]) & (xb < hi[b])
    index = tuple(
        (np.broadcast_to(coords[i], full)[inside] - lo[i]).astype(np.intp) for i in range(ndim)
    )
    mask[index] = True


def _check_levels(levels: Any) -> tuple[float, float, float]:
    try:
        values = tuple(float(v) for v in levels)
    except (TypeError, ValueError):
        raise ValueError(f"levels must be 3 grey levels, got {levels!r}") from None
    if len(values) != 3 or not all(0 <= v <= 255 for v in values):
        raise ValueError(f"levels must be 3 grey levels in [0, 255], got {levels!r}")
    return values[0], values[1], values[2]


class _CompositeRenderer:
    """Everything drawn from the seed; ``render`` and ``rings`` work on any region."""

    def __init__(
        self,
        shape: Point,
        seed: int,
        *,
        fibre_fraction: float,
        fibre_radius: float,
        fibre_length: float,
        fibre_spread: float,
        pore_fraction: float,
        pore_radius: float,
        ring_amplitude: float,
        levels: tuple[float, float, float],
    ) -> None:
        rng = np.random.default_rng(seed)
        self.levels = np.asarray(levels, dtype=np.float64)
        size = np.asarray(shape, dtype=np.float64)
        self.radius = fibre_radius
        self.length = fibre_length

        # Fibres: a Boolean model of capsules whose centres fall where they can reach the volume,
        # so the expected fibre fraction is 1 - exp(-n v / V) = fibre_fraction.
        reach = fibre_length / 2 + fibre_radius
        v_ext = float(np.prod(size + 2 * reach))
        v_fibre = math.pi * fibre_radius**2 * fibre_length + 4 / 3 * math.pi * fibre_radius**3
        n = int(rng.poisson(-math.log1p(-fibre_fraction) * v_ext / v_fibre))
        preferred = rng.normal(size=3)
        preferred /= np.linalg.norm(preferred)
        dirs = preferred + fibre_spread * rng.normal(size=(n, 3))
        dirs /= np.maximum(np.linalg.norm(dirs, axis=1, keepdims=True), 1e-12)
        centres = rng.uniform(-reach, size + reach, size=(n, 3))
        self.p0 = centres - fibre_length / 2 * dirs
        self.dirs = dirs
        p1 = self.p0 + fibre_length * dirs
        self.fibre_lo = np.minimum(self.p0, p1) - fibre_radius
        self.fibre_hi = np.maximum(self.p0, p1) + fibre_radius

        # Pores: a Boolean model of ellipsoids, kept only in the matrix, so the expected pore
        # fraction is (1 - fibre_fraction) * (1 - exp(-n v / V)) = pore_fraction.
        in_matrix = pore_fraction / (1.0 - fibre_fraction)
        reach = (1 + _PORE_SPREAD) * pore_radius
        v_ext = float(np.prod(size + 2 * reach))
        n = int(rng.poisson(-math.log1p(-in_matrix) * v_ext / (4 / 3 * math.pi * pore_radius**3)))
        self.pore_centres = rng.uniform(-reach, size + reach, size=(n, 3))
        self.pore_semi, self.pore_orientation = random_ellipsoids(
            rng, n, 3, radius=pore_radius, spread=_PORE_SPREAD
        )
        self.pore_reach = reach

        # Ring artefacts: miscalibrated detector pixels give rings around the rotation (z) axis.
        self.ring_centre = ((shape[1] - 1) / 2, (shape[2] - 1) / 2)
        r_max = math.hypot(*self.ring_centre) + 2
        n = int(rng.poisson(r_max / _RING_SPACING)) if ring_amplitude > 0 else 0
        self.ring_radius = rng.uniform(0.0, r_max, size=n)
        self.ring_width = rng.uniform(0.6, 1.6, size=n)
        self.ring_amplitude = ring_amplitude * rng.normal(size=n)
        self.texture_key = stream_key(seed, 1)

    def render(self, lo: Point, hi: Point) -> tuple[FloatArray, np.ndarray]:
        region = tuple(b - a for a, b in zip(lo, hi, strict=True))
        fibre = np.zeros(region, dtype=bool)
        last = np.asarray(hi) - 1
        hit = np.all((self.fibre_hi >= lo) & (self.fibre_lo <= last), axis=1)
        for k in np.flatnonzero(hit):
            _capsule(fibre, lo, hi, self.p0[k], self.dirs[k], self.length, self.radius)
        pore = np.zeros(region, dtype=bool)
        c, r = self.pore_centres, self.pore_reach
        hit = np.flatnonzero(np.all((c + r >= lo) & (c - r <= last), axis=1))
        forms, extents = ellipsoid_forms(self.pore_semi[hit], self.pore_orientation[hit])
        for k, form, extent in zip(hit, forms, extents, strict=True):
            found = ellipsoid_q(c[k], form, extent, lo, hi)
            if found is not None:
                box, q = found
                pore[box] |= q <= 1.0
        labels = np.zeros(region, dtype=np.uint8)
        labels[pore] = 2
        labels[fibre] = 1
        texture = value_noise(self.texture_key, lo, hi, scale=_TEXTURE_SCALE)
        intensity = self.levels[labels] + _TEXTURE_AMPLITUDE * texture * (labels == 0)
        return intensity, labels

    def rings(self, lo: Point, hi: Point) -> FloatArray:
        """Ring artefacts on the (y, x) plane of the block, the same on every slice."""
        y = np.arange(lo[1], hi[1], dtype=np.float64) - self.ring_centre[0]
        x = np.arange(lo[2], hi[2], dtype=np.float64) - self.ring_centre[1]
        rho = np.sqrt(y[:, None] ** 2 + x[None, :] ** 2)
        out = np.zeros_like(rho)
        r_min, r_max = float(rho.min()), float(rho.max())
        for r0, w, amp in zip(self.ring_radius, self.ring_width, self.ring_amplitude, strict=True):
            if r0 + w < r_min or r0 - w > r_max:
                continue  # the profile is exactly 0 there: skipping it changes no value
            u = (rho - r0) / w
            out = out + amp * np.where(np.abs(u) < 1.0, (1.0 - u * u) ** 2, 0.0)
        return out[None]


def make_composite(
    shape: Sequence[int] = (64, 128, 128),
    *,
    seed: int = 0,
    chunks: int | Sequence[int] | None = None,
    fibre_fraction: float = 0.35,
    fibre_radius: float = 4.0,
    fibre_length: float = 80.0,
    fibre_spread: float = 0.25,
    pore_fraction: float = 0.04,
    pore_radius: float = 5.0,
    blur_sigma: float = 1.0,
    noise_std: float = 10.0,
    ring_amplitude: float = 8.0,
    levels: Sequence[float] = tuple(_LEVELS),
) -> SyntheticVolume:
    """A glass-fibre reinforced polymer imaged by X-ray CT, with semantic ground truth.

    Models the kind of volume segmented in the tomo2seg paper: a grey polymer matrix (class 0)
    holding glass fibres (class 1), straight cylinders with rounded ends that may overlap, most
    aligned with one random preferred direction, and gas pores (class 2), randomly oriented
    ellipsoids that only replace matrix. Fibres and pores are Boolean models whose object counts
    are Poisson, chosen from the volume so that the expected fractions are ``fibre_fraction`` and
    ``pore_fraction``. The image has fibres bright (190), matrix mid-grey (110, lightly
    textured) and pores dark (40), a Gaussian blur (the CT point-spread function), ring
    artefacts (sharp concentric rings of random radius and sign around the central z axis, the
    same on every slice) and Gaussian noise.

    Everything is generated lazily, block by block; the result does not depend on ``chunks``.

    Parameters
    ----------
    shape : sequence of 2 or 3 int
        ``(Z, Y, X)``; a 2-D ``(Y, X)`` shape gives one slice through such a volume.
    seed : int
        Seed of every random choice; the same seed gives identical arrays.
    chunks : int or sequence of int, optional
        Dask chunk size; default 64 per axis in 3-D, 256 in 2-D, clipped to ``shape``.
    fibre_fraction : float
        Expected fibre volume fraction, in (0, 1).
    fibre_radius, fibre_length : float
        Fibre radius and length (of the straight part) in voxels, > 0.
    fibre_spread : float
        Scatter of fibre directions around the preferred one (about the angle's standard
        deviation in radians for small values), >= 0.
    pore_fraction : float
        Expected pore volume fraction, in (0, 1); ``fibre_fraction + pore_fraction < 1``.
    pore_radius : float
        Mean pore semi-axis in voxels (each semi-axis varies by +-30 %), > 0.
    blur_sigma : float
        Standard deviation of the Gaussian blur in voxels, >= 0.
    noise_std : float
        Standard deviation of the additive Gaussian noise in grey levels, >= 0.
    ring_amplitude : float
        Standard deviation of the ring artefacts' peak amplitude in grey levels, >= 0.
    levels : sequence of 3 float
        Grey levels of matrix, fibre and pore before blur and noise, in [0, 255] (default
        110, 190, 40); e.g. ``(120, 160, 60)`` for a lower-contrast scan.

    Returns
    -------
    SyntheticVolume
        uint8 ``image`` and uint8 ``labels`` (0 matrix, 1 fibre, 2 pore).

    Examples
    --------
    >>> vol = make_composite((32, 64, 64), seed=1)
    >>> vol.image.dtype, vol.labels.dtype, vol.classes[1]
    (dtype('uint8'), dtype('uint8'), 'fibre')
    """
    shape = check_shape(shape)
    chunk_size = resolve_chunks(chunks, shape)
    seed = check_seed(seed)
    fibre_fraction = check_fraction(fibre_fraction, name="fibre_fraction")
    pore_fraction = check_fraction(pore_fraction, name="pore_fraction")
    if fibre_fraction + pore_fraction >= 1.0:
        raise ValueError(
            f"fibre_fraction + pore_fraction must be < 1, got {fibre_fraction} + {pore_fraction}"
        )
    params: dict[str, Any] = {
        "fibre_fraction": fibre_fraction,
        "fibre_radius": check_positive(fibre_radius, name="fibre_radius"),
        "fibre_length": check_positive(fibre_length, name="fibre_length"),
        "fibre_spread": check_non_negative(fibre_spread, name="fibre_spread"),
        "pore_fraction": pore_fraction,
        "pore_radius": check_positive(pore_radius, name="pore_radius"),
        "ring_amplitude": check_non_negative(ring_amplitude, name="ring_amplitude"),
        "levels": _check_levels(levels),
    }

    # A 2-D shape is the slice z = 0 of a volume one voxel thick.
    shape3 = (1, *shape) if len(shape) == 2 else shape
    chunks3 = (1, *chunk_size) if len(shape) == 2 else chunk_size
    renderer = _CompositeRenderer(shape3, seed, **params)
    vol = lazy_volume(
        renderer.render,
        kind="composite",
        shape=shape3,
        chunks=chunks3,
        seed=seed,
        params=params,
        blur_sigma=blur_sigma,
        noise_std=noise_std,
        label_dtype=np.uint8,
        classes=dict(_CLASSES),
        after_blur=renderer.rings if params["ring_amplitude"] > 0 else None,
    )
    if len(shape) == 2:
        vol = replace(vol, image=vol.image[0], labels=vol.labels[0], voxel_size=(1.0, 1.0))
    return vol
