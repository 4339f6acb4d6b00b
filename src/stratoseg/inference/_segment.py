"""Segment a workspace image block by block: ``predictions/<run>`` and MAP labels.

One pass over the blocks (whole chunks of the workspace grid, grouped under a memory budget):
each block's input region is read (and normalised, and its derived channels computed) by a
prefetch thread while the network runs on the previous block; the outputs are written by a
writer thread. A block is marked done only after its chunks are written, so ``resume``
continues a killed run and ends bitwise identical to an uninterrupted one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal

import numpy as np

from stratoseg._cluster import run_on_cluster
from stratoseg._progress import Cancelled, ProgressFn, StopFn
from stratoseg.inference._block import input_region
from stratoseg.inference._cluster import (
    SegmentTask,
    gpu_resources,
    predict_encoded,
    segment_block_task,
)
from stratoseg.inference._plan import block_seed
from stratoseg.inference._prepare import check_options, prepare
from stratoseg.inference._tiling import Tiling
from stratoseg.models import portable_package
from stratoseg.workspace import PredictionRun, Workspace, open_prediction_run
from stratoseg.workspace._runs import EncodedBlock

__all__ = ["segment_workspace"]


def segment_workspace(
    ws: Workspace,
    model: str | os.PathLike[str],
    *,
    run: str | None = None,
    labels: str | None = "segmentation",
    tiling: Tiling = "crop",
    passes: int = 4,
    seed: int = 0,
    device: str = "auto",
    window: int | Sequence[int] | None = None,
    halo: int | Sequence[int] | None = None,
    block: int | Sequence[int] | None = None,
    batch_size: int = 4,
    dtype: Literal["uint8", "float16"] = "uint8",
    resume: bool = False,
    overwrite: bool = False,
    workers: int = 1,
    client: Any = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> PredictionRun:
    """Segment the workspace's image with a model package; see the module docstring.

    With ``client`` (a ``dask.distributed.Client``) the blocks are tasks on its cluster, one
    per block (see :mod:`stratoseg.inference._cluster`); the workspace must be on storage
    every worker sees. ``workers`` > 1 computes blocks in threads of this process instead.

    Returns the finished :class:`~stratoseg.workspace.PredictionRun` (``predictions/<run>``,
    default run name: the model's name, and ``labels/<labels>`` by MAP unless None).
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    check_options(tiling, passes, batch_size)
    image = ws.image()
    if "c" in image.axes:
        raise ValueError(
            f"segmenting needs a single-channel image; {ws.path} has axes {image.axes!r}"
        )
    ready = prepare(
        image.data, model, chunks=ws.chunks, voxel_size=ws.voxel_size, device=device,
        window=window, halo=halo, block=block, tiling=tiling, array=image.array,
        load=client is None,  # a cluster's workers load the network on their own devices
    )  # fmt: skip
    card, plan, reader, predictor = ready.card, ready.plan, ready.reader, ready.predictor
    out = open_prediction_run(
        ws, run or card.name, classes=[c.name for c in card.classes], chunks=ws.chunks,
        dtype=dtype, labels=labels, resume=resume,
        # what the run writes is part of it: a resume must write the same labels and type
        params={**ready.params(tiling, passes, seed), "map_labels": labels, "dtype": dtype},
        overwrite=overwrite,
    )  # fmt: skip
    blocks = plan.blocks()
    todo = [(i, b) for i, b in enumerate(blocks) if i not in out.done]
    total = int(np.prod(plan.shape))
    done_voxels = total - sum(int(np.prod([s.stop - s.start for s in b])) for _, b in todo)
    if progress:
        progress(done_voxels, total)

    task = SegmentTask(
        portable_package(ready.path), device, tuple(plan.axes), reader, out.array, out.labels,
        tiling, passes, seed, batch_size,
    )  # fmt: skip

    def compute(index: int, region: tuple[slice, ...], data: Any) -> EncodedBlock:
        """One block, encoded for storage as it is predicted; ``data``: its input region,
        read ahead (else read here)."""
        read = None if data is None else (lambda _: data)
        return predict_encoded(task, out, predictor, index, region, read)

    def stop() -> None:
        if should_stop is not None and should_stop():
            raise Cancelled("segmentation cancelled")

    def read_ahead(i: int, region: tuple[slice, ...]) -> tuple[slice, ...]:
        return input_region(region, plan.axes, tiling=tiling, passes=passes,
                            seed=block_seed(seed, i))  # fmt: skip

    if client is not None:
        blocks_done = _marked(
            run_on_cluster(
                client, segment_block_task, task, todo, stop, resources=gpu_resources(client),
                name=f"stratoseg-segment-{uuid.uuid4().hex[:8]}",
            ),
            out.mark_done,
        )  # fmt: skip
    elif workers == 1:
        blocks_done = _overlapped(todo, compute, out.write, reader, read_ahead, stop)
    else:
        blocks_done = _in_parallel(todo, compute, out.write, stop, workers)
    try:
        for done in blocks_done:
            done_voxels += done
            if progress:
                progress(done_voxels, total)
    finally:
        getattr(blocks_done, "close", lambda: None)()  # its tasks cancelled, its pools joined
        out.close()
    out.finish()
    ws.journal.append("prediction-finished", name=run or card.name, labels=labels)
    return out


def _marked(results: Iterator[tuple[int, int]], mark: Callable[[int], None]) -> Iterator[int]:
    """Each block marked done as its task returns (its chunks are on disk), then its voxels."""
    try:
        for index, voxels in results:
            mark(index)
            yield voxels
    finally:
        getattr(results, "close", lambda: None)()


Compute = Callable[[int, tuple[slice, ...], Any], EncodedBlock]
Write = Callable[[int, tuple[slice, ...], EncodedBlock], None]


def _overlapped(
    todo: list[tuple[int, tuple[slice, ...]]],
    compute: Compute,
    write: Write,
    reader: Callable[[tuple[slice, ...]], Any],
    read_ahead: Callable[[int, tuple[slice, ...]], tuple[slice, ...]],
    stop: Callable[[], None],
) -> Iterator[int]:
    """One block at a time, its input read by one thread while the previous block computes
    and its outputs written by another while the next one computes; yields the voxels of
    each block once it is on disk."""
    with ThreadPoolExecutor(1) as reads, ThreadPoolExecutor(1) as writes:
        prefetched: dict[int, Future[Any]] = {}
        pending: list[tuple[Future[None], int]] = []

        def prefetch(k: int) -> None:
            if k < len(todo) and k not in prefetched:
                prefetched[k] = reads.submit(reader, read_ahead(*todo[k]))

        for k, (i, region) in enumerate(todo):
            stop()
            prefetch(k)
            prefetch(k + 1)
            probs = compute(i, region, prefetched.pop(k).result())
            pending.append((writes.submit(write, i, region, probs), int(np.prod(probs.shape[1:]))))
            while len(pending) > 1:  # one block being written while the next is computed
                future, voxels = pending.pop(0)
                future.result()
                yield voxels
        for future, voxels in pending:
            future.result()
            yield voxels


def _in_parallel(
    todo: list[tuple[int, tuple[slice, ...]]],
    compute: Compute,
    write: Write,
    stop: Callable[[], None],
    workers: int,
) -> Iterator[int]:
    """``workers`` blocks computed at once (each reading its own input), written in order by
    the caller's thread; yields the voxels of each block once it is on disk."""
    pool = ThreadPoolExecutor(workers)
    try:
        futures = {pool.submit(compute, i, region, None): (i, region) for i, region in todo}
        for future, (i, region) in futures.items():
            stop()
            probs = future.result()
            write(i, region, probs)
            yield int(np.prod(probs.shape[1:]))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
