"""Enhancement channels written to a workspace (``channels/<name>``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import dask.array as da
import numpy as np
import zarr

from stratoseg._progress import Cancelled, ProgressFn, StopFn
from stratoseg.enhance._enhance import EnhanceParams, EnhancePlan, plan_enhance
from stratoseg.workspace import Workspace

__all__ = ["enhance_block_task", "write_enhanced_channel"]


def write_enhanced_channel(
    ws: Workspace,
    params: EnhanceParams | None = None,
    *,
    name: str | None = None,
    overwrite: bool = False,
    seeds_labels: str | None = None,
    seeds: np.ndarray | da.Array | None = None,
    client: Any = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> zarr.Array:
    """Compute the enhanced image of the workspace's raw image and store it as a channel.

    Blocks are whole workspace chunks grouped under a memory budget (each block is read with
    its halo, computed, cropped and written once); the parameters go into the channel's
    attributes, so a model trained on the channel can ask for the identical one at inference.

    Parameters
    ----------
    ws : Workspace
        Open for writing.
    params : EnhanceParams
        Method and parameters.
    name : str, optional
        Channel name; default ``params.method``.
    overwrite : bool
        Replace an existing channel of that name.
    seeds_labels : str, optional
        Geodesic method: a label image of the workspace whose voxels > 0 are the seeds.
    seeds : array, optional
        Geodesic method: the seeds as a mask (or label image, > 0) on the workspace grid, for
        seeds that are not a label image of the workspace (e.g. a napari labels layer).
    client : distributed.Client, optional
        Compute the blocks as tasks on this cluster, one per block
        (:func:`enhance_block_task`: each reads its block and halo from the workspace and
        writes its chunks); the workspace must be on storage every worker sees. The channel
        is the same, byte for byte.
    progress, should_stop : callable, optional
        Progress and cancel callbacks (``docs/architecture.md``).
    """
    p = params or EnhanceParams()
    image = ws.image()
    if "c" in image.axes:
        raise ValueError(
            f"enhancement needs a single-channel image; {ws.path} has axes {image.axes!r}"
        )
    if seeds_labels is not None and seeds is not None:
        raise ValueError("give seeds_labels or seeds, not both")
    mask = None
    if seeds_labels is not None:
        mask = da.from_zarr(ws.labels(seeds_labels)) > 0
    elif seeds is not None:
        mask = (seeds if isinstance(seeds, da.Array) else da.from_array(seeds)) > 0
    plan = plan_enhance(image.data.rechunk(ws.chunks), p, voxel_size=ws.voxel_size, seeds=mask)
    data = plan.lazy()
    details: dict[str, Any] = {"enhance": p.model_dump(), "equation": _EQUATIONS[p.method]}
    if seeds_labels is not None:
        details["seeds"] = f"labels/{seeds_labels} > 0"
    elif seeds is not None:
        details["seeds"] = "a mask given by the caller (> 0)"
    return ws.write_channel(
        name or p.method,
        data,
        overwrite=overwrite,
        progress=progress,
        should_stop=should_stop,
        fill=None if client is None else _on_cluster(client, plan, progress, should_stop),
        **details,
    )


def enhance_block_task(
    shared: tuple[EnhancePlan, zarr.Array], index: int, region: tuple[slice, ...]
) -> tuple[int, int]:
    """One block of a cluster run: enhanced and written to the channel array (whole chunks
    of it, so no two tasks write one chunk); returns ``(index, voxels)``, not arrays."""
    from stratoseg._cluster import check_visible

    plan, target = shared
    check_visible(target)
    target[region] = plan.block(region)
    return index, int(np.prod([s.stop - s.start for s in region]))


def _on_cluster(
    client: Any, plan: EnhancePlan, progress: ProgressFn | None, should_stop: StopFn | None
) -> Callable[[zarr.Array], None]:
    """``fill(target)`` running the blocks of ``plan`` as tasks on ``client``'s cluster."""
    from stratoseg._cluster import run_on_cluster

    def stop() -> None:
        if should_stop is not None and should_stop():
            raise Cancelled("enhancement cancelled")

    def fill(target: zarr.Array) -> None:
        todo = list(enumerate(plan.regions()))
        total, done = int(np.prod(plan.image.shape)), 0
        name = f"stratoseg-enhance-{uuid.uuid4().hex[:8]}"
        results = run_on_cluster(client, enhance_block_task, (plan, target), todo, stop,
                                 name=name)  # fmt: skip
        for _, voxels in results:
            done += voxels
            if progress is not None:
                progress(done, total)

    return fill


_EQUATIONS = {
    "binary": "Hammoumi et al. 2021 eqs (1), (3), (4)",
    "grayscale": "Hammoumi et al. 2021 eqs (5)-(7)",
    "projected": "Hammoumi et al. 2021 eqs (8)-(10)",
    "geodesic": "Hammoumi et al. 2021 eq (2) with eq (4)",
}
