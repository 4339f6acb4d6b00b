"""``predict_lazy``: the segmentation as a dask array, computed block by block on demand.

napari shows the slices being looked at; dask computes only the blocks under them. Each chunk
of the array is one block of the batch plan, predicted with the same windows, input and seed
as :func:`~stratoseg.inference.segment_workspace`, so what the preview shows is what the
batch run writes (before the storage rounding of ``predictions/<run>``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np

from stratoseg.inference._block import predict_block
from stratoseg.inference._plan import block_seed
from stratoseg.inference._prepare import check_options, prepare
from stratoseg.inference._tiling import Tiling

__all__ = ["predict_lazy"]


def predict_lazy(
    source: Any,
    model: str | os.PathLike[str],
    *,
    chunks: Sequence[int] | None = None,
    voxel_size: Sequence[float] | None = None,
    tiling: Tiling = "crop",
    passes: int = 4,
    seed: int = 0,
    device: str = "auto",
    window: int | Sequence[int] | None = None,
    halo: int | Sequence[int] | None = None,
    block: int | Sequence[int] | None = None,
    batch_size: int = 4,
) -> da.Array:
    """Class probabilities of a whole image as a lazy ``(K, *spatial)`` float32 dask array.

    Nothing is predicted until a part of the array is computed; then only the blocks that
    part touches run. The model is loaded (once per process) and the whole-volume
    normalisation computed when this is called.

    Parameters
    ----------
    source : Workspace or array
        A workspace (its image, chunks and voxel size), or a single-channel 2-D/3-D array
        (numpy, dask or zarr).
    model : str or path
        A model name (``stratoseg models list``) or a package path.
    chunks : sequence of int, optional
        Storage chunks of an array ``source`` (blocks are whole chunks); default: its own
        chunks (zarr, dask), else 64 voxels per axis.
    voxel_size : sequence of float, optional
        For an array ``source``; default 1 per axis.
    tiling, passes, seed, device, window, halo, block, batch_size
        As for :func:`~stratoseg.inference.segment_workspace`.

    Returns
    -------
    dask.array.Array
        ``(K, *spatial)`` float32, one chunk per block (all K classes in one chunk). Its
        ``argmax(axis=0)`` is the MAP label image.

    Examples
    --------
    >>> probs = predict_lazy(ws, "my-model")  # doctest: +SKIP
    >>> probs[:, 40].compute()  # only the blocks through slice 40 run  # doctest: +SKIP
    """
    from stratoseg.workspace import Workspace

    check_options(tiling, passes, batch_size)
    if isinstance(source, Workspace):
        image = source.image()
        if "c" in image.axes:
            raise ValueError(f"predict_lazy needs a single-channel image, got axes {image.axes!r}")
        data: Any = image.data
        array = image.array
        chunks = source.chunks if chunks is None else chunks
        voxel_size = source.voxel_size if voxel_size is None else voxel_size
    else:
        data, array = source, None
    ndim = len(data.shape)
    if chunks is None:
        own = getattr(data, "chunksize", None) or getattr(data, "chunks", None)
        chunks = tuple(int(c) for c in own) if own and len(own) == ndim else (64,) * ndim
    voxel_size = (1.0,) * ndim if voxel_size is None else voxel_size
    ready = prepare(
        data, model, chunks=chunks, voxel_size=voxel_size, device=device, window=window,
        halo=halo, block=block, tiling=tiling, array=array,
    )  # fmt: skip
    plan, classes = ready.plan, len(ready.card.classes)
    shape = plan.shape
    grid = tuple(
        tuple(min(b, n - s) for s in range(0, n, b)) for n, b in zip(shape, plan.block, strict=True)
    )
    numblocks = tuple(len(g) for g in grid)

    def one_block(_: np.ndarray, block_id: tuple[int, ...] | None = None) -> np.ndarray:
        assert block_id is not None
        ids = block_id[1:] if len(block_id) > ndim else block_id
        index = int(np.ravel_multi_index(ids, numblocks))
        region = tuple(
            slice(i * b, min((i + 1) * b, n))
            for i, b, n in zip(ids, plan.block, shape, strict=True)
        )
        return predict_block(
            region, plan.axes, ready.reader, ready.predictor, tiling=tiling, passes=passes,
            seed=block_seed(seed, index), batch_size=batch_size,
        )  # fmt: skip

    template = da.zeros(shape, chunks=grid, dtype=np.uint8)
    return da.map_blocks(
        one_block,
        template,
        new_axis=0,
        chunks=((classes,), *grid),
        dtype=np.float32,
        meta=np.empty((0,) * (ndim + 1), np.float32),
        name=f"predict-{ready.card.name}-{uuid.uuid4().hex}",
    )
