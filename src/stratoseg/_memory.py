"""Block buffers straight from the operating system.

A block's buffers (its input region, its encoded outputs) are megabytes each, live for one
block, and are taken and freed by different threads. From the C heap, glibc serves them out of
its arenas (it maps only buffers above a threshold that rises with use, up to 32 MiB) and keeps
what they leave when freed: measured on a 512^3 run, the heap grew to about 280 MiB for 150
MiB in use. An anonymous memory map is the operating system's own, resident only where
written, and given back the moment the array is released, so resident memory follows the
blocks in flight.
"""

from __future__ import annotations

import math
import mmap
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["MAPPED_BYTES", "empty"]

#: Buffers of at least this many bytes are memory-mapped; smaller ones come from numpy.
MAPPED_BYTES = 1 << 20


def empty(shape: Sequence[int], dtype: Any) -> np.ndarray:
    """An uninitialised C-ordered array like :func:`numpy.empty`, memory-mapped when large.

    Examples
    --------
    >>> a = empty((512, 1024), np.float32)
    >>> a.shape, a.dtype, a.flags.writeable, a.flags.c_contiguous
    ((512, 1024), dtype('float32'), True, True)
    """
    dt = np.dtype(dtype)
    shape = tuple(int(n) for n in shape)
    size = math.prod(shape) * dt.itemsize
    if size < MAPPED_BYTES:
        return np.empty(shape, dt)
    flags = getattr(mmap, "MAP_PRIVATE", 0) | getattr(mmap, "MAP_ANONYMOUS", 0)
    mapped = mmap.mmap(-1, size, flags=flags) if flags else mmap.mmap(-1, size)
    return np.frombuffer(mapped, dt).reshape(shape)
