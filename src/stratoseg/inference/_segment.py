"""Segment a workspace image block by block: ``predictions/<run>`` and MAP labels.

One pass over the blocks (whole chunks of the workspace grid, grouped under a memory budget):
each block's input region is read (and normalised, and its derived channels computed) by a
prefetch thread while the network runs on the previous block; the outputs are written by a
writer thread. A block is marked done only after its chunks are written, so ``resume``
continues a killed run and ends bitwise identical to an uninterrupted one.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Literal

import numpy as np

from stratoseg._progress import Cancelled, ProgressFn, StopFn
from stratoseg.inference._block import input_region, predict_block_into
from stratoseg.inference._plan import block_seed
from stratoseg.inference._prepare import check_options, prepare
from stratoseg.inference._tiling import Tiling
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
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> PredictionRun:
    """Segment the workspace's image with a model package; see the module docstring.

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
        window=window, halo=halo, block=block, tiling=tiling,
    )  # fmt: skip
    card, plan, reader, predictor = ready.card, ready.plan, ready.reader, ready.predictor
    out = open_prediction_run(
        ws, run or card.name, classes=[c.name for c in card.classes], chunks=ws.chunks,
        dtype=dtype, labels=labels, params=ready.params(tiling, passes, seed), resume=resume,
        overwrite=overwrite,
    )  # fmt: skip
    blocks = plan.blocks()
    todo = [(i, b) for i, b in enumerate(blocks) if i not in out.done]
    total = int(np.prod(plan.shape))
    done_voxels = total - sum(int(np.prod([s.stop - s.start for s in b])) for _, b in todo)
    if progress:
        progress(done_voxels, total)

    def compute(index: int, region: tuple[slice, ...], data: Any) -> EncodedBlock:
        """One block, encoded for storage as it is predicted (never whole in float32);
        ``data``: its input region, read ahead (else read here)."""
        encoded = out.encoder(region)
        predict_block_into(
            region, plan.axes, reader if data is None else (lambda _: data), predictor,
            encoded.put, tiling=tiling, passes=passes, seed=block_seed(seed, index),
            batch_size=batch_size,
        )  # fmt: skip
        return encoded

    def stop() -> None:
        if should_stop is not None and should_stop():
            raise Cancelled("segmentation cancelled")

    with ThreadPoolExecutor(1) as reads, ThreadPoolExecutor(1) as writes:
        pending: list[Future[None]] = []
        prefetched: dict[int, Future[Any]] = {}

        def prefetch(k: int) -> None:
            if k < len(todo) and k not in prefetched:
                i, region = todo[k]
                r = input_region(
                    region, plan.axes, tiling=tiling, passes=passes, seed=block_seed(seed, i)
                )
                prefetched[k] = reads.submit(reader, r)

        if workers == 1:
            for k, (i, region) in enumerate(todo):
                stop()
                prefetch(k)
                prefetch(k + 1)
                probs = compute(i, region, prefetched.pop(k).result())
                pending.append(writes.submit(out.write, i, region, probs))
                while len(pending) > 1:  # one block being written while the next is computed
                    pending.pop(0).result()
                done_voxels += int(np.prod(probs.shape[1:]))
                if progress:
                    progress(done_voxels, total)
        else:
            pool = ThreadPoolExecutor(workers)
            try:
                futures = {pool.submit(compute, i, region, None): (i, region) for i, region in todo}
                for future, (i, region) in futures.items():
                    stop()
                    probs = future.result()
                    out.write(i, region, probs)
                    done_voxels += int(np.prod(probs.shape[1:]))
                    if progress:
                        progress(done_voxels, total)
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        for f in pending:
            f.result()
    out.finish()
    ws.journal.append("prediction-finished", name=run or card.name, labels=labels)
    return out
