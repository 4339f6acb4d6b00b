"""The network's input for any region of a volume: normalised image and derived channels.

Whole-volume values that every block must share are computed once, in one or two passes over
the (lazy) volume: the normalisation range (``NormSpec``: percentiles from a histogram, exact
for 8- and 16-bit images) and, for each enhancement channel, its :class:`~stratoseg.enhance.
Globals`. Image channels are normalised; enhancement channels are used as computed (their
scale is fixed by their parameters: the image in [0, 1] plus clipped, scaled distances).

Outside the volume every channel is extended by repeating its edge voxels; an enhancement
channel is computed inside the volume (with its own halo, clipped to the volume) and extended
afterwards, so a block sees exactly the channel of the whole volume.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np

from stratoseg._blocks import group_chunks
from stratoseg.enhance import EnhanceParams, Globals, enhance_array, global_values, halo
from stratoseg.inference._block import read_extended, split_region

__all__ = ["InputReader", "NetworkInput", "normalisation_range"]

_FLOAT_BINS = 65536
_COUNT_STEP = 2**20  # values counted per numpy.bincount call (8 MiB of intp temporaries)


#: Bytes of one piece of a whole-volume pass over a stored array (see :func:`coarse`).
PASS_BYTES = 8 * 2**20


def coarse(array: Any, nbytes: int = PASS_BYTES) -> da.Array:
    """A stored (e.g. zarr) array as a dask array of pieces of whole storage chunks, about
    ``nbytes`` each (:func:`stratoseg._blocks.group_chunks`): a pass over the volume is a few
    large reads rather than a task per storage chunk, with a few pieces in memory at a time.

    Examples
    --------
    >>> import zarr
    >>> z = zarr.zeros((512, 512, 512), chunks=(64, 64, 64), dtype="uint8")
    >>> coarse(z).chunksize
    (192, 192, 192)
    """
    shape = tuple(int(n) for n in array.shape)
    chunks = tuple(int(c) for c in getattr(array, "chunks", shape))
    piece = group_chunks(shape, chunks, halo=(0,) * len(shape),
                         bytes_per_voxel=np.dtype(array.dtype).itemsize, budget=nbytes)  # fmt: skip
    return da.from_array(array, chunks=piece, inline_array=True)


def _shifted(flat: np.ndarray) -> np.ndarray:
    """A flat (u)int8/16 or bool array as unsigned ``value - dtype minimum`` (no copy for
    unsigned and bool; signed: the sign bit flipped, which is two's complement's shift)."""
    if flat.dtype.kind == "i":
        unsigned = flat.view(f"u{flat.dtype.itemsize}")
        return unsigned ^ np.array(1 << (8 * flat.dtype.itemsize - 1), unsigned.dtype)
    return flat.view(np.uint8) if flat.dtype.kind == "b" else flat


def _block_sums(data: da.Array, count: Any, size: int) -> np.ndarray:
    """``sum(count(piece))`` over the whole lazy array, ``count`` taking flat pieces of at
    most ``_COUNT_STEP`` values (numpy's counting functions cast to intp or float64, so
    their temporaries stay a few MiB whatever the chunk) and giving ``size`` counts: one
    vector per chunk, summed by dask's tree reduction."""

    def per_block(block: np.ndarray) -> np.ndarray:
        flat = block.reshape(-1)
        total = np.zeros(size, np.intp)
        for a in range(0, flat.size, _COUNT_STEP):
            total += count(flat[a : a + _COUNT_STEP])
        return total.reshape((1,) * block.ndim + (-1,))

    sums = da.map_blocks(
        per_block,
        data,
        new_axis=data.ndim,
        chunks=(*((1,) * len(c) for c in data.chunks), (size,)),
        dtype=np.intp,
    )
    return np.asarray(sums.sum(axis=tuple(range(data.ndim))).compute())


def _value_counts(data: da.Array) -> np.ndarray:
    """Counts of every value of a (u)int8/16 or bool lazy array, from the dtype's minimum.

    ``numpy.bincount`` per chunk: a fifth of the time of ``dask.array.bincount``, which
    first casts the whole volume to int64.

    Examples
    --------
    >>> _value_counts(da.from_array(np.array([-128, 0, 0, 127], np.int8)))[[0, 128, 255]].tolist()
    [1, 2, 1]
    """
    size = 1 << (8 * data.dtype.itemsize)
    return _block_sums(data, lambda flat: np.bincount(_shifted(flat), minlength=size), size)


