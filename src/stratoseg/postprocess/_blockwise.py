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
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stratoseg._cluster import check_visible
from stratoseg._progress import Cancelled
from stratoseg.postprocess._clean import UnionFind
from stratoseg.postprocess._methods import METHODS, postprocess

__all__ = ["BlockJob", "label_block", "postprocess_blockwise", "relabel_block"]


def _grid(shape: Sequence[int], block: Sequence[int]) -> list[tuple[slice, ...]]:
    ranges = [range(0, s, b) for s, b in zip(shape, block, strict=True)]
    return [tuple(slice(o, min(o + b, s)) for o, b, s in zip(origin, block, shape, strict=True))
            for origin in itertools.product(*ranges)]  # fmt: skip


@dataclass(frozen=True)
class BlockJob:
    """What every block of one block-wise run shares (array handles, never array data)."""

    probs: Any
    out: Any
    method: str
    params: dict[str, Any]
    halos: tuple[int, ...]
    semantic: bool

    @property
    def spatial(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.probs.shape[1:])


Faces = dict[tuple[int, str], tuple[np.ndarray, np.ndarray, np.ndarray]]


def label_block(job: BlockJob, core: tuple[slice, ...]) -> tuple[int, Faces]:
    """First pass of one block: post-processed with its halo, its core written to ``out``
    (per-block ids 1..count for instances); returns ``count`` and, for instances, its face
    layers ``{(axis, "lo" | "hi"): (p, q, local ids)}`` for the stitching."""
    spatial, nd = job.spatial, len(job.spatial)
    ext = tuple(slice(max(s.start - h, 0), min(s.stop + h, n))
                for s, h, n in zip(core, job.halos, spatial, strict=True))  # fmt: skip
    labels = postprocess(np.asarray(job.probs[tuple([slice(None), *ext])]), job.method,
                         **job.params)  # fmt: skip
    inner = tuple(slice(s.start - e.start, s.stop - e.start)
                  for s, e in zip(core, ext, strict=True))  # fmt: skip
    if job.semantic:
        job.out[core] = labels[inner]
        return 0, {}
    ids, local = np.unique(labels[inner], return_inverse=True)
    local = local.reshape(labels[inner].shape).astype(np.int64)
    if ids[0] != 0:
        local += 1
    job.out[core] = local
    faces: Faces = {}
    for axis in range(nd):
        lo, hi = inner[axis].start, inner[axis].stop
        if core[axis].stop < spatial[axis]:  # a face with the next block
            p, q = labels[_take(inner, axis, hi - 1)], labels[_take(inner, axis, hi)]
            faces[(axis, "hi")] = (p, q, local[_layer(nd, axis, -1)])
        if core[axis].start > 0:
            p, q = labels[_take(inner, axis, lo - 1)], labels[_take(inner, axis, lo)]
            faces[(axis, "lo")] = (p, q, local[_layer(nd, axis, 0)])
    return int(len(ids) - (1 if ids[0] == 0 else 0)), faces


def relabel_block(job: BlockJob, core: tuple[slice, ...], table: np.ndarray) -> None:
    """Second pass of one block: its per-block ids replaced by the final ones (``table``
    maps 0..count to them)."""
    job.out[core] = table[np.asarray(job.out[core]).astype(np.int64)]


