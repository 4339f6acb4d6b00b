"""Semantic decisions and clean-up shared by every post-processing method.

MAP (the class of highest probability, with the gap rule of Guerrero Peña §5.2.3), per-object
hole filling and small-object removal, and the input checks of the methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "UnionFind",
    "check_class",
    "check_fraction",
    "check_labels",
    "check_probabilities",
    "fill_holes",
    "fill_one",
    "map_classes",
    "remove_small_objects",
]


def check_fraction(value: Any, name: str) -> float:
    """``value`` as a float in [0, 1]; a ValueError naming ``name`` otherwise."""
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
    return v


def check_class(value: Any, n: int, name: str) -> int:
    """``value`` as a class index of a map of ``n`` classes; a ValueError naming ``name``
    otherwise."""
    if int(value) != value or not 0 <= int(value) < n:
        raise ValueError(f"{name} must be a class of the map (0..{n - 1}), got {value!r}")
    return int(value)


def check_probabilities(probs: Any, *, min_classes: int = 2, name: str = "probs") -> np.ndarray:
    """``probs`` as a float32 array ``(C, *spatial)`` (2-D or 3-D), checked; uint8 maps
    (0-255, as predictions are stored) are scaled to [0, 1]."""
    arr = np.asarray(probs)
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer)
                                     or np.issubdtype(arr.dtype, np.floating)):  # fmt: skip
        raise TypeError(f"{name} must be a float or uint8 array, got dtype {arr.dtype}")
    if arr.ndim not in (3, 4):
        raise ValueError(
            f"{name} must have shape (classes, y, x) or (classes, z, y, x), got shape {arr.shape}"
        )
    if arr.shape[0] < min_classes:
        raise ValueError(f"{name} must have at least {min_classes} classes, got {arr.shape[0]}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    out = arr.astype(np.float32, copy=False)
    if not np.isfinite(out).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return out


def check_labels(labels: Any, *, name: str = "labels") -> np.ndarray:
    """``labels`` as an integer array of 2 or 3 dimensions, checked."""
    arr = np.asarray(labels)
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name} must be 2-D or 3-D, got shape {arr.shape}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must not hold negative ids, got {arr.min()}")
    return arr


def map_classes(probs: Any, *, classes: Sequence[int] | None = None) -> np.ndarray:
    """MAP: ``h(p) = argmax_l z_l(p)`` over ``classes`` (all by default), as ``uint8``.

    Restricting ``classes`` is Guerrero Peña's gap output assignment (§5.2.3): the gap class is
    uncertainty, so its voxels go to the most likely of the other classes, which is MAP over
    those classes. A tie goes to the first class listed.

    Examples
    --------
    >>> z = np.array([[[0.2, 0.5]], [[0.3, 0.1]], [[0.1, 0.1]], [[0.4, 0.3]]])
    >>> map_classes(z).tolist()
    [[3, 0]]
    >>> map_classes(z, classes=[0, 1, 2]).tolist()
    [[1, 0]]
    """
    z = check_probabilities(probs)
    chosen = list(range(z.shape[0])) if classes is None else [int(c) for c in classes]
    bad = [c for c in chosen if not 0 <= c < z.shape[0]]
    if not chosen or bad:
        raise ValueError(f"classes must be classes of the map (0..{z.shape[0] - 1}), got {classes}")
    best = np.full(z.shape[1:], chosen[0], np.uint8)
    top = z[chosen[0]].copy()
    for c in chosen[1:]:
        better = z[c] > top
        best[better] = c
        np.maximum(top, z[c], out=top)
    return best


def _objects(labels: np.ndarray) -> list[tuple[int, tuple[slice, ...]]]:
    """(id, bounding box) of every object (id > 0)."""
    if labels.max(initial=0) <= 0:
        return []
    boxes = ndi.find_objects(labels.astype(np.int64, copy=False))
    return [(i + 1, box) for i, box in enumerate(boxes) if box is not None]


def fill_holes(labels: Any) -> np.ndarray:
    """Fill the holes of each object: background voxels it encloses on its own become its.

    A hole shared by two objects (enclosed only by both together) stays background. Works on a
    copy, object by object in its bounding box.
    """
    out = check_labels(labels).copy()
    for i, box in _objects(out):
        fill_one(out[box], i)
    return out


def fill_one(region: np.ndarray, obj: int) -> None:
    """Fill, in place, the holes of object ``obj`` in ``region`` (background it encloses)."""
    filled = ndi.binary_fill_holes(region == obj)
    region[filled & (region == 0)] = obj


def remove_small_objects(labels: Any, min_size: int) -> np.ndarray:
    """Set objects of fewer than ``min_size`` voxels to background (a copy)."""
    if int(min_size) != min_size or min_size < 0:
        raise ValueError(f"min_size must be a whole number >= 0, got {min_size!r}")
    out = check_labels(labels).copy()
    if min_size <= 1 or out.max(initial=0) <= 0:
        return out
    flat = out.reshape(-1).astype(np.int64)
    sizes = np.bincount(flat)
    small = sizes < min_size
    small[0] = False
    out[small[flat].reshape(out.shape)] = 0
    return out


class UnionFind:
    """Disjoint sets of the ids 0..n (path compression; the smaller root represents a set)."""

    def __init__(self, n: int) -> None:
        self.parent = np.arange(n + 1, dtype=np.int64)

    def find(self, a: int) -> int:
        """The representative of ``a``'s set."""
        root = a
        while self.parent[root] != root:
            root = int(self.parent[root])
        while self.parent[a] != root:
            self.parent[a], a = root, int(self.parent[a])
        return root

    def union(self, a: int, b: int) -> None:
        """Join the sets of ``a`` and ``b``."""
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def roots(self) -> np.ndarray:
        """The representative of every id, as an array indexed by id.

        Examples
        --------
        >>> sets = UnionFind(3); sets.union(3, 1)
        >>> sets.roots().tolist()
        [0, 1, 2, 1]
        """
        for a in range(len(self.parent)):
            self.find(a)
        return self.parent.copy()
