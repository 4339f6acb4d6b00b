"""Post-processing a workspace's prediction run into one of its label images."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import zarr

from stratoseg._blocks import group_chunks
from stratoseg._progress import ProgressFn, StopFn
from stratoseg.io._zarr import CheckedArray
from stratoseg.postprocess._blockwise import postprocess_blockwise
from stratoseg.postprocess._methods import METHODS
from stratoseg.postprocess._stack import check_stack, relative_spacing
from stratoseg.workspace import Workspace, check_name

__all__ = ["DEFAULT_HALO", "postprocess_workspace"]

#: Voxels of context read around each block: objects smaller than this are stitched exactly.
DEFAULT_HALO = 32
#: The scratch folders of the post-processing runs of this process that have not ended.
_ACTIVE: set[Path] = set()


def postprocess_workspace(
    ws: Workspace,
    run: str,
    method: str,
    *,
    labels: str,
    overwrite: bool = False,
    block: Sequence[int] | None = None,
    halo: int | Sequence[int] | None = None,
    client: Any = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    **params: Any,
) -> zarr.Array:
    """Turn ``predictions/<run>`` into ``labels/<labels>`` with a post-processing method.

    Works block by block (blocks of whole chunks with a halo of ``DEFAULT_HALO`` voxels by
    default, instance ids stitched across blocks: :func:`postprocess_blockwise`) into a
    scratch array inside the workspace, then writes the label image in one go, so an
    interrupted run leaves the old labels (or none), never half of new ones. The method, the
    run and the parameters (defaults included) go into the journal.

    Parameters
    ----------
    ws : Workspace
        Open for writing.
    run : str
        A finished prediction run.
    method : str
        A key of :data:`~stratoseg.postprocess.METHODS`; ``params`` override its defaults.
    labels : str
        The label image to write (uint8 classes for ``map``, uint32 instance ids otherwise).
    overwrite : bool
        Replace an existing label image of that name (its reviewed mask is kept).
    client : distributed.Client, optional
        Run the blocks as tasks on this cluster (see :func:`postprocess_blockwise`); the
        workspace must be on storage every worker sees. The labels are the same.
    params
        The method's parameters; also ``stack`` (a 2-D model's slices assembled into 3-D
        objects, see :func:`~stratoseg.postprocess.postprocess`). Distances use the
        workspace's voxel size relative to its finest in-plane spacing (``sampling``), so
        an anisotropic stack is measured as it is, unless ``sampling`` is given.
    """
    check_name(labels, what="labels name")
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    if run not in ws.predictions():
        raise ValueError(
            f"run {run!r} not in the predictions of {ws.path}; it has {ws.predictions() or 'none'}"
        )
    # reads name a damaged chunk file rather than failing in the codec
    probs = CheckedArray(ws.array(f"predictions/{run}"), ws.path / "predictions" / run)
    if "blocks_done" in probs.attrs and not probs.attrs.get("complete", False):
        raise ValueError(
            f"predictions/{run} is incomplete; finish it first (stratoseg segment ... --resume)"
        )
    if ws.labels_in_use(labels) and not overwrite:
        raise FileExistsError(
            f"labels {labels!r} already exist in {ws.path} (pass overwrite to replace them)"
        )
    ws._check_writable()
    shape = ws.spatial_shape
    chunks = tuple(min(c, s) for c, s in zip(ws.chunks, shape, strict=True))
    halos = _halo(halo, len(shape))
    instances = METHODS[method].gives_instances(params)
    if block is None:  # the method's measured peak (the 3-D split of slices: at least its own)
        split = "stack" in params and check_stack(params["stack"])[0] == "split"
        per_voxel = max(METHODS[method].memory, METHODS["distance-watershed"].memory * split)
        block = group_chunks(shape, chunks, halo=halos, bytes_per_voxel=per_voxel,
                             padded=False)  # fmt: skip
    if "sampling" not in params and (METHODS[method].sampling or "stack" in params):
        params["sampling"] = relative_spacing(ws.voxel_size)
    dtype = np.uint32 if instances else np.uint8
    # a scratch folder of no run of this process is a killed run's (this process holds the
    # writer lock; two widgets of one session may post-process at once)
    for stale in ws.path.glob(".postprocess-*"):
        if stale.resolve() not in _ACTIVE:
            shutil.rmtree(stale, ignore_errors=True)
    scratch_dir = Path(tempfile.mkdtemp(prefix=".postprocess-", dir=ws.path))
    _ACTIVE.add(scratch_dir.resolve())
    try:
        scratch = zarr.create_array(
            str(scratch_dir / "labels.zarr"), shape=shape, chunks=chunks, dtype=dtype,
            fill_value=0,
        )  # fmt: skip
        count = postprocess_blockwise(
            probs, method, out=scratch, block=block, halo=halos, progress=progress,
            should_stop=should_stop, client=client, scratch=scratch_dir, **params,
        )  # fmt: skip
        settings = {**METHODS[method].defaults, **params}
        return ws.write_labels(
            labels, da.from_zarr(scratch), overwrite=True, progress=progress,
            should_stop=should_stop, method=method, run=run, params=settings,
            objects=count if instances else None,
        )  # fmt: skip
    finally:
        _ACTIVE.discard(scratch_dir.resolve())
        shutil.rmtree(scratch_dir, ignore_errors=True)


def _halo(halo: int | Sequence[int] | None, nd: int) -> tuple[int, ...]:
    if halo is None:
        return (DEFAULT_HALO,) * nd
    values = (halo,) * nd if isinstance(halo, int) else tuple(halo)
    if len(values) != nd or any(int(h) != h or h < 1 for h in values):
        raise ValueError(f"halo must be {nd} whole numbers >= 1 (or one), got {halo!r}")
    return tuple(int(h) for h in values)
