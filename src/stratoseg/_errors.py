"""Exceptions and input checks shared by every package (a leaf module: it imports nothing of ours).

The error contract (``docs/architecture.md``): bad input raises :class:`ValueError`,
:class:`TypeError` or :class:`FileNotFoundError` naming the parameter and the value received.
Conditions that are not a bad argument but still the user's to fix (a workspace held by another
writer) raise a subclass of :class:`StratosegError`. The CLI prints both as ``error: ...`` and
exits with code 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "StratosegError",
    "WorkspaceLockedError",
    "check_dtype",
    "check_positive_ints",
]


class StratosegError(Exception):
    """A condition the user can fix that is not a malformed argument."""


class WorkspaceLockedError(StratosegError):
    """The workspace is open for writing in another process (or another handle of this one)."""


#: dtype kinds an image or label volume may have: bool, signed and unsigned int, float.
_IMAGE_KINDS = "biuf"


def check_dtype(dtype: Any, *, name: str = "dtype") -> np.dtype:
    """Return ``np.dtype(dtype)`` if it is a bool, integer or float type, else raise.

    Parameters
    ----------
    dtype : dtype-like
        The dtype to check.
    name : str
        What to call the value in the error message.

    Raises
    ------
    TypeError
        For complex, object, string, void or datetime dtypes.

    Examples
    --------
    >>> check_dtype("uint16")
    dtype('uint16')
    """
    dt = np.dtype(dtype)
    if dt.kind not in _IMAGE_KINDS:
        raise TypeError(
            f"{name} must be a bool, integer or float type, got {dt} "
            f"(complex, object, string and structured data are not images)"
        )
    return dt


def check_positive_ints(values: int | Sequence[int], *, name: str, ndim: int) -> tuple[int, ...]:
    """Broadcast one int or ``ndim`` ints to a tuple of ``ndim`` positive ints.

    Examples
    --------
    >>> check_positive_ints(64, name="chunks", ndim=3)
    (64, 64, 64)
    >>> check_positive_ints([1, 256, 256], name="chunks", ndim=3)
    (1, 256, 256)
    """
    seq: list[Any] = [values] if isinstance(values, (int, np.integer)) else list(values)
    if len(seq) != ndim and len(seq) != 1:
        raise ValueError(f"{name} must have 1 or {ndim} values, got {len(seq)}: {seq!r}")
    if len(seq) == 1:
        seq = seq * ndim
    out = []
    for v in seq:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be positive integers, got {list(seq)!r}")
        out.append(int(v))
    return tuple(out)
