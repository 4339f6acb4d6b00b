"""Export arrays (a workspace array, a volume) to TIFF, streamed slab by slab."""

from __future__ import annotations

import os
import queue
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
import tifffile

from stratoseg._errors import check_dtype
from stratoseg.io._atomic import atomic_output, check_output_path

__all__ = ["write_tiff", "write_tiffs"]

_IMAGEJ_DTYPES = (np.uint8, np.uint16, np.float32)
_IMAGEJ_UNITS = {"micrometer": "micron", "nanometer": "nm", "millimeter": "mm", "angstrom": "A"}
_OME_UNITS = {"micrometer": "µm", "nanometer": "nm", "millimeter": "mm", "angstrom": "Å"}


def write_tiff(
    data: da.Array | np.ndarray,
    out: str | os.PathLike[str],
    *,
    axes: str | None = None,
    voxel_size: Sequence[float] | None = None,
    unit: str | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``data`` to a TIFF file without holding more than one z-slab in memory.

    ImageJ hyperstack TIFF for uint8, uint16 and float32 (Fiji reads the voxel size), OME-TIFF
    for other dtypes; BigTIFF when the data exceed 2 GiB. bool is written as uint8 and float16
    as float32 (exactly); int64 and uint64, which neither ImageJ nor OME-TIFF describe, as a
    plain TIFF with the axes and voxel size in its JSON description (tifffile's "shaped"
    format, which :func:`~stratoseg.io.open_volume` reads). The file appears under its final
    name only when complete.

    Parameters
    ----------
    data : (Z, Y, X), (Y, X), (C, Y, X) or (C, Z, Y, X) array
        What to write; dask arrays are computed one chunk row along the first axis at a time.
    out : path
        The TIFF file to write.
    axes : str, optional
        Axis letters of ``data`` (default ``yx``/``zyx``/``czyx`` by ``ndim``).
    voxel_size : sequence of float, optional
        Spatial voxel size, (z, y, x) or (y, x).
    unit : str, optional
        OME unit name of ``voxel_size``.
    overwrite : bool
        Replace an existing file.
    progress : callable, optional
        Called as ``progress(done, total)`` after each slab.

    Returns
    -------
    Path
        ``out``.
    """
    return write_tiffs(
        [data],
        [out],
        axes=axes,
        voxel_size=voxel_size,
        unit=unit,
        overwrite=overwrite,
        progress=progress,
    )[0]


def write_tiffs(
    arrays: Sequence[da.Array | np.ndarray],
    outs: Sequence[str | os.PathLike[str]],
    *,
    axes: str | None = None,
    voxel_size: Sequence[float] | None = None,
    unit: str | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write arrays of one shape to several TIFF files in one pass.

    Each slab of all arrays is computed together (``dask.compute``), so arrays that share a
    graph, such as a synthetic image and its ground truth, are rendered once; one writer thread
    per file streams the slabs out. Parameters as in :func:`write_tiff`; every file appears
    only when all of them are complete.
    """
    if len(arrays) != len(outs) or not arrays:
        raise ValueError(f"arrays and outs must pair up, got {len(arrays)} and {len(outs)}")
    paths = [check_output_path(o, overwrite=overwrite) for o in outs]
    arrs = [_as_dask(a) for a in arrays]
    shape = arrs[0].shape
    if any(a.shape != shape for a in arrs):
        raise ValueError(f"arrays must share one shape, got {[a.shape for a in arrs]}")
    if 0 in shape:
        raise ValueError(f"a TIFF cannot hold an empty array: shape {shape} for {paths[0]}")
    axes = (axes or {2: "yx", 3: "zyx", 4: "czyx"}.get(len(shape), "")).lower()
    if len(axes) != len(shape):
        raise ValueError(
            f"axes must have one letter per axis of the {len(shape)}-D data, got {axes!r}"
        )
    spatial = axes.replace("c", "")
    sizes = dict(zip(spatial, voxel_size or (1.0,) * len(spatial), strict=True))
    if axes == "czyx":  # TIFF hyperstacks store z-major pages (ImageJ: TZCYXS order)
        arrs, axes = [a.transpose(1, 0, 2, 3) for a in arrs], "zcyx"
        shape = arrs[0].shape
    flats = [a.reshape((-1, *shape[-2:])) if len(shape) > 2 else a[None] for a in arrs]
    step = max(1, int(flats[0].chunks[0][0]))
    starts = list(range(0, flats[0].shape[0], step))
    queues: list[queue.Queue[np.ndarray | None]] = [queue.Queue(maxsize=2) for _ in arrs]

    with ExitStack() as stack:
        tmps = [stack.enter_context(atomic_output(p)) for p in paths]
        pool = stack.enter_context(ThreadPoolExecutor(len(arrs)))
        futures = [
            pool.submit(_write_series, t, _pages(q), a, axes, sizes, unit)
            for t, q, a in zip(tmps, queues, arrs, strict=True)
        ]
        try:
            for i, z0 in enumerate(starts):
                blocks = dask.compute(*(f[z0 : z0 + step] for f in flats))
                for q, fut, block in zip(queues, futures, blocks, strict=True):
                    _put(q, fut, np.asarray(block))
                if progress is not None:
                    progress(i + 1, len(starts))
        finally:
            for q, fut in zip(queues, futures, strict=True):
                _put(q, fut, None)
        for fut in futures:
            fut.result()
    return paths


def _pages(q: queue.Queue[np.ndarray | None]) -> Iterator[np.ndarray]:
    while (slab := q.get()) is not None:
        yield from slab


def _put(q: queue.Queue[np.ndarray | None], fut: Future[None], item: np.ndarray | None) -> None:
    """Hand ``item`` to a writer thread, unless that thread has stopped (then re-raise)."""
    while not fut.done():
        try:
            q.put(item, timeout=0.2)
            return
        except queue.Full:
            continue
    if item is not None:
        fut.result()


def _as_dask(data: da.Array | np.ndarray) -> da.Array:
    arr = data if isinstance(data, da.Array) else da.from_array(np.asarray(data))
    check_dtype(arr.dtype, name="data dtype")
    return arr.astype(
        {np.dtype(bool): np.uint8, np.dtype(np.float16): np.float32}.get(arr.dtype, arr.dtype)
    )


def _write_series(
    path: Path,
    pages: Iterator[np.ndarray],
    arr: da.Array,
    axes: str,
    sizes: dict[str, float],
    unit: str | None,
) -> None:
    """One TIFF series from an iterator of 2-D pages: ImageJ or OME metadata, voxel size."""
    imagej = arr.dtype.type in _IMAGEJ_DTYPES and arr.nbytes <= 2**31
    ome = not imagej and (arr.dtype.kind == "f" or arr.dtype.itemsize < 8)
    metadata: dict[str, Any] = {"axes": axes.upper()}
    if not imagej and not ome:  # 64-bit integers: a plain TIFF, described in JSON
        metadata["voxel_size"] = [sizes[a] for a in "zyx" if a in sizes]
        metadata["unit"] = unit
    elif imagej:
        metadata["spacing"] = sizes.get("z", 1.0)
        if unit:
            metadata["unit"] = _IMAGEJ_UNITS.get(unit, unit)
    else:
        for a in "zyx":
            if a in sizes:
                metadata[f"PhysicalSize{a.upper()}"] = sizes[a]
                if unit:
                    metadata[f"PhysicalSize{a.upper()}Unit"] = _OME_UNITS.get(unit, unit)
    with tifffile.TiffWriter(path, bigtiff=arr.nbytes > 2**31, imagej=imagej, ome=ome) as tw:
        tw.write(
            pages,
            shape=arr.shape,
            dtype=arr.dtype,
            metadata=metadata,
            resolution=(1.0 / sizes.get("x", 1.0), 1.0 / sizes.get("y", 1.0)),
            photometric="minisblack",
        )
