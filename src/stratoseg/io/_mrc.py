"""MRC / REC files (cryo-EM and electron tomography), read through a memory map."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import mrcfile
import numpy as np

from stratoseg.io._lazy import (
    LazySource,
    damaged_file_errors,
    native_dtype,
    slab_chunks,
    to_dask,
)
from stratoseg.io._volume import Volume, normalize_axes

__all__ = ["MRC_SUFFIXES", "open_mrc"]

MRC_SUFFIXES = (".mrc", ".rec", ".mrcs", ".st", ".ali", ".map")


class _MrcData(LazySource):
    def __init__(self, path: Path, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.path, self.key, self.shape, self.dtype = path, None, shape, dtype

    def read(self, key: tuple[slice, ...]) -> np.ndarray:
        with (
            damaged_file_errors(self.path, "MRC"),
            mrcfile.mmap(self.path, mode="r", permissive=True) as mrc,
        ):
            return np.array(mrc.data[key], dtype=self.dtype)


def _check_extended_header(path: Path) -> None:
    """Refuse an extended header (NSYMBT, bytes 92-95) longer than the file: mrcfile reads it
    into a buffer of the declared size before it finds the file short."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(1024)
    if len(head) < 1024:
        return  # mrcfile names a short header itself
    order = ">" if head[212] == 0x11 else "<"  # the machine stamp: 0x11 for big-endian
    (nsymbt,) = struct.unpack_from(order + "i", head, 92)
    if nsymbt > size - 1024:
        raise ValueError(
            f"{path} is not a readable MRC file (its header declares an extended header of "
            f"{nsymbt} bytes, the file has {size - 1024} after the header)"
        )


def open_mrc(path: Path) -> Volume:
    """Open an MRC/REC file lazily; the voxel size comes from the header, in angstrom."""
    _check_extended_header(path)
    with damaged_file_errors(path, "MRC"), warnings.catch_warnings():
        warnings.simplefilter("error")  # mrcfile warns, then half-reads, on a damaged header
        with mrcfile.mmap(path, mode="r", permissive=False) as mrc:
            shape, dtype = tuple(mrc.data.shape), np.dtype(mrc.data.dtype)
            vs = mrc.voxel_size
            sizes = {"x": float(vs.x), "y": float(vs.y), "z": float(vs.z)}
    dtype = native_dtype(dtype)
    source = _MrcData(path, shape, dtype)
    data, axes = normalize_axes(
        to_dask(source, slab_chunks(shape, dtype.itemsize)),
        {2: "yx", 3: "zyx"}.get(len(shape), "?" * len(shape)),
        source=str(path),
    )
    known = all(sizes[a] > 0 for a in axes)
    voxel = tuple(sizes[a] if known else 1.0 for a in axes)
    return Volume(data, axes, voxel, "angstrom" if known else None, path, "mrc")
