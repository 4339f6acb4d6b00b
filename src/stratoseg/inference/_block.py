"""Predict one block: read its input region once, run the windows in batches, assemble.

``predict`` is any callable from a batch of windows ``(B, C, *window)`` to class probabilities
``(B, K, *out_window)`` (``out_window`` is the window, except 1 along a context axis): the
network, the device and the precision live behind it (``_predictor.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import dask.array as da
import numpy as np

from stratoseg._memory import empty
from stratoseg.inference._tiling import Axis, Tiling, Window, gaussian_weights, plan_block

__all__ = [
    "Predict",
    "Read",
    "Sink",
    "input_region",
    "predict_block",
    "predict_block_into",
    "read_extended",
]

Predict = Callable[[np.ndarray], np.ndarray]

#: ``read(region) -> (C, *region_shape)`` input: an ndarray, or anything with ``shape`` whose
#: ``[:, spatial slices]`` gives float32 windows (the compact
#: :class:`~stratoseg.inference._inputs.NetworkInput`).
Read = Callable[[tuple[slice, ...]], Any]


def split_region(
    region: Sequence[slice], shape: Sequence[int]
) -> tuple[list[slice], list[tuple[int, int]]]:
    """The part of ``region`` inside a volume of ``shape`` (at least one voxel per axis), and
    the edge padding that extends it back to ``region``.

    Examples
    --------
    >>> split_region([slice(-2, 6)], [4])
    ([slice(0, 4, None)], [(2, 2)])
    """
    inside, pad = [], []
    for s, n in zip(region, shape, strict=True):
        lo, hi = int(s.start), int(s.stop)
        a, b = min(max(lo, 0), n - 1), max(min(hi, n), 1)
        a = min(a, b - 1)
        inside.append(slice(a, b))
        pad.append((a - lo, hi - b))
    return inside, pad


def read_extended(source: Any, region: Sequence[slice]) -> np.ndarray:
    """``source[..., region]`` with the volume extended by repeating its edge voxels.

    ``source`` is array-like with the spatial axes last (numpy, dask or zarr); leading axes
    (channels) are read whole. Only the part inside the volume is read, straight into the
    result (:func:`stratoseg._memory.empty`; a dask source chunk by chunk), whose margins are
    then filled from their edges as ``numpy.pad(mode="edge")`` would.

    Examples
    --------
    >>> read_extended(np.arange(4), [slice(-2, 6)]).tolist()
    [0, 0, 0, 1, 2, 3, 3, 3]
    """
    ndim = len(region)
    inside, pad = split_region(region, tuple(int(n) for n in source.shape[-ndim:]))
    lead = tuple(int(n) for n in source.shape[: len(source.shape) - ndim])
    shape = (*lead, *(int(s.stop) - int(s.start) for s in region))
    out = empty(shape, source.dtype)
    into = tuple(
        [Ellipsis] + [slice(a, n - b) for (a, b), n in zip(pad, shape[-ndim:], strict=True)]
    )
    part = source[tuple([Ellipsis, *inside])]
    if isinstance(part, da.Array):
        da.store(part, out[into], lock=False)
    else:
        out[into] = part
    for axis, (a, b) in enumerate(pad, start=len(lead)):  # edge extension, axis by axis
        n = shape[axis]

        def at(lo: int, hi: int, axis: int = axis) -> tuple[slice, ...]:
            return (slice(None),) * axis + (slice(lo, hi),)

        if a:
            out[at(0, a)] = out[at(a, a + 1)]
        if b:
            out[at(n - b, n)] = out[at(n - b - 1, n - b)]
    return out


def _batches(items: list[Window], size: int) -> Iterator[list[Window]]:
    """Consecutive windows of one shape, at most ``size`` at a time."""
    batch: list[Window] = []
    for w in items:
        if batch and (len(batch) == size or w.size != batch[0].size):
            yield batch
            batch = []
        batch.append(w)
    if batch:
        yield batch


def _run(
    windows: list[Window],
    data: Any,
    origin: tuple[int, ...],
    axes: Sequence[Axis],
    predict: Predict,
    batch_size: int,
) -> Iterator[tuple[Window, np.ndarray]]:
    """Each window with its predicted probabilities (K, *out_window), one batch at a time (so
    that a block never holds the outputs of all its windows at once).

    A ``predict`` with a ``max_voxels`` attribute (input voxels per call, e.g. the CPU
    :class:`~stratoseg.inference._predictor.Predictor`) gets batches no larger than that."""
    limit = getattr(predict, "max_voxels", None)
    if isinstance(limit, int) and windows:
        per_window = math.prod(windows[0].shape(axes)) * int(data.shape[0])
        batch_size = max(1, min(batch_size, limit // per_window))
    channels = int(data.shape[0])
    for batch in _batches(windows, batch_size):
        size = batch[0].shape(axes)
        tiles = np.empty((len(batch), channels, *size), np.float32)
        for tile, w in zip(tiles, batch, strict=True):  # cut straight into the batch
            spans = zip(w.origin, origin, size, strict=True)
            key = tuple([slice(None)] + [slice(o - r, o - r + n) for o, r, n in spans])
            if hasattr(data, "cut"):
                data.cut(key, out=tile)
            else:
                tile[...] = data[key]
        probs = np.asarray(predict(tiles))
        expected = batch[0].out_shape(axes)
        if probs.ndim != tiles.ndim or probs.shape[0] != len(batch) or probs.shape[2:] != expected:
            raise ValueError(
                f"predict returned shape {probs.shape} for windows {tiles.shape}; expected "
                f"({len(batch)}, K, {', '.join(map(str, expected))})"
            )
        yield from zip(batch, probs, strict=True)


def _plan(
    block: Sequence[slice],
    axes: Sequence[Axis],
    tiling: Tiling,
    passes: int,
    step: Sequence[int] | None,
    seed: int,
) -> tuple[list[Window], list[Window], tuple[slice, ...]]:
    """The block's windows, its crop windows (stratified fills) and the input region of both."""
    windows = plan_block(block, axes, tiling, passes=passes, step=step, seed=seed)
    crop = windows if tiling == "crop" else plan_block(block, axes, "crop")
    everything = windows + crop if tiling == "stratified" else windows  # fills may be needed
    lo = [min(w.origin[i] for w in everything) for i in range(len(axes))]
    hi = [max(w.origin[i] + w.shape(axes)[i] for w in everything) for i in range(len(axes))]
    return windows, crop, tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))


