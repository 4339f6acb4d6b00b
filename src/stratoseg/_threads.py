"""Threads: how many the native kernels (the ``edt`` distance transform, torch on CPU) may use
(``STRATOSEG_NUM_THREADS`` when set, else the CPUs this process may run on), and dask stores
whose writer threads are joined before an interrupted output is removed."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dask
import dask.array as da

__all__ = ["joined_store", "num_threads"]

ENV = "STRATOSEG_NUM_THREADS"


def num_threads() -> int:
    """The thread count for native kernels (at least 1).

    Examples
    --------
    >>> import os
    >>> os.environ["STRATOSEG_NUM_THREADS"] = "3"
    >>> num_threads()
    3
    >>> del os.environ["STRATOSEG_NUM_THREADS"]
    """
    value = os.environ.get(ENV, "").strip()
    if value:
        try:
            count = int(value)
        except ValueError:
            raise ValueError(f"{ENV} must be a positive integer, got {value!r}") from None
        if count < 1:
            raise ValueError(f"{ENV} must be a positive integer, got {value!r}")
        return count
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def joined_store(sources: da.Array | Sequence[da.Array], targets: Any | Sequence[Any]) -> None:
    """``dask.array.store(sources, targets)`` whose writes have all ended when it returns or raises.

    dask's threaded scheduler gives up as soon as the caller is interrupted (Ctrl-C, SIGTERM,
    :class:`~stratoseg._progress.Cancelled`), while the tasks already started keep running: a
    chunk could then be written after :func:`~stratoseg.io.atomic_output` removed the temporary
    output, leaving it behind. Here the tasks run on a pool of their own that is joined, with
    the queued tasks dropped, before the exception goes on. Under a ``dask.distributed``
    scheduler (set in ``dask.config``) the store runs there unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> out = np.zeros(4)
    >>> joined_store(da.arange(4, chunks=2), out)
    >>> out.tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    if dask.config.get("scheduler", None) not in (None, "threads", "threading"):
        da.store(sources, targets, lock=False)
        return
    pool = ThreadPoolExecutor(num_threads(), thread_name_prefix="store")
    try:
        da.store(sources, targets, lock=False, scheduler="threads", pool=pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
