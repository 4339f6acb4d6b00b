"""Building one NGFF label image (``labels/<name>``: level ``0`` and its ``reviewed`` mask)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import dask.array as da
import numpy as np
import zarr

from stratoseg.workspace._ngff import image_label_attrs
from stratoseg.workspace._pyramid import store

__all__ = ["write_label_group"]


def write_label_group(
    folder: Path,
    name: str,
    *,
    shape: Sequence[int],
    chunks: Sequence[int],
    axes: str,
    voxel_size: Sequence[float],
    unit: str | None,
    dtype: np.dtype,
    data: da.Array | None = None,
    reviewed: zarr.Array | None = None,
) -> None:
    """Write a complete label image group at ``folder`` (a temporary path, moved later).

    ``data`` fills level 0 (empty when None: no chunk is written); ``reviewed`` is an existing
    mask copied chunk by chunk, so replacing a label image keeps what people reviewed.
    """
    grp = zarr.open_group(
        store=str(folder), mode="w", attributes=image_label_attrs(name, axes, voxel_size, unit)
    )
    shape, chunks = tuple(shape), tuple(chunks)
    arr = grp.create_array("0", shape=shape, dtype=dtype, chunks=chunks, fill_value=0)
    mask = grp.create_array("reviewed", shape=shape, dtype=np.uint8, chunks=chunks, fill_value=0)
    if data is not None:
        store(data.astype(dtype), arr)
    if reviewed is not None:
        store(da.from_zarr(reviewed), mask)