def postprocess_blockwise(
    probs: Any,
    method: str,
    *,
    out: Any,
    block: Sequence[int],
    halo: int | Sequence[int],
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    client: Any = None,
    scratch: str | os.PathLike[str] | None = None,
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
    client : distributed.Client, optional
        Run each block of each pass as a task on this cluster (:func:`label_block_task`,
        :func:`relabel_block_task`); ``probs`` and ``out`` must then be zarr arrays on
        storage every worker sees, and ``scratch`` a folder there for the face layers
        (tasks return counts, not arrays). The result is the same, byte for byte.

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
    if client is not None and scratch is None:
        raise ValueError("a cluster run needs a scratch folder every worker sees")
    job = BlockJob(probs, out, method, dict(params), halos, semantic)
    blocks = _grid(spatial, blk)
    total = len(blocks) * (1 if semantic else 2)
    done = 0

    def stop() -> None:
        if should_stop is not None and should_stop():
            raise Cancelled("post-processing stopped")

    def step() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    counts = [0] * len(blocks)
    faces: dict[tuple[int, int, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    if client is None:
        for b, core in enumerate(blocks):
            stop()
            counts[b], found = label_block(job, core)
            faces.update({(b, *k): v for k, v in found.items()})
            step()
    else:
        assert scratch is not None  # checked above
        folder = Path(scratch) / f"faces-{uuid.uuid4().hex[:8]}"
        folder.mkdir()
        todo = list(enumerate(blocks))
        for b, count in _tasks(client, label_block_task, (job, str(folder)), todo, stop):
            counts[b] = count
            faces.update({(b, *k): v for k, v in _load_faces(folder / f"{b}.npz").items()})
            step()
    if semantic:
        return int(np.asarray(probs.shape)[0])

    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    uf = UnionFind(int(offsets[-1]))
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
    tables = [final[np.concatenate([[0], np.arange(1, counts[b] + 1) + offsets[b]])]
              for b in range(len(blocks))]  # fmt: skip
    if client is None:
        for b, core in enumerate(blocks):
            stop()
            relabel_block(job, core, tables[b])
            step()
    else:
        todo2 = [(b, (core, tables[b])) for b, core in enumerate(blocks)]
        for _ in _tasks(client, relabel_block_task, job, todo2, stop):
            step()
    return int(final.max(initial=0))


def label_block_task(
    shared: tuple[BlockJob, str], index: int, core: tuple[slice, ...]
) -> tuple[int, int]:
    """:func:`label_block` on a worker: the face layers saved to ``<folder>/<index>.npz``;
    returns ``(index, count)``."""
    job, folder = shared
    check_visible(job.out)
    count, faces = label_block(job, core)
    arrays = {f"{axis}-{side}-{k}": a for (axis, side), trio in faces.items()
              for k, a in zip("pql", trio, strict=True)}  # fmt: skip
    path = Path(folder) / f"{index}.npz"
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp.npz")
    np.savez(tmp, **arrays)  # type: ignore[arg-type]
    os.replace(tmp, path)  # whole or absent, even when the task is rerun
    return index, count


def relabel_block_task(
    job: BlockJob, index: int, item: tuple[tuple[slice, ...], np.ndarray]
) -> tuple[int, int]:
    """:func:`relabel_block` on a worker; returns ``(index, 0)``."""
    check_visible(job.out)
    relabel_block(job, *item)
    return index, 0


def _load_faces(path: Path) -> Faces:
    faces: dict[tuple[int, str], list[np.ndarray]] = {}
    with np.load(path) as saved:
        for key in sorted(saved.files, key=lambda k: "pql".index(k[-1])):
            axis, side, _ = key.split("-")
            faces.setdefault((int(axis), side), []).append(saved[key])
    return {k: (v[0], v[1], v[2]) for k, v in faces.items()}


def _tasks(
    client: Any, fn: Callable[..., tuple[int, int]], shared: Any, todo: list[Any],
    stop: Callable[[], None],
) -> Iterator[tuple[int, int]]:  # fmt: skip
    from stratoseg._cluster import run_on_cluster

    name = f"stratoseg-{fn.__name__.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
    yield from run_on_cluster(client, fn, shared, todo, stop, name=name)  # closed with this


def _take(inner: tuple[slice, ...], axis: int, at: int) -> tuple[slice | int, ...]:
    """The one-voxel layer ``at`` of ``axis`` within the core's extent on the other axes."""
    return tuple(at if i == axis else s for i, s in enumerate(inner))


def _layer(nd: int, axis: int, at: int) -> tuple[slice | int, ...]:
    return tuple(at if i == axis else slice(None) for i in range(nd))
