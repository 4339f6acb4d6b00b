"""Shared machinery of the synthetic generators: validation, counter-based noise, lazy blocks.

Every generator draws its objects once from ``np.random.default_rng(seed)`` and hands a
``render(lo, hi)`` callable to :func:`lazy_volume`. Each dask block then renders only the region
it needs (the block plus a blur halo, clipped to the volume), blurs, crops, and adds per-voxel
noise that comes from a counter-based hash of ``(seed, stream, global coordinates)``, never from a
per-block generator. Every voxel's value is therefore a function of its global position only and
the arrays are identical whatever the chunking.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize
from numpy.typing import NDArray
from scipy import ndimage

from stratoseg._errors import check_positive_ints

__all__ = [
    "SyntheticVolume",
    "check_fraction",
    "check_non_negative",
    "check_positive",
    "check_seed",
    "check_shape",
    "ellipsoid_forms",
    "ellipsoid_q",
    "hash_normal",
    "lazy_volume",
    "random_ellipsoids",
    "random_orientations",
    "resolve_chunks",
    "rotations",
    "stream_key",
    "value_noise",
]

FloatArray = NDArray[np.float64]
Point = tuple[int, ...]
#: ``render(lo, hi) -> (intensity, labels)`` over the region ``[lo, hi)`` in global coordinates.
RenderFn = Callable[[Point, Point], tuple[FloatArray, NDArray[Any]]]
#: ``after_blur(lo, hi) -> term`` added to the blurred block (broadcastable to the block).
AfterBlurFn = Callable[[Point, Point], FloatArray]

#: Gaussian blur kernels are cut at this many standard deviations (the halo follows).
BLUR_TRUNCATE = 4.0
_DEFAULT_CHUNK = {2: 256, 3: 64}

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


@dataclass(frozen=True)
class SyntheticVolume:
    """A lazily generated image with its ground truth.

    Attributes
    ----------
    image : (Z, Y, X) or (Y, X) dask array of uint8
        The synthetic image.
    labels : dask array, same shape as ``image``
        Ground truth: uint8 semantic classes (composite) or uint32 instance ids (cells,
        membranes), 0 meaning the class named ``classes[0]``.
    kind : str
        ``"composite"``, ``"cells"`` or ``"membranes"``.
    classes : dict of int to str
        Meaning of the semantic label values (for instances only 0 is named).
    voxel_size : tuple of float
        Voxel size per axis (1.0: the generators have no physical unit).
    """

    image: da.Array
    labels: da.Array
    kind: str
    classes: dict[int, str]
    voxel_size: tuple[float, ...]


# --------------------------------------------------------------------------- validation


def check_shape(shape: Any) -> tuple[int, ...]:
    """Return ``shape`` as a tuple of 2 or 3 positive ints, else raise ``ValueError``."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) not in (2, 3):
        raise ValueError(f"shape must be a sequence of 2 or 3 positive integers, got {shape!r}")
    return check_positive_ints(list(shape), name="shape", ndim=len(shape))


def resolve_chunks(chunks: int | Sequence[int] | None, shape: Point) -> Point:
    """Chunk sizes for ``shape``: 64^3 in 3-D and 256^2 in 2-D by default, clipped to ``shape``."""
    ndim = len(shape)
    iterable = hasattr(chunks, "__iter__") and not isinstance(chunks, (str, bytes))
    if chunks is not None and not (iterable or isinstance(chunks, (int, np.integer))):
        raise ValueError(f"chunks must be positive integers, got {chunks!r}")
    size = check_positive_ints(
        _DEFAULT_CHUNK[ndim] if chunks is None else chunks, name="chunks", ndim=ndim
    )
    return tuple(min(c, n) for c, n in zip(size, shape, strict=True))


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)


def check_fraction(value: Any, *, name: str) -> float:
    """Return ``value`` as a float strictly between 0 and 1, else raise ``ValueError``."""
    out = _real(value, name)
    if not 0.0 < out < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return out


def check_positive(value: Any, *, name: str) -> float:
    """Return ``value`` as a finite float > 0, else raise ``ValueError``."""
    out = _real(value, name)
    if out <= 0.0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return out