def input_region(
    block: Sequence[slice],
    axes: Sequence[Axis],
    *,
    tiling: Tiling = "crop",
    passes: int = 4,
    step: Sequence[int] | None = None,
    seed: int = 0,
) -> tuple[slice, ...]:
    """The region :func:`predict_block` reads for this block (to read it ahead of time)."""
    return _plan(block, axes, tiling, passes, step, seed)[2]


Sink = Callable[[tuple[slice, ...], np.ndarray], None]


def predict_block(
    block: Sequence[slice],
    axes: Sequence[Axis],
    read: Read,
    predict: Predict,
    *,
    tiling: Tiling = "crop",
    passes: int = 4,
    step: Sequence[int] | None = None,
    seed: int = 0,
    batch_size: int = 4,
) -> np.ndarray:
    """Class probabilities of one block, ``(K, *block_shape)`` float32.

    Parameters
    ----------
    block : sequence of slice
        The output region, in volume coordinates.
    axes : sequence of Axis
        How each axis is tiled (see :mod:`stratoseg.inference._tiling`).
    read : callable
        ``read(region) -> (C, *region_shape)`` input, edge-extended outside the volume (e.g.
        :func:`read_extended`, or an :class:`~stratoseg.inference.InputReader`); called once
        per block, for the union of its windows. Windows are cut from it with
        ``data[:, spatial slices]``.
    predict : callable
        ``(B, C, *window) -> (B, K, *out_window)`` probabilities.
    tiling, passes, step, seed
        See :func:`~stratoseg.inference._tiling.plan_block`.
    batch_size : int
        Windows per call of ``predict``.
    """
    shape = tuple(int(s.stop) - int(s.start) for s in block)
    held: list[np.ndarray] = []

    def assemble(where: tuple[slice, ...], probs: np.ndarray) -> None:
        if not held:
            if probs.shape[1:] == shape:  # the whole block at once (blending tilings)
                held.append(probs)
                return
            held.append(np.empty((probs.shape[0], *shape), np.float32))
        held[0][tuple([slice(None), *where])] = probs

    predict_block_into(
        block, axes, read, predict, assemble, tiling=tiling, passes=passes, step=step,
        seed=seed, batch_size=batch_size,
    )  # fmt: skip
    return held[0]


