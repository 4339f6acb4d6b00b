"""Block-wise post-processing for volumes larger than memory, instance ids stitched across
blocks.

Each block is processed with a halo and cropped. Instance ids are made unique with per-block
offsets, and pieces of one object cut by a block face are joined. Two face-adjacent voxels
``p`` (last core layer of block A) and ``q`` (first core layer of block B) are joined when
*both* blocks, which see past the face into their halo, put ``p`` and ``q`` in the same
object. Joined pieces are merged with a union-find over this adjacency graph. Where every
object is smaller than the halo, each block sees whole objects, so the result equals the
whole-array result up to the numbering of the objects (ids are numbered in block order, then
in order of first appearance within a block).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from stratoseg._progress import Cancelled
from stratoseg.postprocess._methods import METHODS, postprocess

__all__ = ["postprocess_blockwise"]


def _grid(shape: Sequence[int], block: Sequence[int]) -> list[tuple[slice, ...]]:
    ranges = [range(0, s, b) for s, b in zip(shape, block, strict=True)]
    return [tuple(slice(o, min(o + b, s)) for o, b, s in zip(origin, block, shape, strict=True))
            for origin in itertools.product(*ranges)]  # fmt: skip


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = np.arange(n + 1, dtype=np.int64)

    def find(self, a: int) -> int:
        root = a
        while self.parent[root] != root:
            root = int(self.parent[root])
        while self.parent[a] != root:
            self.parent[a], a = root, int(self.parent[a])
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def postprocess_blockwise(
    probs: Any,
    method: str,
    *,
    out: Any,
    block: Sequence[int],
    halo: int | Sequence[int],
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    **params: Any,
) -> int:
    """Run :func:`~stratoseg.postprocess.postprocess` block by block into ``out``.

    Parameters
    ----------
    probs : array-like (C, *spatial)
        Class probabilities, read by slices (zarr, dask or numpy).
    method : str
        A key of :data:`~stratoseg.postprocess.METHODS`; ``params`` override its defaults.
    out : array-like (*spatial)
        Written by slices: ``uint8`` or wider for ``map``, an integer type wide enough for the
        number of objects otherwise. Blocks should be whole chunks of it.
    block, halo
        Block shape (voxels per axis) and the halo read around each block (one number for
        every axis, or one per axis). The halo must be larger than the objects for the result
        to equal the whole-array one.
    progress, should_stop
        ``progress(done, total)`` after each block of each pass; ``should_stop()`` before each
        block raises :class:`~stratoseg.Cancelled`.

    Returns
    -------
    int
        The number of objects (instance methods) or of classes (``map``).

    Notes
    -----
    Instance methods take two passes: the first writes per-block ids and records the face
    layers, the second rewrites each block with the final ids (each block's chunks are its
    own, so no two tasks touch one chunk).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    spatial = tuple(int(s) for s in probs.shape[1:])
    nd = len(spatial)
    if tuple(out.shape) != spatial:
        raise ValueError(f"out has shape {tuple(out.shape)}, the probabilities {spatial}")
    halos = (halo,) * nd if isinstance(halo, int) else tuple(int(h) for h in halo)
    blk = tuple(int(b) for b in block)
    if len(blk) != nd or len(halos) != nd or min(blk) < 1 or min(halos) < 0:
        raise ValueError(f"block {block} and halo {halo} need {nd} positive entries")
    semantic = not METHODS[method].gives_instances(params)
    if not semantic and min(halos) < 1:
        raise ValueError(f"halo must be at least 1 voxel for instances, got {halo}")
    blocks = _grid(spatial, blk)
    total = len(blocks) * (1 if semantic else 2)
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    counts: list[int] = []
    faces: dict[tuple[int, int, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for b, core in enumerate(blocks):
        if should_stop is not None and should_stop():
            raise Cancelled("post-processing stopped")
        ext = tuple(slice(max(s.start - h, 0), min(s.stop + h, n))
                    for s, h, n in zip(core, halos, spatial, strict=True))  # fmt: skip
        labels = postprocess(np.asarray(probs[tuple([slice(None), *ext])]), method, **params)
        inner = tuple(slice(s.start - e.start, s.stop - e.start)
                      for s, e in zip(core, ext, strict=True))  # fmt: skip
        if semantic:
            out[core] = labels[inner]
            step()
            continue
        ids, local = np.unique(labels[inner], return_inverse=True)
        local = local.reshape(labels[inner].shape).astype(np.int64)
        if ids[0] != 0:
            local += 1
        counts.append(int(len(ids) - (1 if ids[0] == 0 else 0)))
        out[core] = local
        for axis in range(nd):
            lo, hi = inner[axis].start, inner[axis].stop
            if core[axis].stop < spatial[axis]:  # a face with the next block
                p = labels[_take(inner, axis, hi - 1)]
                q = labels[_take(inner, axis, hi)]
                faces[(b, axis, "hi")] = (p, q, local[_layer(nd, axis, -1)])
            if core[axis].start > 0:
                p = labels[_take(inner, axis, lo - 1)]
                q = labels[_take(inner, axis, lo)]
                faces[(b, axis, "lo")] = (p, q, local[_layer(nd, axis, 0)])
        step()
    if semantic:
        return int(np.asarray(probs.shape)[0])

    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    uf = _UnionFind(int(offsets[-1]))
    index = {tuple(s.start for s in core): i for i, core in enumerate(blocks)}
    for (b, axis, side), (pa, qa, la) in faces.items():
        if side != "hi":
            continue
        core = blocks[b]
        c = index[tuple(s.stop if i == axis else s.start for i, s in enumerate(core))]
        pb, qb, lb = faces[(c, axis, "lo")]
        same = (pa == qa) & (pa != 0) & (pb == qb) & (pb != 0) & (la > 0) & (lb > 0)
        pairs = np.unique(np.stack([la[same] + offsets[b], lb[same] + offsets[c]]), axis=1)
        for x, y in pairs.T:
            uf.union(int(x), int(y))
    roots = np.array([0] + [uf.find(i) for i in range(1, int(offsets[-1]) + 1)], np.int64)
    _, final = np.unique(roots, return_inverse=True)  # 0 stays 0; roots in order of first id
    for b, core in enumerate(blocks):
        if should_stop is not None and should_stop():
            raise Cancelled("post-processing stopped")
        local = np.asarray(out[core]).astype(np.int64)
        table = final[np.concatenate([[0], np.arange(1, counts[b] + 1) + offsets[b]])]
        out[core] = table[local]
        step()
    return int(final.max(initial=0))


def _take(inner: tuple[slice, ...], axis: int, at: int) -> tuple[slice | int, ...]:
    """The one-voxel layer ``at`` of ``axis`` within the core's extent on the other axes."""
    return tuple(at if i == axis else s for i, s in enumerate(inner))


def _layer(nd: int, axis: int, at: int) -> tuple[slice | int, ...]:
    return tuple(at if i == axis else slice(None) for i in range(nd))
