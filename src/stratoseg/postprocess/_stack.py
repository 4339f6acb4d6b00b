"""3-D objects from a 2-D model's slices: per-slice post-processing, then linking or splitting.

A 2-D network segments a stack slice by slice; its maps say nothing about where two objects
stacked in z meet, so post-processing the stacked maps as one volume joins every object to
whatever lies above and below it. Two ways to assemble slices into 3-D objects instead:

- ``link``: each slice post-processed on its own (the method's 2-D result), then each object
  joined to the object of the next slice that it overlaps most when that one overlaps it most
  too (mutual best overlap) and the overlap covers at least ``min_overlap`` of the smaller of
  the two. A 3-D object then has at most one region per slice, so every slice keeps exactly its
  2-D segmentation (what per-slice scores such as the ISBI challenge's measure). For objects
  that run through the stack: neurites, fibres, columns.
- ``split``: each slice post-processed on its own, the borders between neighbouring objects of
  a slice carved out, and the remaining mask split in 3-D by a distance-transform watershed
  with the voxel spacing (``sampling``, so an anisotropic stack's z step counts as what it
  is): touching objects in a slice stay apart, and objects stacked in z are cut at the neck
  between them. For compact objects: nuclei, cells, grains.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from stratoseg.postprocess._clean import UnionFind, check_fraction, check_labels
from stratoseg.postprocess._instances import assign_to_nearest, distance_watershed

__all__ = [
    "STACKS",
    "assemble",
    "check_stack",
    "link_slices",
    "relative_spacing",
    "split_stack",
    "unique_per_slice",
]

#: How slices become 3-D objects, with the defaults of each way.
STACKS: dict[str, dict[str, Any]] = {
    "link": {"min_overlap": 0.5},
    "split": {"h": 0.5},
    "volume": {},
}


def check_stack(stack: Any) -> tuple[str, dict[str, Any]]:
    """``stack`` (a name of :data:`STACKS` or ``{"kind": name, **params}``) as ``(kind,
    params)`` with the defaults filled in; a ValueError naming it otherwise.

    Examples
    --------
    >>> check_stack({"kind": "split", "h": 1.0})
    ('split', {'h': 1.0})
    >>> check_stack("link")
    ('link', {'min_overlap': 0.5})
    """
    spec = {"kind": stack} if isinstance(stack, str) else dict(stack or {})
    kind = spec.pop("kind", None)
    if kind not in STACKS:
        raise ValueError(f"stack must be one of {sorted(STACKS)}, got {kind!r}")
    unknown = set(spec) - set(STACKS[kind])
    if unknown:
        raise ValueError(f"unknown parameters for stack {kind!r}: {sorted(unknown)}")
    return kind, {**STACKS[kind], **spec}


def relative_spacing(voxel_size: Any) -> tuple[float, ...]:
    """Voxel spacing in units of the finest in-plane (y, x) spacing: distances and ``h`` then
    count in-plane voxels whatever the physical unit, and z counts as its anisotropy.

    Examples
    --------
    >>> relative_spacing((0.05, 0.004, 0.004))
    (12.5, 1.0, 1.0)
    """
    values = tuple(float(v) for v in voxel_size)
    if not values or not all(np.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"voxel size must be positive numbers, got {voxel_size!r}")
    unit = min(values[-2:])
    return tuple(v / unit for v in values)


def unique_per_slice(slices: list[np.ndarray]) -> np.ndarray:
    """Stack 2-D label images, renumbering so that no id appears in two slices."""
    out = np.zeros((len(slices), *slices[0].shape), np.int64)
    offset = 0
    for z, plane in enumerate(slices):
        ids, inverse = np.unique(np.asarray(plane), return_inverse=True)
        inverse = inverse.reshape(plane.shape).astype(np.int64)
        if ids[0] == 0:
            out[z] = np.where(inverse > 0, inverse + offset, 0)
            offset += len(ids) - 1
        else:
            out[z] = inverse + offset + 1
            offset += len(ids)
    return out


def _best(first: np.ndarray, second: np.ndarray, count: np.ndarray) -> np.ndarray:
    """For each distinct ``first``, the index (into the pairs) of its largest ``count``, the
    smaller ``second`` on a tie."""
    order = np.lexsort((second, -count, first))
    keep = np.ones(order.size, bool)
    keep[1:] = first[order][1:] != first[order][:-1]
    return order[keep]


def link_slices(labels: Any, *, min_overlap: float = 0.5) -> np.ndarray:
    """Join per-slice objects into 3-D objects by mutual best overlap between neighbouring
    slices (see the module docstring).

    Parameters
    ----------
    labels : (Z, Y, X) int array
        Ids unique across slices (:func:`unique_per_slice`), 0 for background.
    min_overlap : float
        The least share of the smaller object that the overlap must cover.

    Returns
    -------
    numpy.ndarray
        int32 ids 1..N of the 3-D objects.

    Examples
    --------
    >>> s = np.array([[[1, 1, 0, 2]], [[3, 3, 3, 0]], [[0, 0, 0, 4]]])
    >>> link_slices(s)[:, 0].tolist()
    [[1, 1, 0, 2], [1, 1, 1, 0], [0, 0, 0, 3]]
    """
    lab = check_labels(labels).astype(np.int64)
    if lab.ndim != 3:
        raise ValueError(f"labels must be 3-D (z, y, x), got shape {lab.shape}")
    share = check_fraction(min_overlap, "min_overlap")
    n = int(lab.max(initial=0))
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    sets = UnionFind(n)

    for z in range(lab.shape[0] - 1):
        a, b = lab[z].ravel(), lab[z + 1].ravel()
        both = (a > 0) & (b > 0)
        if not both.any():
            continue
        pairs, count = np.unique(a[both] * (n + 1) + b[both], return_counts=True)
        first, second = pairs // (n + 1), pairs % (n + 1)
        up = _best(first, second, count)  # each object of z: its best in z + 1
        down = _best(second, first, count)  # each object of z + 1: its best in z
        mutual = np.intersect1d(up, down)
        for k in mutual:
            i, j = int(first[k]), int(second[k])
            if count[k] >= share * min(sizes[i], sizes[j]):
                sets.union(i, j)
    roots = sets.roots()
    _, dense = np.unique(roots, return_inverse=True)
    out = dense.reshape(roots.shape)[lab]
    return out.astype(np.int32)


def split_stack(labels: Any, *, h: float = 0.5, sampling: Any = None) -> np.ndarray:
    """Compact 3-D objects from per-slice objects (see the module docstring): borders between
    neighbouring objects of a slice carved out, the rest split by
    :func:`~stratoseg.postprocess.distance_watershed` (h-maxima of height ``h`` in
    ``sampling`` units), the carved voxels then given to the nearest object (eq 4.4).

    Examples
    --------
    Two objects side by side in every slice stay two (their border is carved):

    >>> s = np.zeros((3, 5, 8), int); s[:, 1:4, 1:4] = 1; s[:, 1:4, 4:7] = 2
    >>> len(np.unique(split_stack(s))) - 1
    2
    """
    lab = check_labels(labels)
    if lab.ndim != 3:
        raise ValueError(f"labels must be 3-D (z, y, x), got shape {lab.shape}")
    border = np.zeros(lab.shape, bool)
    for axis in (1, 2):
        a = [slice(None)] * 3
        c = [slice(None)] * 3
        a[axis], c[axis] = slice(None, -1), slice(1, None)
        la, lc = lab[tuple(a)], lab[tuple(c)]
        differ = (la != lc) & (la > 0) & (lc > 0)
        border[tuple(a)] |= differ
        border[tuple(c)] |= differ
    objects = lab > 0
    cores = distance_watershed(objects & ~border, h=h, sampling=sampling)
    return assign_to_nearest(cores, objects & (cores == 0), sampling=sampling).astype(np.int32)


def assemble(
    probs: np.ndarray,
    run: Callable[[np.ndarray], np.ndarray],
    stack: Mapping[str, Any] | str,
    *,
    sampling: Any = None,
) -> np.ndarray:
    """``run`` (a 2-D post-processing of ``(C, Y, X)`` maps) on every slice of ``(C, Z, Y, X)``
    ``probs``, the slices assembled into 3-D objects by ``stack`` (``link`` or ``split``)."""
    kind, params = check_stack(stack)
    planes = unique_per_slice([run(probs[:, z]) for z in range(probs.shape[1])])
    if kind == "link":
        return link_slices(planes, **params)
    if kind == "split":
        return split_stack(planes, sampling=sampling, **params)
    raise ValueError(f"stack {kind!r} does not assemble slices")