def predict_block_into(
    block: Sequence[slice],
    axes: Sequence[Axis],
    read: Read,
    predict: Predict,
    sink: Sink,
    *,
    tiling: Tiling = "crop",
    passes: int = 4,
    step: Sequence[int] | None = None,
    seed: int = 0,
    batch_size: int = 4,
) -> None:
    """:func:`predict_block`, handing the probabilities to ``sink`` as they come.

    ``sink(where, probs)`` receives ``(K, *piece)`` float32 probabilities of the part
    ``where`` of the block (slices in block coordinates): with ``crop``, one call per window
    (its kept part), so the block is never held in float32 (a writer encodes each piece to its
    storage type right away); with the blending tilings, one call with the whole block. The
    pieces tile the block exactly once.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    windows, crop, region = _plan(block, axes, tiling, passes, step, seed)
    lo = tuple(int(r.start) for r in region)
    data = read(region)
    start = tuple(int(s.start) for s in block)
    shape = tuple(int(s.stop) - int(s.start) for s in block)
    results = _run(windows, data, lo, axes, predict, batch_size)
    if tiling == "crop":
        for w, probs in results:
            assert w.keep is not None
            dst = tuple(slice(k.start - b, k.stop - b) for k, b in zip(w.keep, start, strict=True))
            src = tuple(
                slice(k.start - o - a.out_offset, k.stop - o - a.out_offset)
                for k, o, a in zip(w.keep, w.origin, axes, strict=True)
            )
            sink(dst, probs[tuple([slice(None), *src])])
        return
    weights: dict[tuple[int, ...], np.ndarray] = {}

    def weight(w: Window) -> np.ndarray:
        size = w.shape(axes)
        if size not in weights:
            weights[size] = (
                gaussian_weights(axes, size=size)
                if tiling == "gaussian"
                else np.ones(w.out_shape(axes), np.float32)
            )
        return weights[size]

    acc, total = _accumulate(results, axes, start, shape, weight)
    if tiling == "stratified" and not total.all():  # no window reached these voxels
        missing = [
            w
            for w in crop
            if w.keep is not None
            and not total[
                tuple(slice(k.start - b, k.stop - b) for k, b in zip(w.keep, start, strict=True))
            ].all()
        ]
        fill = _run(missing, data, lo, axes, predict, batch_size)
        _accumulate(fill, axes, start, shape, weight, acc, total)
    acc /= total
    sink(tuple(slice(0, n) for n in shape), acc)


def _accumulate(
    results: Iterable[tuple[Window, np.ndarray]],
    axes: Sequence[Axis],
    start: tuple[int, ...],
    shape: tuple[int, ...],
    weight: Callable[[Window], np.ndarray],
    acc: np.ndarray | None = None,
    total: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Add each window's weighted output where it overlaps the block (``acc`` and ``total``
    are made at the first window when not given)."""
    if total is None:
        total = np.zeros(shape, np.float32)
    for w, probs in results:
        if acc is None:
            acc = np.zeros((probs.shape[0], *shape), np.float32)
        dst, src = [], []
        for o, a, n_out, b, n in zip(w.origin, axes, w.out_shape(axes), start, shape, strict=True):
            first = o + a.out_offset  # output start, volume coordinates
            lo, hi = max(first, b), min(first + n_out, b + n)
            if lo >= hi:
                break
            dst.append(slice(lo - b, hi - b))
            src.append(slice(lo - first, hi - first))
        else:
            region = tuple(src)
            w_region = weight(w)[region]
            acc[tuple([slice(None), *dst])] += w_region * probs[tuple([slice(None), *region])]
            total[tuple(dst)] += w_region
    assert acc is not None
    return acc, total
