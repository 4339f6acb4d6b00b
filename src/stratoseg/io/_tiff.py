"""TIFF readers: multi-page TIFF/BigTIFF (ImageJ and OME tags) and folders of 2-D slices."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
import zarr
from natsort import natsorted

from stratoseg.io._lazy import (
    LazySource,
    damaged_file_errors,
    native_dtype,
    slab_chunks,
    to_dask,
)
from stratoseg.io._volume import Volume, normalize_axes, normalize_unit

__all__ = ["TIFF_SUFFIXES", "open_tiff", "open_tiff_folder"]

TIFF_SUFFIXES = (".tif", ".tiff", ".btf", ".tf8", ".ome.tif", ".ome.tiff")


class _TiffPages(LazySource):
    """The pages of one TIFF series, read a slab of pages at a time."""

    def __init__(self, path: Path, series: int, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.path, self.key = path, series
        self.shape, self.dtype = shape, dtype

    def read(self, key: tuple[slice, ...]) -> np.ndarray:
        with damaged_file_errors(self.path, "TIFF"), tifffile.TiffFile(self.path) as tif:
            return self._read(tif, key)

    def _read(self, tif: tifffile.TiffFile, key: tuple[slice, ...]) -> np.ndarray:
        series = tif.series[self.key]
        page_ndim = len(series.keyframe.shape)
        lead = self.shape[: self.ndim - page_ndim]
        if not lead:  # one page: read only the strips or tiles that hold the region
            with series.aszarr() as store:
                return np.asarray(zarr.open_array(store, mode="r")[key])
        # flat page indices of the requested leading region
        idx = np.arange(int(np.prod(lead))).reshape(lead)[key[: len(lead)]]
        pages = tif.asarray(key=idx.ravel().tolist(), series=self.key, maxworkers=1)
        pages = pages.reshape(idx.shape + tuple(series.keyframe.shape))
        return pages[(slice(None),) * len(lead) + key[len(lead) :]]


def _imagej_voxel(tif: tifffile.TiffFile, page: Any) -> tuple[dict[str, float], str | None]:
    meta = tif.imagej_metadata or {}
    sizes: dict[str, float] = {}
    for axis, tag in (("x", "XResolution"), ("y", "YResolution")):
        t = page.tags.get(tag)
        if t is not None:
            num, den = t.value
            if num:
                sizes[axis] = den / num
    if "spacing" in meta:
        sizes["z"] = float(meta["spacing"])
    return sizes, normalize_unit(meta.get("unit"))


def _shaped_voxel(meta: Any, axes: str) -> tuple[dict[str, float], str | None]:
    """The voxel size of a "shaped" TIFF (JSON description) as written by ``write_tiff``
    for 64-bit integers: ``voxel_size`` lists the spatial axes in z, y, x order."""
    values = meta.get("voxel_size") if isinstance(meta, dict) else None
    spatial = [a for a in "zyx" if a in axes.lower()]
    if not isinstance(values, list) or len(values) != len(spatial):
        return {}, None
    if not all(isinstance(v, (int, float)) and 0 < v < float("inf") for v in values):
        return {}, None
    unit = meta.get("unit")
    return dict(zip(spatial, map(float, values), strict=True)), normalize_unit(
        unit if isinstance(unit, str) else None
    )


_OME_SIZE = re.compile(r'PhysicalSize([XYZ])="([0-9.eE+-]+)"')
_OME_UNIT = re.compile(r'PhysicalSizeXUnit="([^"]+)"')


def _ome_voxel(xml: str) -> tuple[dict[str, float], str | None]:
    pixels = xml[xml.find("<Pixels") :]
    pixels = pixels[: pixels.find(">")]
    sizes = {m.group(1).lower(): float(m.group(2)) for m in _OME_SIZE.finditer(pixels)}
    unit = _OME_UNIT.search(pixels)
    return sizes, normalize_unit(unit.group(1) if unit else ("um" if sizes else None))


class _TiffWarnings(logging.Handler):
    """Collects what tifffile logs while a file is opened: it logs, rather than raises, on a
    truncated or corrupt file and then offers whatever pages it could read."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _strict_tifffile(path: Path) -> Iterator[None]:
    handler = _TiffWarnings()
    logger = logging.getLogger("tifffile")
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
    if handler.messages:
        raise ValueError(f"{path} is truncated or corrupt: {handler.messages[0]}")


def _imagej_axes(axes: str, meta: dict[str, Any]) -> str:
    """Read an ImageJ "channel" axis as z when it is really a stack.

    ``tifffile.imwrite(path, zyx, imagej=True)`` without ``axes`` labels the planes as channels
    (``channels=N``, ``mode=grayscale``). Fiji's own multi-channel images are ``composite`` or
    ``color``. So a ``CYX`` series is read as ``ZYX`` when it has a z ``spacing``, or when it is
    grayscale with more than 4 channels.

    Examples
    --------
    >>> _imagej_axes("CYX", {"channels": 20, "mode": "grayscale"})
    'ZYX'
    >>> _imagej_axes("CYX", {"channels": 3, "mode": "composite"})
    'CYX'
    """
    if axes.upper() != "CYX":
        return axes
    grey_stack = meta.get("mode") == "grayscale" and int(meta.get("channels", 0)) > 4
    return "ZYX" if grey_stack or "spacing" in meta else axes


