"""Lazy array adapters: a reader object that dask slices block by block.

Each file format provides a :class:`LazySource` that knows its shape and dtype from the header and
reads a region in :meth:`LazySource.read`. :func:`to_dask` wraps it in a dask array without
touching the pixel data: nothing is read until a block is computed. A source opens its file for
each read and closes it again, so it holds no handle, pickles as a path, and the same graph runs
on threads, processes or a dask cluster.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize

__all__ = [
    "LazySource",
    "check_declared",
    "damaged_file_errors",
    "native_dtype",
    "slab_chunks",
    "to_dask",
]

#: Target size of one dask chunk when the file has no chunking of its own.
CHUNK_BYTES = 64 * 2**20
#: The most bytes a header may declare (1 EiB): more than any storage holds, so corrupt.
MAX_DECLARED_BYTES = 2**60
#: The most chunks along one axis: dask keeps a tuple of every chunk's size per axis.
MAX_CHUNKS_PER_AXIS = 2**20


def check_declared(
    shape: tuple[int, ...], chunks: tuple[int, ...], dtype: np.dtype, *, source: str
) -> None:
    """Refuse a header's shape and chunks before anything is allocated for them.

    A corrupt or hostile header can declare any shape; dask then builds a tuple per axis with
    one entry per chunk, and a read allocates whole chunks. Both are bounded here, with exact
    integer arithmetic (``np.prod`` would overflow silently).

    Raises
    ------
    ValueError
        If the array would exceed :data:`MAX_DECLARED_BYTES`, or an axis would have more than
        :data:`MAX_CHUNKS_PER_AXIS` chunks (the message names ``source`` and the shape).

    Examples
    --------
    >>> check_declared((10, 64, 64), (10, 64, 64), np.dtype("u1"), source="a.tif")
    >>> check_declared((10**12,) * 3, (64,) * 3, np.dtype("u1"), source="a.zarr")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: a.zarr declares an array of shape (...) and dtype uint8, 10^36 bytes: more ...
    """
    nbytes = math.prod(int(s) for s in shape) * int(dtype.itemsize)
    if nbytes > MAX_DECLARED_BYTES:
        raise ValueError(
            f"{source} declares an array of shape {tuple(shape)} and dtype {dtype}, "
            f"10^{len(str(nbytes)) - 1} bytes: more than any storage holds (its metadata is "
            "corrupt)"
        )
    for axis, (n, c) in enumerate(zip(shape, chunks, strict=True)):
        count = -(-int(n) // max(int(c), 1))
        if count > MAX_CHUNKS_PER_AXIS:
            raise ValueError(
                f"{source} declares {count} chunks of {c} along axis {axis} (shape "
                f"{tuple(shape)}); at most {MAX_CHUNKS_PER_AXIS} per axis are read (its "
                "metadata is corrupt, or the chunks are far too small)"
            )


@contextmanager
def damaged_file_errors(path: str | os.PathLike[str], kind: str) -> Iterator[None]:
    """Turn what a format library raises on a damaged file into a ValueError naming the file.

    Parsing a damaged header or decoding a damaged strip, tifffile, h5py and mrcfile raise
    whatever they meet (``IndexError``, ``ZeroDivisionError``, ``KeyError``, ``struct.error``,
    ``zlib.error``, a ``MemoryError`` for an absurd tag, an ``OSError`` without a file name...).
    Inside this block those become ``ValueError("{path} is not a readable {kind} file (...)")``.
    A missing or unreadable file (``FileNotFoundError``, ``PermissionError``) and a
    ``ValueError`` that already names ``path`` pass unchanged.

    Examples
    --------
    >>> with damaged_file_errors("a.tif", "TIFF"):
    ...     (1, 2)[5]
    Traceback (most recent call last):
    ...
    ValueError: a.tif is not a readable TIFF file (IndexError: tuple index out of range)
    """
    try:
        yield
    except (FileNotFoundError, PermissionError):
        raise
    except ValueError as exc:
        if os.fspath(path) in str(exc):
            raise
        raise ValueError(f"{os.fspath(path)} is not a readable {kind} file ({exc})") from exc
    except Exception as exc:
        raise ValueError(
            f"{os.fspath(path)} is not a readable {kind} file ({type(exc).__name__}: {exc})"
        ) from exc


def native_dtype(dtype: np.dtype) -> np.dtype:
    """``dtype`` in native byte order and numpy's canonical class for its size.

    tifffile reports 64-bit integers as ``longlong`` (``"q"``), a dtype numpy calls int64 but
    zarr does not recognise; ``np.dtype(dtype.str)`` gives the canonical one.

    Examples
    --------
    >>> native_dtype(np.dtype("q")).char == np.dtype("int64").char
    True
    >>> native_dtype(np.dtype(">u2")).byteorder
    '='
    """
    dt = np.dtype(np.dtype(dtype).str)
    return dt.newbyteorder("=") if dt.byteorder not in ("=", "|") else dt


class LazySource:
    """Base class of the per-format readers.

    Subclasses set :attr:`path`, :attr:`key`, :attr:`shape` and :attr:`dtype` in ``__init__``
    (from the header only) and implement :meth:`read`.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    path: Path
    key: Any = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def read(self, key: tuple[slice, ...]) -> np.ndarray:  # pragma: no cover - abstract
        """Read the region ``key`` (one slice per axis, steps of 1) into memory."""
        raise NotImplementedError

    def __getitem__(self, key: tuple[slice, ...]) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key,)
        key = tuple(k if isinstance(k, slice) else slice(k, k + 1) for k in key)
        key = key + (slice(None),) * (self.ndim - len(key))
        norm = tuple(slice(*k.indices(n)[:2]) for k, n in zip(key, self.shape, strict=True))
        return np.asarray(self.read(norm), dtype=self.dtype)