def _percentiles(data: da.Array, low: float, high: float) -> tuple[float, float]:
    """Two percentiles of a lazy array: exact for (u)int8/16, histogram-based otherwise."""
    if data.dtype.kind in "uib" and data.dtype.itemsize <= 2:
        info = np.iinfo(data.dtype if data.dtype != bool else np.uint8)
        cum = np.cumsum(_value_counts(data))
        total = int(cum[-1])
        values = []
        for q in (low, high):
            rank = q / 100 * (total - 1)  # numpy's "linear" definition, on the sorted values
            lo_i, hi_i = (
                int(np.searchsorted(cum, math.floor(rank) + 1)),
                int(np.searchsorted(cum, math.ceil(rank) + 1)),
            )
            frac = rank - math.floor(rank)
            values.append(float(info.min) + lo_i + frac * (hi_i - lo_i))
        return values[0], values[1]
    lo, hi = (float(v) for v in da.compute(data.min(), data.max()))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("the image contains NaN or infinite values; clean it first")
    if hi <= lo:
        return lo, hi
    edges = np.linspace(lo, hi, _FLOAT_BINS + 1)  # numpy.histogram's own bins
    cum = np.cumsum(
        _block_sums(
            data, lambda flat: np.histogram(flat, bins=_FLOAT_BINS, range=(lo, hi))[0], _FLOAT_BINS
        )
    )
    out = []
    for q in (low, high):
        target = q / 100 * cum[-1]
        i = int(np.searchsorted(cum, target))
        out.append(float(edges[min(i + 1, _FLOAT_BINS)]))
    return out[0], out[1]


def normalisation_range(data: da.Array | np.ndarray, spec: Any) -> tuple[float, float]:
    """``(low, high)`` values that map to 0 and 1 for a ``NormSpec`` (kind "none": (0, 1)).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> spec = SimpleNamespace(kind="percentile", low=10, high=90)
    >>> normalisation_range(np.arange(101, dtype=np.uint8), spec)
    (10.0, 90.0)
    """
    arr = data if isinstance(data, da.Array) else da.from_array(np.asarray(data))
    kind = spec.kind
    if kind == "none":
        return 0.0, 1.0
    if kind == "fixed":
        return float(spec.low), float(spec.high)
    if kind == "minmax":
        lo, hi = (float(v) for v in da.compute(arr.min(), arr.max()))
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError("the image contains NaN or infinite values; clean it first")
        return lo, hi
    if kind == "percentile":
        return _percentiles(arr, float(spec.low), float(spec.high))
    raise ValueError(f"unknown normalisation kind {kind!r}")


class InputReader:
    """``reader(region) -> (C, *region)`` network input for a volume and a model card (a
    :class:`NetworkInput`: float32 windows, image channels held in the image's dtype).

    Parameters
    ----------
    data : (Z, Y, X) or (Y, X) array
        The raw image (numpy, dask or zarr); read only region by region.
    channels : sequence
        The card's ``input.channels`` (``source`` "image" or "enhance" with ``params``).
    normalisation : NormSpec
        The card's ``input.normalisation``.
    voxel_size : sequence of float
        Spatial voxel size (for enhancement channels).
    array : array-like, optional
        The stored array behind ``data`` (e.g. :attr:`stratoseg.io.Volume.array`), the same
        values: regions are read from it directly, without dask's task graph, and ``data``
        serves the whole-volume passes.
    """

    def __init__(
        self,
        data: Any,
        channels: Sequence[Any],
        normalisation: Any,
        voxel_size: Sequence[float],
        *,
        array: Any = None,
    ) -> None:
        if array is not None and tuple(array.shape) != tuple(data.shape):
            raise ValueError(f"array of shape {array.shape} is not the data of shape {data.shape}")
        self.data = data if array is None else array
        if array is not None:  # whole-volume passes in a few pieces of whole chunks
            lazy = coarse(array)
        else:
            lazy = data if isinstance(data, da.Array) else da.from_array(data)
        if lazy.dtype.kind not in "biuf":
            raise TypeError(f"the image must be a bool, integer or float array, got {lazy.dtype}")
        self.voxel_size = tuple(float(v) for v in voxel_size)
        self.low, self.high = normalisation_range(lazy, normalisation)
        span = self.high - self.low
        self.scale = 1.0 / span if span > 0 else 1.0
        self.channels: list[tuple[str, EnhanceParams | None, Globals | None]] = []
        for spec in channels:
            if spec.source == "image":
                self.channels.append(("image", None, None))
                continue
            params = EnhanceParams(**spec.params)
            if params.max_distance is None:
                raise ValueError(
                    "an enhancement input channel must be clipped (max_distance) to be computed "
                    "block by block; this model's channel is not"
                )
            self.channels.append(("enhance", params, global_values(lazy, params)))

    @property
    def values(self) -> dict[str, Any]:
        """The whole-volume values, for the run's attributes."""
        return {
            "normalisation": [self.low, self.high],
            "enhance_globals": [
                None if g is None else [g.lo, g.hi, g.threshold] for _, _, g in self.channels
            ],
        }

    def __call__(self, region: Sequence[slice]) -> NetworkInput:
        """The input of ``region`` (edge-extended outside the volume), image channels still
        in the image's dtype: windows cut from it are normalised (see :class:`NetworkInput`)."""
        region = tuple(region)
        parts: list[np.ndarray] = []
        affine: list[tuple[np.float32, np.float32] | None] = []
        raw = None
        for kind, params, g in self.channels:
            if kind == "image":
                if raw is None:
                    raw = read_extended(self.data, region)
                    if raw.dtype.kind == "f" and not np.isfinite(raw).all():
                        where = ", ".join(f"{r.start}:{r.stop}" for r in region)
                        raise ValueError(
                            f"the image contains NaN or infinite values (in region [{where}]); "
                            "clean it first"
                        )
                parts.append(raw)
                affine.append((np.float32(self.low), np.float32(self.scale)))
            else:
                assert params is not None
                assert g is not None
                parts.append(self._enhanced(region, params, g))
                affine.append(None)
        return NetworkInput(parts, affine)

    def _enhanced(self, region: tuple[slice, ...], params: EnhanceParams, g: Globals) -> np.ndarray:
        """The enhancement channel over ``region``: computed on the region's part inside the
        volume plus the channel's halo (clipped to the volume), cropped, edge-extended."""
        shape = tuple(int(n) for n in self.data.shape)
        margin = halo(params, self.voxel_size)
        inside, pad = split_region(region, shape)
        wide = tuple(
            slice(max(s.start - m, 0), min(s.stop + m, n))
            for s, m, n in zip(inside, margin, shape, strict=True)
        )
        block = np.asarray(self.data[wide])
        channel = enhance_array(block, params, voxel_size=self.voxel_size, globals_=g)
        core = channel[
            tuple(
                slice(s.start - w.start, s.stop - w.start)
                for s, w in zip(inside, wide, strict=True)
            )
        ]
        return np.pad(core, pad, mode="edge") if any(p for pr in pad for p in pr) else core


