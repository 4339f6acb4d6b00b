"""Enhancement channels written to a workspace (``channels/<name>``)."""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np
import zarr

from stratoseg._progress import ProgressFn, StopFn
from stratoseg.enhance._enhance import EnhanceParams, enhance_volume
from stratoseg.workspace import Workspace

__all__ = ["write_enhanced_channel"]


def write_enhanced_channel(
    ws: Workspace,
    params: EnhanceParams | None = None,
    *,
    name: str | None = None,
    overwrite: bool = False,
    seeds_labels: str | None = None,
    seeds: np.ndarray | da.Array | None = None,
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
    data = enhance_volume(image.data.rechunk(ws.chunks), p, voxel_size=ws.voxel_size, seeds=mask)
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
        **details,
    )


_EQUATIONS = {
    "binary": "Hammoumi et al. 2021 eqs (1), (3), (4)",
    "grayscale": "Hammoumi et al. 2021 eqs (5)-(7)",
    "projected": "Hammoumi et al. 2021 eqs (8)-(10)",
    "geodesic": "Hammoumi et al. 2021 eq (2) with eq (4)",
}
