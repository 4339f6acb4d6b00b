"""How many threads the native kernels (the ``edt`` distance transform, later torch on CPU)
may use: ``STRATOSEG_NUM_THREADS`` when set, else the CPUs this process may run on."""

from __future__ import annotations

import os

__all__ = ["num_threads"]

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
