"""Fewer C heaps for a long block-wise run (glibc's malloc arenas).

glibc gives each thread that meets a busy heap an arena of its own, up to eight per core. A
block-wise run has a reading thread, a writing thread, dask's and torch's workers, each
freeing megabyte buffers that another took; the memory each arena keeps for reuse adds up
across arenas, and the process's resident memory grows with the number of threads rather
than with one block (``docs/benchmarks.md``, inference memory: about 100 MiB on a 512^3 run).
Two arenas keep that small at no measured cost in speed. The ``stratoseg`` command sets this
once at start; a ``MALLOC_ARENA_MAX`` in the environment wins, and other C libraries (macOS,
musl) are left alone.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["ARENAS", "limit_malloc_arenas"]

#: The arena count the ``stratoseg`` command asks for.
ARENAS = 2
_M_ARENA_MAX = -8  # mallopt parameter number in glibc's malloc.h


def limit_malloc_arenas(count: int = ARENAS) -> bool:
    """Cap this process's malloc arenas at ``count`` (glibc ``mallopt(M_ARENA_MAX)``).

    Arenas already made stay; new threads share the existing ones. Returns True when the cap
    was set, False where it does not apply (not glibc on Linux, or ``MALLOC_ARENA_MAX`` set).

    Examples
    --------
    >>> limit_malloc_arenas(0)
    Traceback (most recent call last):
    ...
    ValueError: count must be >= 1, got 0
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    if not sys.platform.startswith("linux") or os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no C library by that name, or not glibc's malloc
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, int(count)))
