"""Correction tools on one object: find its box, split, merge, delete, fill holes.

Each works on the object's bounding box (read from the label array, grown chunk by chunk only
as far as the object reaches), never the whole volume, and returns the box and its new values
for :class:`stratoseg.workspace.EditLog` to write as one undoable edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

from stratoseg.postprocess._clean import fill_one

__all__ = [
    "TOOLS",
    "correct",
    "delete_object",
    "fill_object",
    "instances_from_classes",
    "keep_ids",
    "merge_objects",
    "object_box",
    "rerun_region",
    "review_objects",
    "split_object",
]

Box = tuple[slice, ...]


def object_box(labels: Any, obj: int, near: Sequence[int], *, margin: int = 1) -> Box:
    """The bounding box of object ``obj`` (plus ``margin``), found around the voxel ``near``.

    Starts from one chunk around ``near`` and grows each side by a chunk while the object
    touches it, so the reads follow the object's size, not the volume's. Raises
    ``ValueError`` when ``obj`` is not found there.
    """
    shape = tuple(int(s) for s in labels.shape)
    chunks = tuple(int(c) for c in getattr(labels, "chunks", shape))
    if len(near) != len(shape):
        raise ValueError(f"near must have {len(shape)} coordinates, got {near}")
    lo = [max(int(p) - c // 2, 0) for p, c in zip(near, chunks, strict=True)]
    hi = [min(int(p) + c // 2 + 1, s) for p, c, s in zip(near, chunks, shape, strict=True)]
    while True:
        region = np.asarray(labels[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))])
        mask = region == obj
        if not mask.any():
            raise ValueError(f"object {obj} is not at or near {tuple(near)}")
        grown = False
        for ax in range(len(shape)):
            first = np.take(mask, 0, axis=ax).any()
            last = np.take(mask, -1, axis=ax).any()
            if first and lo[ax] > 0:
                lo[ax], grown = max(lo[ax] - chunks[ax], 0), True
            if last and hi[ax] < shape[ax]:
                hi[ax], grown = min(hi[ax] + chunks[ax], shape[ax]), True
        if not grown:
            break
    where = np.nonzero(mask)
    return tuple(slice(max(lo[i] + int(w.min()) - margin, 0),
                       min(lo[i] + int(w.max()) + 1 + margin, shape[i]))
                 for i, w in enumerate(where))  # fmt: skip


def split_object(
    region: np.ndarray,
    obj: int,
    *,
    next_id: int,
    seeds: Sequence[Sequence[int]] | None = None,
    h: float = 1.0,
) -> np.ndarray:
    """Split object ``obj`` of ``region`` by a watershed inside it only.

    Markers are the ``seeds`` (voxel coordinates within the region; each seed one part) or,
    without seeds, the h-maxima of the distance to the object's outside (one part per dome).
    The watershed floods the negated distance; with seeds, the distance is first capped at
    the shallowest seed's, so that the deep part of the object is shared out by geodesic
    nearness to the seeds and the cut still falls at the neck.
    The parts keep ``obj`` for the first and take ``next_id``, ``next_id + 1``, ... for the
    others; other objects are untouched. Returns the new region (a copy).
    """
    out = np.array(region, copy=True)
    mask = out == obj
    if not mask.any():
        raise ValueError(f"object {obj} is not in the region")
    dist = ndi.distance_transform_edt(mask)
    markers = np.zeros(out.shape, np.int32)
    if seeds:
        for k, s in enumerate(seeds, start=1):
            point = tuple(int(c) for c in s)
            if len(point) != out.ndim or not all(
                0 <= c < n for c, n in zip(point, out.shape, strict=True)
            ):
                raise ValueError(f"seed {tuple(s)} is outside the region {out.shape}")
            if not mask[point]:
                raise ValueError(f"seed {tuple(s)} is not inside object {obj}")
            markers[point] = k
    else:
        peaks = h_maxima(dist, float(h)).astype(bool) & mask
        markers, _ = ndi.label(peaks, structure=np.ones((3,) * out.ndim, bool))
    topography = -dist
    if seeds:
        # voxels deeper than the shallowest seed are one plateau, flooded from the nearest
        # seed (geodesically): a seed off its object's dome still gets that dome
        topography = -np.minimum(dist, min(dist[tuple(int(c) for c in s)] for s in seeds))
    parts = watershed(topography, markers=markers, mask=mask, connectivity=1)
    ids = np.unique(parts[mask])
    ids = ids[ids > 0]
    if len(ids) < 2:
        return out
    new = {int(k): (obj if i == 0 else next_id + i - 1) for i, k in enumerate(ids)}
    for k, value in new.items():
        out[parts == k] = value
    return out


def merge_objects(region: np.ndarray, ids: Sequence[int]) -> np.ndarray:
    """Give every object of ``ids`` the first id (a copy)."""
    if len(ids) < 2:
        raise ValueError(f"merging needs at least two objects, got {list(ids)}")
    out = np.array(region, copy=True)
    out[np.isin(out, [int(i) for i in ids[1:]])] = int(ids[0])
    return out


def delete_object(region: np.ndarray, *objects: int) -> np.ndarray:
    """Set the objects ``objects`` to background (a copy)."""
    out = np.array(region, copy=True)
    out[np.isin(out, [int(i) for i in objects])] = 0
    return out


def fill_object(region: np.ndarray, obj: int) -> np.ndarray:
    """Fill the holes of object ``obj`` (background it encloses on its own; a copy).

    In 3-D a hole is what the object encloses in the volume or on any z slice: a gap seen on
    a slice that opens at the object's top or bottom (a tunnel) is filled too, as the person
    looking at that slice expects.
    """
    out = np.array(region, copy=True)
    fill_one(out, obj)
    if out.ndim == 3:
        for plane in out:
            fill_one(plane, obj)
    return out


TOOLS = ("split", "merge", "delete", "fill")


def correct(log: Any, tool: str, points: Sequence[Sequence[float]], *, h: float = 1.0) -> Any:
    """Run a correction ``tool`` on the objects under ``points`` and record it in ``log``.

    ``log`` is a :class:`stratoseg.workspace.EditLog`; ``points`` are voxel coordinates of the
    label image. ``split``: the points lie on one object; two or more are the seeds of its
    parts, one splits it at the peaks of its distance map (marker height ``h``). ``merge``:
    the objects under the points become the first one. ``delete`` and ``fill``: each object
    under a point. Returns the :class:`~stratoseg.workspace.Edit` (None if nothing changed).
    """
    if tool not in TOOLS:
        raise ValueError(f"tool must be one of {TOOLS}, got {tool!r}")
    arr = log.array
    shape = tuple(arr.shape)
    voxels = _voxels(points, shape)
    if not voxels:
        raise ValueError("place at least one point on an object first")
    ids = [int(arr[v]) for v in voxels]
    if tool == "split":
        obj = ids[0]
        if obj == 0 or any(i != obj for i in ids):
            raise ValueError(f"the points must all lie on one object to split it, got ids {ids}")
        box = object_box(arr, obj, voxels[0])
        region = np.asarray(arr[box])
        seeds = None
        if len(voxels) > 1:
            seeds = [tuple(c - s.start for c, s in zip(v, box, strict=True)) for v in voxels]
        new = split_object(region, obj, next_id=log.next_label(), seeds=seeds, h=h)
        return log.apply(box, new, kind="split", before=region, object=obj)
    objects = list(dict.fromkeys(i for i in ids if i > 0))
    if not objects:
        raise ValueError("no object under the points (all background)")
    if tool == "merge" and len(objects) < 2:
        raise ValueError(f"merging needs points on two objects or more, got {objects}")
    changed = objects[1:] if tool == "merge" else objects
    near = {i: v for v, i in zip(voxels, ids, strict=True)}
    boxes = [object_box(arr, i, near[i]) for i in changed]
    box = tuple(slice(min(b[a].start for b in boxes), max(b[a].stop for b in boxes))
                for a in range(len(shape)))  # fmt: skip
    region = np.asarray(arr[box])
    if tool == "merge":
        new = merge_objects(region, objects)
    elif tool == "delete":
        new = delete_object(region, *objects)
    else:
        new = region
        for i in objects:
            new = fill_object(new, i)
    return log.apply(box, new, kind=tool, before=region, objects=objects)


def review_objects(ws: Any, labels: str, points: Sequence[Sequence[float]]) -> int:
    """Mark the objects under ``points`` reviewed (their voxels only, in the reviewed mask of
    label image ``labels`` of workspace ``ws``); journal it; return the voxels marked."""
    arr = ws.labels(labels)
    mask = ws.reviewed(labels)
    marked = 0
    for v in _voxels(points, tuple(arr.shape)):
        obj = int(arr[v])
        if obj == 0:
            raise ValueError(f"no object under the point {v} (background)")
        box = object_box(arr, obj, v, margin=0)
        inside = np.asarray(arr[box]) == obj
        mask[box] = np.maximum(np.asarray(mask[box]), inside.astype(np.uint8))
        count = int(inside.sum())
        marked += count
        box_json = [[s.start, s.stop] for s in box]
        ws.journal.append("reviewed", labels=labels, object=obj, box=box_json, voxels=count)
    return marked


def _voxels(points: Sequence[Sequence[float]], shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Points rounded to voxels, each checked to lie in ``shape``."""
    out = []
    for p in points:
        v = tuple(round(float(c)) for c in p)
        if len(v) != len(shape) or not all(0 <= c < n for c, n in zip(v, shape, strict=True)):
            raise ValueError(f"point {tuple(p)} is outside the label image {shape}")
        out.append(v)
    return out


