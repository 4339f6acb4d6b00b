"""HDF5 datasets: ``file.h5:/group/dataset``, or the only dataset of the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dask.array as da
import h5py
import numpy as np

from stratoseg._errors import check_dtype
from stratoseg.io._lazy import (
    CHUNK_BYTES,
    LazySource,
    check_declared,
    damaged_file_errors,
    native_dtype,
    to_dask,
)
from stratoseg.io._volume import Volume, normalize_axes, normalize_unit

__all__ = ["HDF5_SUFFIXES", "open_hdf5"]

HDF5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5", ".n5h5")


class _H5Dataset(LazySource):
    def __init__(self, path: Path, key: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.path, self.key, self.shape, self.dtype = path, key, shape, dtype

    def read(self, key: tuple[slice, ...]) -> np.ndarray:
        with damaged_file_errors(self.path, "HDF5"), h5py.File(self.path, "r") as f:
            return np.asarray(f[self.key][key])


def _datasets(f: h5py.File) -> list[str]:
    names: list[str] = []
    f.visititems(lambda n, o: names.append("/" + n) if isinstance(o, h5py.Dataset) else None)
    return names


def _voxel(attrs: Any, n: int) -> tuple[tuple[float, ...] | None, str | None]:
    for name, unit in (
        ("element_size_um", "micrometer"),
        ("voxel_size", None),
        ("resolution", None),
    ):
        if name in attrs:
            v = np.atleast_1d(np.asarray(attrs[name], dtype=float))
            if v.size >= n:
                u = attrs.get("unit", unit)
                u = u.decode() if isinstance(u, bytes) else u
                return tuple(float(x) for x in v[-n:]), normalize_unit(u)
    return None, None


def open_hdf5(path: Path, *, key: str | None = None) -> Volume:
    """Open an HDF5 dataset lazily; ``key`` is its path inside the file."""
    try:
        with damaged_file_errors(path, "HDF5"), h5py.File(path, "r") as f:
            if key is None:
                names = _datasets(f)
                if len(names) != 1:
                    raise ValueError(
                        f"{path} holds {len(names)} datasets; name one as "
                        f"'{path}:/group/dataset' (or key=...): {names[:20] or 'none'}"
                    )
                key = names[0]
            if key not in f:
                raise ValueError(
                    f"dataset {key!r} is not in {path}; its datasets are: {_datasets(f)[:20]}"
                )
            ds = f[key]
            if not isinstance(ds, h5py.Dataset):
                raise ValueError(f"{key!r} in {path} is a group, not a dataset")
            shape, dtype = tuple(ds.shape), np.dtype(ds.dtype)
            if dtype.kind in "biuf":
                dtype = native_dtype(dtype)
            chunks = ds.chunks
            attrs = dict(ds.attrs)
    except OSError as exc:
        if not path.exists():
            raise FileNotFoundError(f"path does not exist: {path}") from exc
        raise ValueError(f"{path} is not a readable HDF5 file ({exc})") from exc
    source = _H5Dataset(path, key, shape, dtype)
    if len(shape) < 2:
        raise ValueError(
            f"{path}:{key} holds a {len(shape)}-D array of shape {shape}; expected an image "
            f"with 2 to 4 dimensions: (y, x), (z, y, x) or (c, z, y, x)"
        )
    check_dtype(dtype, name=f"the dtype of {path}:{key}")
    # dask's chunks are whole stored chunks, or about 64 MiB (edges near 64 and up) of
    # contiguous data: bound their number before normalize_chunks lists them (to_dask's own
    # check comes after that)
    check_declared(shape, chunks or tuple(min(s, 64) for s in shape), dtype, source=f"{path}:{key}")
    # whole stored chunks (or any region of contiguous data), at most about 64 MiB a block
    dchunks = da.core.normalize_chunks(
        "auto", shape, limit=CHUNK_BYTES, dtype=dtype, previous_chunks=chunks
    )
    data = to_dask(source, tuple(int(c[0]) for c in dchunks))
    default_axes = {2: "yx", 3: "zyx", 4: "czyx"}.get(len(shape), "?" * len(shape))
    axes_attr = attrs.get("axes")
    axes = axes_attr.decode() if isinstance(axes_attr, bytes) else axes_attr
    data, axes = normalize_axes(
        data,
        axes if isinstance(axes, str) and len(axes) == len(shape) else default_axes,
        source=f"{path}:{key}",
    )
    n = len(axes.replace("c", ""))
    voxel, unit = _voxel(attrs, n)
    return Volume(data, axes, voxel or (1.0,) * n, unit, path, "hdf5", key)