def check_non_negative(value: Any, *, name: str) -> float:
    """Return ``value`` as a finite float >= 0, else raise ``ValueError``."""
    out = _real(value, name)
    if out < 0.0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return out


def check_seed(seed: Any) -> int:
    """Return ``seed`` as a non-negative int, else raise ``ValueError``."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


# --------------------------------------------------------------------------- counter-based noise


def _mix_int(x: int) -> int:
    """The splitmix64 finaliser on a Python int (for keys, so no numpy scalar overflow)."""
    x &= _MASK64
    x = ((x ^ (x >> 30)) * _MIX1) & _MASK64
    x = ((x ^ (x >> 27)) * _MIX2) & _MASK64
    return x ^ (x >> 31)


def _mix(h: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """The splitmix64 finaliser on a uint64 array (wrapping arithmetic)."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(_MIX1)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(_MIX2)
    return h ^ (h >> np.uint64(31))


def stream_key(seed: int, stream: int) -> int:
    """A 64-bit key for one independent noise stream (noise, texture, ...) of one seed."""
    return _mix_int(_mix_int(seed + _GOLDEN) + (stream + 1) * _GOLDEN)


def _hash_region(key: int, lo: Point, hi: Point) -> NDArray[np.uint64]:
    """One 64-bit hash per integer point of ``[lo, hi)``: mix(... mix(mix(key + z) + y) ... + x)."""
    ndim = len(lo)
    h = np.full((1,) * ndim, key, dtype=np.uint64)
    for axis in range(ndim):
        coords = np.arange(lo[axis], hi[axis], dtype=np.int64).astype(np.uint64)
        h = _mix(h + coords.reshape(_axis_shape(ndim, axis)) * np.uint64(_GOLDEN))
    return h


def hash_normal(key: int, lo: Point, hi: Point) -> FloatArray:
    """Standard normal values for the integer points of ``[lo, hi)``, a function of position only.

    The 64-bit hash of each point gives two 32-bit uniforms in (0, 1), turned into one normal
    value by Box-Muller.

    Examples
    --------
    >>> a = hash_normal(stream_key(0, 0), (0, 0), (4, 6))
    >>> b = hash_normal(stream_key(0, 0), (2, 3), (4, 6))
    >>> bool((a[2:, 3:] == b).all())
    True
    """
    h = _hash_region(key, lo, hi)
    u1 = ((h >> np.uint64(32)).astype(np.float64) + 0.5) * 2.0**-32
    u2 = ((h & np.uint64(0xFFFFFFFF)).astype(np.float64) + 0.5) * 2.0**-32
    return np.sqrt(-2.0 * np.log(u1)) * np.cos((2.0 * math.pi) * u2)


def value_noise(key: int, lo: Point, hi: Point, *, scale: float) -> FloatArray:
    """Smooth random texture over ``[lo, hi)``: normal values on a lattice of spacing ``scale``,
    interpolated with smoothstep weights, axis by axis.

    Point-wise (no halo needed) and chunk-independent; the values have mean 0 and a standard
    deviation of about 0.6.
    """
    ndim = len(lo)
    n_lo = tuple(math.floor(a / scale) for a in lo)
    n_hi = tuple(math.floor((b - 1) / scale) + 2 for b in hi)
    out = hash_normal(key, n_lo, n_hi)
    for axis in range(ndim):
        x = np.arange(lo[axis], hi[axis], dtype=np.float64) / scale
        f = np.floor(x)
        t = x - f
        w = (t * t * (3.0 - 2.0 * t)).reshape(_axis_shape(ndim, axis))
        i = f.astype(np.int64) - n_lo[axis]
        a = np.take(out, i, axis=axis)
        b = np.take(out, i + 1, axis=axis)
        out = a + (b - a) * w
    return out


# --------------------------------------------------------------------------- ellipsoids


