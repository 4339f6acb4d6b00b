"""Lazy array adapters: a reader object that dask slices block by block.

Each file format provides a :class:`LazySource` that knows its shape and dtype from the header and
reads a region in :meth:`LazySource.read`. :func:`to_dask` wraps it in a dask array without
touching the pixel data: nothing is read until a block is computed. A source opens its file for
each read and closes it again, so it holds no handle, pickles as a path, and the same graph runs
on threads, processes or a dask cluster.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
from dask.base import tokenize

__all__ = ["LazySource", "slab_chunks", "to_dask"]

#: Target size of one dask chunk when the file has no chunking of its own.
CHUNK_BYTES = 64 * 2**20


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

    The graph name depends on the path, its modification time and the shape, so a file changed
    on disk gets a new name while the same file opened twice shares one.
    """
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