def rerun_region(
    log: Any, probs: Any, method: str, region: Sequence[slice], **params: Any
) -> np.ndarray:
    """New labels for ``region`` from a post-processing ``method`` on ``probs[:, region]``.

    Each new object keeps the id of the object it overlaps most in the region now (see
    :func:`keep_ids`), so objects that go on beyond the region stay one object; the others
    get fresh ids (from ``log.next_label``). Class maps (``map``) are returned as they are.
    Nothing is written: apply the result with ``log.apply(region, values, kind="rerun")``.
    """
    from stratoseg.postprocess._methods import METHODS, postprocess

    box = tuple(region)
    labels = postprocess(np.asarray(probs[tuple([slice(None), *box])]), method, **params)
    if not METHODS[method].gives_instances(params):
        return labels
    return keep_ids(log, labels, np.asarray(log.array[box]))


def keep_ids(log: Any, labels: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Renumber the objects of ``labels`` (new labels of a region) against ``before`` (the
    region's labels now): each old object's id goes to the new object that overlaps it most
    (largest overlaps first, ties to the smaller new and old id; each id used once), every
    other new object gets a fresh id from ``log.next_label``.

    Examples
    --------
    Old object 1 was split in two (5 and 6, one voxel each of it: 5 keeps 1, 6 is new);
    7 covers old 2::

        before = [[1, 1, 0, 2, 2]], labels = [[5, 6, 0, 7, 7]]  ->  [[1, N, 0, 2, 2]]
    """
    labels = np.asarray(labels)
    before = np.asarray(before)
    if labels.shape != before.shape:
        raise ValueError(f"labels {labels.shape} and before {before.shape} differ in shape")
    both = (labels > 0) & (before > 0)
    pairs, counts = np.unique(np.stack([labels[both], before[both]]).astype(np.int64), axis=1,
                              return_counts=True)  # fmt: skip
    order = np.lexsort((pairs[1], pairs[0], -counts))
    given: dict[int, int] = {}
    taken: set[int] = set()
    for new, old in pairs[:, order].T.tolist():
        if new not in given and old not in taken:
            given[new] = old
            taken.add(old)
    ids = np.unique(labels[labels > 0])
    table = np.zeros(int(labels.max(initial=0)) + 1, np.int64)
    for i in ids.tolist():
        table[i] = given[i] if i in given else log.next_label()
    return table[labels].astype(log.array.dtype)


def instances_from_classes(
    log: Any,
    classes: np.ndarray,
    before: np.ndarray,
    *,
    object_class: int = 1,
    touching_class: int = 2,
) -> np.ndarray:
    """Instances from an edited background / object / touching (/ gap) class map: the
    connected components of the object class, touching voxels given to the nearest object
    (eq 4.4), other classes background; ids kept from ``before`` (the region's labels now)
    where the objects overlap, fresh from ``log.next_label`` otherwise (:func:`keep_ids`; the
    way back from the touching view)."""
    from stratoseg.postprocess._methods import label_classes

    labels = label_classes(np.asarray(classes), object_class, touching_class)
    return keep_ids(log, labels, before)