def random_orientations(rng: np.random.Generator, n: int, ndim: int) -> FloatArray:
    """Uniformly random rotations: ``(cos, sin)`` of an angle in 2-D, (n, 2); a Gaussian
    quaternion in 3-D, (n, 4). Turn them into matrices with :func:`rotations`."""
    if ndim == 2:
        angle = rng.uniform(0.0, 2 * math.pi, size=n)
        return np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return rng.normal(size=(n, 4))


def rotations(orientation: FloatArray) -> FloatArray:
    """(n, ndim, ndim) rotation matrices from :func:`random_orientations`.

    Only arithmetic and square roots (correctly rounded), so an object gets the same matrix
    whichever subset of objects it is computed with.
    """
    if orientation.shape[1] == 2:
        c, s = orientation[:, 0], orientation[:, 1]
        return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    w, x, y, z = (orientation / np.sqrt((orientation**2).sum(axis=1, keepdims=True))).T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def random_ellipsoids(
    rng: np.random.Generator, n: int, ndim: int, *, radius: float, spread: float
) -> tuple[FloatArray, FloatArray]:
    """Draw the semi-axes, (n, ndim), and orientations of ``n`` random ellipsoids.

    Semi-axes are ``radius * U(1 - spread, 1 + spread)`` each, so their product has mean
    ``radius ** ndim``. See :func:`ellipsoid_forms` for their geometry.
    """
    semi = radius * rng.uniform(1.0 - spread, 1.0 + spread, size=(n, ndim))
    return semi, random_orientations(rng, n, ndim)


