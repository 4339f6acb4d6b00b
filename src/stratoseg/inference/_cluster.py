"""Block tasks on a dask.distributed cluster: one task per block, arrays never in the graph.

The process that runs the job (the *driver*) plans the blocks, opens the output arrays and
submits one task per unfinished block. A task carries a small description (the model package's
path, the input reader with its whole-volume values, the output arrays' handles, the tiling)
and the block's index and region; it refuses to run where the output arrays are not
visible. The worker loads the network once per process
(:func:`~stratoseg.inference._prepare.cached_predictor`: the weights are read from the package
file, never sent), reads its input region from the shared storage,
predicts it, writes its chunks and returns ``(index, voxels)``. The driver marks a block done
only when its task has returned, so a task lost with its worker (rerun by dask elsewhere) or a
driver killed mid-run never claims a block that is not on disk, and ``resume`` redoes exactly
the unmarked ones. Blocks are whole chunks, so no two tasks write the same chunk, and a rerun
of a task writes the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["SegmentTask", "gpu_resources", "predict_encoded", "segment_block_task"]


@dataclass(frozen=True)
class SegmentTask:
    """What every block task of one segmentation run shares: small (zarr array handles, never
    array data; the package's :func:`~stratoseg.models.portable_package` reference, never
    weights)."""

    model: str
    device: str
    axes: tuple[Any, ...]
    reader: Any
    predictions: Any
    labels: Any
    tiling: str
    passes: int
    seed: int
    batch_size: int


def predict_encoded(
    task: SegmentTask,
    out: Any,
    predictor: Any,
    index: int,
    region: tuple[slice, ...],
    read: Any = None,
) -> Any:
    """Block ``index`` predicted and encoded in ``out``'s storage types (never whole in
    float32); ``read`` gives its input (default: the task's reader). Shared by the
    in-process pipeline and :func:`segment_block_task`."""
    from stratoseg.inference._block import predict_block_into
    from stratoseg.inference._plan import block_seed

    encoded = out.encoder(region)
    predict_block_into(
        region, task.axes, read or task.reader, predictor, encoded.put,
        tiling=task.tiling, passes=task.passes,  # type: ignore[arg-type]
        seed=block_seed(task.seed, index), batch_size=task.batch_size,
    )  # fmt: skip
    return encoded


def segment_block_task(task: SegmentTask, index: int, region: tuple[slice, ...]) -> tuple[int, int]:
    """Predict and write one block on a worker; returns ``(index, voxels)``, not arrays."""
    from stratoseg._cluster import check_visible
    from stratoseg.inference._prepare import cached_predictor
    from stratoseg.models import package_on_this_machine
    from stratoseg.workspace import PredictionRun

    for array in (task.predictions, task.labels):
        check_visible(array)
    predictor, _ = cached_predictor(package_on_this_machine(task.model), task.device)
    out = PredictionRun(task.predictions, task.labels)
    try:
        out.write_chunks(region, predict_encoded(task, out, predictor, index, region))
    finally:
        out.close()
    return index, int(np.prod([s.stop - s.start for s in region]))


def gpu_resources(client: Any) -> dict[str, float] | None:
    """``{"GPU": 1}`` when every worker of the cluster declares a ``GPU`` resource (one task
    per GPU at a time), else None."""
    workers = client.scheduler_info().get("workers", {})
    if workers and all("GPU" in (w.get("resources") or {}) for w in workers.values()):
        return {"GPU": 1}
    return None