def slab_chunks(shape: tuple[int, ...], itemsize: int, *, max_lead: int = 64) -> tuple[int, ...]:
    """Chunks of whole trailing planes, ``max_lead`` planes at most, about 64 MiB at most.

    Examples
    --------
    >>> slab_chunks((500, 1024, 1024), 1)
    (64, 1024, 1024)
    >>> slab_chunks((10, 20), 2)
    (10, 20)
    >>> slab_chunks((30000, 30000), 1)
    (8192, 8192)
    """
    if len(shape) < 3:  # one plane: whole, or square tiles when it is larger than a block
        if int(np.prod(shape)) * itemsize <= CHUNK_BYTES:
            return tuple(shape)
        edge = max(1024, int((CHUNK_BYTES // itemsize) ** 0.5) // 1024 * 1024)
        return tuple(min(edge, s) for s in shape)
    plane = int(np.prod(shape[-2:])) * itemsize
    lead = max(1, min(max_lead, CHUNK_BYTES // max(plane, 1)))
    return (1,) * (len(shape) - 3) + (min(lead, shape[-3]),) + tuple(shape[-2:])


def to_dask(source: LazySource, chunks: tuple[int, ...]) -> da.Array:
    """Wrap ``source`` in a dask array; reads nothing.

    The declared shape and chunks are checked first (:func:`check_declared`). The graph name
    depends on the path, its modification time and the shape, so a file changed on disk gets
    a new name while the same file opened twice shares one.
    """
    check_declared(source.shape, chunks, source.dtype, source=str(source.path))
    try:
        stamp = os.stat(source.path).st_mtime_ns
    except OSError:
        stamp = 0
    token = tokenize(
        type(source).__name__,
        str(source.path),
        getattr(source, "key", None),
        stamp,
        source.shape,
        str(source.dtype),
    )
    name = f"stratoseg-read-{token}"
    meta = np.empty((0,) * source.ndim, dtype=source.dtype)
    return da.from_array(
        source, chunks=chunks, name=name, meta=meta, asarray=False, fancy=False, lock=False
    )
