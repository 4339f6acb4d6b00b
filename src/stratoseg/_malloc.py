"""glibc's malloc set for long block-wise runs: fewer arenas, large buffers mapped.

By default glibc gives each thread that meets a busy heap an arena of its own (up to eight
per core), and it serves buffers below a threshold that rises with use (up to 32 MiB) from
those heaps, keeping what they leave when freed. A block-wise run frees megabyte buffers in
another order, and on other threads, than it took them (a reading thread, a writing thread,
dask's and torch's workers, the network's activations of every window): measured on a 512^3
run, the heap grew to about 280 MiB for 150 MiB in use, and resident memory with the number of
blocks run rather than with one block (docs/benchmarks.md, inference memory).

The ``stratoseg`` command therefore sets, once at start:

- at most :data:`ARENAS` arenas;
- buffers of :data:`MMAP_BYTES` and more mapped from the system (and given back when freed);
- the heap's free top kept up to :data:`TRIM_BYTES` (a fixed mapping threshold would
  otherwise also fix this at 128 KiB, and the heap would shrink and grow at every window).

No measured cost in speed. A ``MALLOC_ARENA_MAX``, ``MALLOC_MMAP_THRESHOLD_`` or
``MALLOC_TRIM_THRESHOLD_`` in the environment wins for its setting, and other C libraries
(macOS, musl) are left alone.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["ARENAS", "MMAP_BYTES", "TRIM_BYTES", "tune_malloc"]

ARENAS = 2
MMAP_BYTES = 4 << 20
TRIM_BYTES = 256 << 20
#: glibc's mallopt parameter numbers (malloc.h) and the environment variable of each
_PARAMS = {
    "arenas": (-8, "MALLOC_ARENA_MAX"),
    "mmap_bytes": (-3, "MALLOC_MMAP_THRESHOLD_"),
    "trim_bytes": (-1, "MALLOC_TRIM_THRESHOLD_"),
}


def tune_malloc(
    *, arenas: int = ARENAS, mmap_bytes: int = MMAP_BYTES, trim_bytes: int = TRIM_BYTES
) -> dict[str, bool]:
    """Set glibc's malloc for this process (``mallopt``); which settings took.

    Arenas already made stay; new threads share the existing ones. A setting is skipped
    (False) where its environment variable is set, and all are where the C library is not
    glibc's.

    Examples
    --------
    >>> tune_malloc(arenas=0)
    Traceback (most recent call last):
    ...
    ValueError: arenas must be >= 1, got 0
    """
    values = {"arenas": arenas, "mmap_bytes": mmap_bytes, "trim_bytes": trim_bytes}
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    taken = dict.fromkeys(values, False)
    if not sys.platform.startswith("linux"):
        return taken
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no C library by that name, or not glibc's malloc
        return taken
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    for name, (param, env) in _PARAMS.items():
        if not os.environ.get(env):
            taken[name] = bool(mallopt(param, int(values[name])))
    return taken