def ellipsoid_forms(semi: FloatArray, orientation: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Quadratic forms ``A``, (n, ndim, ndim), such that an ellipsoid centred at ``c`` is
    ``(x - c)^T A (x - c) <= 1``, and the half-widths of their bounding boxes, (n, ndim)."""
    rot = rotations(orientation)
    forms = (rot[:, :, None, :] * semi[:, None, None, :] ** -2.0 * rot[:, None, :, :]).sum(-1)
    extents = np.sqrt((rot**2 * semi[:, None, :] ** 2).sum(axis=2))
    return forms, extents


def ellipsoid_q(
    centre: FloatArray, form: FloatArray, extent: FloatArray, lo: Point, hi: Point
) -> tuple[tuple[slice, ...], FloatArray] | None:
    """``(x - c)^T A (x - c)`` on the part of the ellipsoid's bounding box inside ``[lo, hi)``.

    Returns the slices of that box relative to ``lo`` and the quadratic form there, or ``None``
    when the box misses the region. The sum runs in a fixed order, term by term, so a voxel gets
    the same value whatever region it is computed in.
    """
    ndim = len(lo)
    start = [max(lo[a], math.ceil(centre[a] - extent[a])) for a in range(ndim)]
    stop = [min(hi[a], math.floor(centre[a] + extent[a]) + 1) for a in range(ndim)]
    if any(b <= a for a, b in zip(start, stop, strict=True)):
        return None
    diff = [
        (np.arange(start[a], stop[a], dtype=np.float64) - centre[a]).reshape(_axis_shape(ndim, a))
        for a in range(ndim)
    ]
    q = form[0, 0] * diff[0] * diff[0]
    for a in range(1, ndim):
        q = q + form[a, a] * diff[a] * diff[a]
    for a in range(ndim):
        for b in range(a + 1, ndim):
            q = q + 2.0 * form[a, b] * diff[a] * diff[b]
    box = tuple(slice(s - o, e - o) for s, e, o in zip(start, stop, lo, strict=True))
    return box, np.broadcast_to(q, tuple(e - s for s, e in zip(start, stop, strict=True)))


# --------------------------------------------------------------------------- lazy blocks


def _axis_shape(ndim: int, axis: int) -> tuple[int, ...]:
    return tuple(-1 if a == axis else 1 for a in range(ndim))


def blur_halo(sigma: float) -> int:
    """Half-width of the Gaussian kernel of ``sigma`` (scipy's ``int(truncate * sigma + 0.5)``)."""
    return int(BLUR_TRUNCATE * sigma + 0.5) if sigma > 0 else 0


@dataclass(frozen=True)
class _BlockFunction:
    """Render one block: region = block + halo (clipped), blur, crop, add terms, quantise.

    Returns ``(2, *block)`` uint32: the uint8 image and the labels stacked.
    """

    render: RenderFn
    shape: Point
    starts: list[list[int]]  # per axis, where each chunk starts (and the end)
    blur_sigma: float
    noise_key: int
    noise_std: float
    after_blur: AfterBlurFn | None

    def __call__(self, block_id: tuple[int, ...]) -> NDArray[np.uint32]:
        ids = block_id[1:]  # the first axis stacks image and labels
        blo = tuple(int(s[i]) for s, i in zip(self.starts, ids, strict=True))
        bhi = tuple(int(s[i + 1]) for s, i in zip(self.starts, ids, strict=True))
        halo = blur_halo(self.blur_sigma)
        rlo = tuple(max(0, a - halo) for a in blo)
        rhi = tuple(min(n, b + halo) for b, n in zip(bhi, self.shape, strict=True))
        intensity, labels = self.render(rlo, rhi)
        if self.blur_sigma > 0:
            intensity = ndimage.gaussian_filter(
                intensity, self.blur_sigma, mode="reflect", truncate=BLUR_TRUNCATE
            )
        crop = tuple(slice(a - r, b - r) for a, b, r in zip(blo, bhi, rlo, strict=True))
        image = intensity[crop]
        if self.after_blur is not None:
            image = image + self.after_blur(blo, bhi)
        if self.noise_std > 0:
            image = image + self.noise_std * hash_normal(self.noise_key, blo, bhi)
        out = np.empty((2, *image.shape), dtype=np.uint32)
        out[0] = np.clip(np.rint(image), 0, 255)
        out[1] = labels[crop]
        return out


def lazy_volume(
    render: RenderFn,
    *,
    kind: str,
    shape: Point,
    chunks: Point,
    seed: int,
    params: Any,
    blur_sigma: float,
    noise_std: float,
    label_dtype: type[np.unsignedinteger[Any]],
    classes: dict[int, str],
    after_blur: AfterBlurFn | None = None,
) -> SyntheticVolume:
    """Wrap ``render`` into a :class:`SyntheticVolume` of lazy ``shape``/``chunks`` arrays.

    ``render(lo, hi)`` returns the unblurred intensity (float64) and the labels of the region
    ``[lo, hi)``; both must depend on the global position of each voxel only. ``params`` (all
    that determines the result besides ``kind``, ``shape`` and ``seed``) names the dask keys.
    ``blur_sigma`` and ``noise_std`` are validated here (>= 0).
    """
    blur_sigma = check_non_negative(blur_sigma, name="blur_sigma")
    noise_std = check_non_negative(noise_std, name="noise_std")
    dask_chunks = da.core.normalize_chunks(chunks, shape)
    starts = [np.cumsum((0, *c)).tolist() for c in dask_chunks]
    block = _BlockFunction(
        render, shape, starts, blur_sigma, stream_key(seed, 0), noise_std, after_blur
    )
    token = tokenize(kind, shape, chunks, seed, params, blur_sigma, noise_std)
    combined = da.map_blocks(
        block,
        chunks=((2,), *dask_chunks),
        dtype=np.uint32,
        meta=np.empty((0,) * (len(shape) + 1), dtype=np.uint32),
        name=f"stratoseg-synthetic-{kind}-{token}",
    )
    dtypes: tuple[np.dtype[Any], ...] = (np.dtype(np.uint8), np.dtype(label_dtype))
    image, labels = (
        combined.map_blocks(
            _take, i, dt, drop_axis=0, dtype=dt, meta=np.empty((0,) * len(shape), dtype=dt)
        )
        for i, dt in enumerate(dtypes)
    )
    return SyntheticVolume(
        image=image, labels=labels, kind=kind, classes=dict(classes), voxel_size=(1.0,) * len(shape)
    )


def _take(stacked: NDArray[Any], index: int, dtype: Any) -> NDArray[Any]:
    """One of the stacked image/labels of a block, as ``dtype``."""
    return stacked[index].astype(dtype)