def open_tiff(path: Path, *, key: str | None = None) -> Volume:
    """Open a multi-page TIFF or BigTIFF lazily (series ``key``, default 0)."""
    try:
        series_index = int(key) if key is not None else 0
    except ValueError:
        raise ValueError(f"key must name a TIFF series of {path} by number, got {key!r}") from None
    with damaged_file_errors(path, "TIFF"), _strict_tifffile(path), tifffile.TiffFile(path) as tif:
        len(tif.pages)  # walk every page header once: a broken chain shows up here
        if not tif.series:
            raise ValueError(f"{path} holds no image (a TIFF file without image series)")
        if not 0 <= series_index < len(tif.series):
            raise ValueError(
                f"key must name a TIFF series 0..{len(tif.series) - 1} of {path}, got {key!r}"
            )
        series = tif.series[series_index]
        shape, dtype, axes = tuple(series.shape), native_dtype(series.dtype), series.axes
        if 0 in shape:
            raise ValueError(f"{path} holds an empty image: shape {shape}")
        page = series.keyframe
        if tif.is_ome and tif.ome_metadata:
            sizes, unit = _ome_voxel(tif.ome_metadata)
        elif tif.is_imagej:
            sizes, unit = _imagej_voxel(tif, page)
            axes = _imagej_axes(axes, tif.imagej_metadata or {})
        elif tif.is_shaped and tif.shaped_metadata:
            sizes, unit = _shaped_voxel(tif.shaped_metadata[0], axes)
        else:
            sizes, unit = {}, None
        # make sure every page is there before promising a lazy read of all of them
        _check_complete(tif, series, path)
    source = _TiffPages(path, series_index, shape, dtype)
    data = to_dask(source, slab_chunks(shape, dtype.itemsize))
    data, axes = normalize_axes(data, axes, source=str(path))
    voxel = tuple(sizes.get(a, 1.0) for a in axes.replace("c", ""))
    return Volume(data, axes, voxel, unit if sizes else None, path, "tiff", key)


def _check_complete(tif: tifffile.TiffFile, series: Any, path: Path) -> None:
    """Raise if the file ends before the last byte of the series' image data (a truncated file)."""
    size = tif.filehandle.size
    if series.dataoffset is not None:  # contiguous data (ImageJ hyperstacks, uncompressed)
        end = series.dataoffset + series.nbytes
    else:
        last = series.pages[-1] if len(series.pages) else None
        if last is None:
            raise ValueError(f"{path} holds no image data")
        offsets, counts = getattr(last, "dataoffsets", ()), getattr(last, "databytecounts", ())
        end = max((o + c for o, c in zip(offsets, counts, strict=False)), default=0)
    if end > size:
        raise ValueError(f"{path} is truncated: image data ends at byte {end}, file has {size}")


class _TiffSlices(LazySource):
    """A folder of 2-D TIFF files read as a (z, y, x) stack, one file per slice."""

    def __init__(self, files: list[Path], shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.files = files
        self.path = files[0].parent
        self.key = None
        self.shape, self.dtype = shape, dtype

    def read(self, key: tuple[slice, ...]) -> np.ndarray:
        out = np.empty(
            tuple(len(range(*k.indices(n))) for k, n in zip(key, self.shape, strict=True)),
            dtype=self.dtype,
        )
        for i, z in enumerate(range(*key[0].indices(self.shape[0]))):
            with damaged_file_errors(self.files[z], "TIFF"):
                img = tifffile.imread(self.files[z])
            if img.shape != self.shape[1:]:
                raise ValueError(
                    f"slice {self.files[z]} has shape {img.shape}, the stack needs {self.shape[1:]}"
                )
            out[i] = img[key[1:]]
        return out


def open_tiff_folder(path: Path) -> Volume:
    """Open a folder of 2-D TIFF slices (natural sort order: ``s2`` before ``s10``) as a stack."""
    files = natsorted(
        (p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(TIFF_SUFFIXES)),
        key=lambda p: p.name,
    )
    if not files:
        raise ValueError(f"{path} is a folder without TIFF slices (*.tif, *.tiff) or zarr metadata")
    with damaged_file_errors(files[0], "TIFF"), tifffile.TiffFile(files[0]) as tif:
        if not tif.series:
            raise ValueError(f"{files[0]} holds no image (a TIFF file without image series)")
        page = tif.series[0]
        plane, dtype = tuple(page.shape), native_dtype(page.dtype)
        sizes, unit = _imagej_voxel(tif, page.keyframe) if tif.is_imagej else ({}, None)
    if len(plane) != 2:
        raise ValueError(f"a folder of slices needs 2-D images; {files[0]} has shape {plane}")
    shape = (len(files), *plane)
    source = _TiffSlices(files, shape, dtype)
    data = to_dask(source, (1, *plane))
    voxel = (sizes.get("z", 1.0), sizes.get("y", 1.0), sizes.get("x", 1.0))
    return Volume(data, "zyx", voxel, unit if sizes else None, path, "tiff-folder")