class NetworkInput:
    """The network input of one region, ``(C, *region)`` float32, held compactly.

    Image channels stay in the image's own dtype (1 byte per voxel for uint8 instead of 4)
    and are normalised, ``(x - low) * scale`` in float32, only as windows are cut from the
    region (``self[...]``), with the same operations on the same values as normalising the
    whole region first: the numbers are identical. A block thus holds its input region at
    the image's size, plus one batch of windows in float32.

    Parameters
    ----------
    channels : list of (*region) ndarray
        One array per input channel.
    affine : list of (low, scale) or None
        Per channel: the normalisation, or None for a channel used as it is (enhancement
        channels, already float32).

    Examples
    --------
    >>> x = NetworkInput([np.array([[0, 10], [20, 40]], np.uint8)], [(10.0, 0.1)])
    >>> x.shape, x[:, 1:, :].tolist()
    ((1, 2, 2), [[[1.0, 3.0]]])
    """

    def __init__(
        self,
        channels: Sequence[np.ndarray],
        affine: Sequence[tuple[Any, Any] | None],
    ) -> None:
        if len(channels) != len(affine) or not channels:
            raise ValueError("one affine (or None) per channel, and at least one channel")
        self.channels = list(channels)
        self.affine = [None if a is None else (np.float32(a[0]), np.float32(a[1])) for a in affine]
        self.shape = (len(self.channels), *self.channels[0].shape)
        self.dtype = np.dtype(np.float32)

    @property
    def nbytes(self) -> int:
        """Bytes held (each image channel array counted once)."""
        return sum({id(c): c.nbytes for c in self.channels}.values())

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        """``(C, *window)`` float32 for ``key = (slice(None), *spatial slices)``."""
        if not isinstance(key, tuple) or not key or key[0] != slice(None):
            raise IndexError(f"index as [:, spatial slices...], got {key!r}")
        out = np.empty((len(self.channels), *self.channels[0][key[1:]].shape), np.float32)
        return self.cut(key, out=out)

    def cut(self, key: tuple[slice, ...], *, out: np.ndarray) -> np.ndarray:
        """``self[key]`` written into ``out`` (``(C, *window)`` float32), with no copy between."""
        if not isinstance(key, tuple) or not key or key[0] != slice(None):
            raise IndexError(f"index as [:, spatial slices...], got {key!r}")
        spatial = key[1:]
        for c, (values, affine) in enumerate(zip(self.channels, self.affine, strict=True)):
            dst = out[c]
            if affine is None:
                dst[...] = values[spatial]
            else:  # float32(x) - low, then * scale: the cast and the subtraction in one pass
                np.subtract(values[spatial], affine[0], out=dst, dtype=np.float32)
                dst *= affine[1]
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        whole = self[(slice(None),)]
        return whole if dtype is None else whole.astype(dtype)
