"""Whole chunks written straight to a local zarr v3 array's files, encoded in parallel.

A block-wise run writes each chunk of its outputs exactly once, whole. Through zarr's
``array[region] = values`` that costs about 2.5 times the compression itself (measured on
64^3 uint8 chunks: 190 ms of CPU for a 3 x 64 x 256 x 512 block against 73 ms for its zstd
frames; docs/benchmarks.md), time taken from the network on a CPU. :class:`ChunkWriter`
does what zarr would do for that case, for the layouts it knows (regular chunk grid, C order,
the ``bytes`` codec then at most a ``zstd`` codec, on a local store) and hands anything else
to zarr:

- each chunk is cut from the values (padded with the fill value past the array's edge, as
  zarr stores edge chunks), encoded with the same numcodecs codec zarr uses (the bytes on
  disk are zarr's own), and written under a temporary name then renamed, so a reader never
  sees half a chunk;
- a chunk that holds only the fill value is not stored, and any earlier file of it removed
  (zarr's ``write_empty_chunks=False``);
- chunks are encoded and written by a small thread pool (zstd releases the GIL).
"""

from __future__ import annotations

import itertools
import os
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from numcodecs import Zstd
from zarr.codecs import BytesCodec, ZstdCodec
from zarr.core.chunk_grids import RegularChunkGrid
from zarr.storage import LocalStore

from stratoseg._threads import num_threads

__all__ = ["ChunkWriter", "remove_temporaries"]

_TMP = ".tmp"  # ending of a chunk being written: ``.<chunk>.<host>.<pid>.<thread>.tmp``


def _direct_encoder(array: zarr.Array) -> Callable[[np.ndarray], bytes] | None:
    """The encoder of ``array``'s chunks when :class:`ChunkWriter` can write them itself,
    else None (zarr then writes)."""
    meta: Any = array.metadata
    if getattr(meta, "zarr_format", None) != 3 or not isinstance(array.store, LocalStore):
        return None
    if not isinstance(meta.chunk_grid, RegularChunkGrid) or array.order != "C":
        return None
    codecs = list(meta.codecs)
    if not codecs or not isinstance(codecs[0], BytesCodec) or len(codecs) > 2:
        return None
    endian = codecs[0].endian
    multibyte = np.dtype(array.dtype).itemsize > 1
    if multibyte and (sys.byteorder != "little" or str(getattr(endian, "value", endian)) not in (
        "little", "None"
    )):  # fmt: skip
        return None
    if len(codecs) == 1:
        return lambda chunk: chunk.tobytes()
    if not isinstance(codecs[1], ZstdCodec):
        return None
    zstd = Zstd(level=codecs[1].level, checksum=codecs[1].checksum)
    return lambda chunk: bytes(zstd.encode(chunk))


_HOST = socket.gethostname().replace(".", "_").replace(os.sep, "_")


def remove_temporaries(folder: Path) -> int:
    """Delete the chunk files a killed writer left half-written under ``folder`` (hidden
    names ending in ``.tmp``); returns how many. Call only while no writer is running, e.g.
    when a run is resumed under the workspace's writer lock.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / ".0.host.1.2.tmp").write_bytes(b"half"), (d / "0").write_bytes(b"whole")
    >>> remove_temporaries(d), sorted(p.name for p in d.iterdir())
    (1, ['0'])
    """
    count = 0
    for path in folder.rglob(f".*{_TMP}"):
        if path.is_file():
            path.unlink(missing_ok=True)
            count += 1
    return count


class ChunkWriter:
    """Writes regions made of whole chunks of one zarr array (see the module docstring).

    Parameters
    ----------
    array : zarr.Array
        The array to write to (opened for writing).
    threads : int, optional
        Chunks encoded and written at once; default: the native thread count
        (:func:`stratoseg._threads.num_threads`).

    Attributes
    ----------
    direct : bool
        Whether chunks go straight to files (else through ``array[region] = values``).
    """

    def __init__(self, array: zarr.Array, *, threads: int | None = None) -> None:
        self.array = array
        self._encode = _direct_encoder(array)
        self.direct = self._encode is not None
        self.chunks = tuple(int(c) for c in array.chunks)
        self.shape = tuple(int(n) for n in array.shape)
        self.fill = np.asarray(array.fill_value, dtype=array.dtype)
        store: Any = array.store
        self.root = Path(store.root) / array.path if self.direct else None
        self._threads = max(1, threads or num_threads())
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _check(self, region: Sequence[slice], values: np.ndarray) -> tuple[slice, ...]:
        where = tuple(slice(int(s.start or 0), int(self.shape[a] if s.stop is None else s.stop))
                      for a, s in enumerate(region))  # fmt: skip
        if len(where) != len(self.shape):
            raise ValueError(f"region {region} must give all {len(self.shape)} axes")
        for s, c, n in zip(where, self.chunks, self.shape, strict=True):
            if s.start % c or (s.stop % c and s.stop != n) or not 0 <= s.start < s.stop <= n:
                raise ValueError(
                    f"region {where} is not made of whole chunks {self.chunks} of an array of "
                    f"shape {self.shape}"
                )
        want = tuple(s.stop - s.start for s in where)
        if tuple(values.shape) != want:
            raise ValueError(f"values of shape {values.shape} for a region of shape {want}")
        return where

    def write(self, region: Sequence[slice], values: np.ndarray) -> None:
        """``array[region] = values`` for a ``region`` of whole chunks (its end may be the
        array's edge); returns when every chunk is on disk."""
        where = self._check(region, values)
        if not self.direct:
            self.array[where] = values
            return
        ranges = [
            range(s.start // c, -(-s.stop // c)) for s, c in zip(where, self.chunks, strict=True)
        ]
        jobs = []
        for index in itertools.product(*ranges):
            part = tuple(
                slice(i * c - s.start, min((i + 1) * c, s.stop) - s.start)
                for i, c, s in zip(index, self.chunks, where, strict=True)
            )
            jobs.append((index, values[part]))
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="chunks")
            pool = self._pool
        for future in [pool.submit(self._store, index, data) for index, data in jobs]:
            future.result()

    def _store(self, index: tuple[int, ...], data: np.ndarray) -> None:
        assert self.root is not None
        assert self._encode is not None
        meta: Any = self.array.metadata
        path = self.root / meta.chunk_key_encoding.encode_chunk_key(index)
        if not np.any(data != self.fill):  # only the fill value: not stored (as zarr does)
            path.unlink(missing_ok=True)
            return
        if data.shape != self.chunks:  # an edge chunk is stored whole, padded with the fill
            full = np.full(self.chunks, self.fill, dtype=data.dtype)
            full[tuple(slice(0, n) for n in data.shape)] = data
            data = full
        encoded = self._encode(np.ascontiguousarray(data))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(
            f".{path.name}.{_HOST}.{os.getpid()}.{threading.get_ident()}{_TMP}"
        )  # unique across the hosts of a cluster sharing the storage
        try:
            tmp.write_bytes(encoded)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def close(self) -> None:
        """Stop the thread pool (a later :meth:`write` starts another)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
