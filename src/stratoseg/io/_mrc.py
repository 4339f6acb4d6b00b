"""MRC / REC files (cryo-EM and electron tomography), read through a memory map."""

from __future__ import annotations

import warnings
from pathlib import Path

import mrcfile
import numpy as np

from stratoseg.io._lazy import LazySource, slab_chunks, to_dask
from stratoseg.io._volume import Volume, normalize_axes

__all__ = ["MRC_SUFFIXES", "open_mrc"]

MRC_SUFFIXES = (".mrc", ".rec", ".mrcs", ".st", ".ali", ".map")


class _MrcData(LazySource):
    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.path, self.key, self.shape, self.dtype = path, None, shape, dtype

    def read(self, key: tuple[slice, ...]) -> np.ndarray:
        with mrcfile.mmap(self.path, mode="r", permissive=True) as mrc:
            return np.array(mrc.data[key], dtype=self.dtype)


def open_mrc(path: Path) -> Volume:
    """Open an MRC/REC file lazily; the voxel size comes from the header, in angstrom."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # mrcfile warns, then half-reads, on a damaged header
            with mrcfile.mmap(path, mode="r", permissive=False) as mrc:
                shape, dtype = tuple(mrc.data.shape), np.dtype(mrc.data.dtype)
                vs = mrc.voxel_size
                sizes = {"x": float(vs.x), "y": float(vs.y), "z": float(vs.z)}
    except (ValueError, RuntimeWarning, UserWarning, OSError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"{path} is not a readable MRC file ({exc})") from exc
    if dtype.byteorder not in ("=", "|"):
        dtype = dtype.newbyteorder("=")
    source = _MrcData(path, shape, dtype)
    data, axes = normalize_axes(
        to_dask(source, slab_chunks(shape, dtype.itemsize)),
        {2: "yx", 3: "zyx"}.get(len(shape), "?" * len(shape)),
        source=str(path),
    )
    known = all(sizes[a] > 0 for a in axes)
    voxel = tuple(sizes[a] if known else 1.0 for a in axes)
    return Volume(data, axes, voxel, "angstrom" if known else None, path, "mrc")
