"""Export any array (a workspace array, a volume) to TIFF, streamed slab by slab."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import dask.array as da
import numpy as np
import tifffile

from stratoseg._errors import check_dtype
from stratoseg.io._atomic import atomic_output, check_output_path

__all__ = ["write_tiff"]

_IMAGEJ_DTYPES = (np.uint8, np.uint16, np.float32)
_IMAGEJ_UNITS = {"micrometer": "micron", "nanometer": "nm", "millimeter": "mm", "angstrom": "A"}


def write_tiff(
    data: da.Array | np.ndarray,
    out: str | os.PathLike[str],
    *,
    axes: str | None = None,
    voxel_size: Sequence[float] | None = None,
    unit: str | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``data`` to a TIFF file without holding more than one z-slab in memory.

    ImageJ hyperstack TIFF for uint8, uint16 and float32 (Fiji reads the voxel size), OME-TIFF
    for other dtypes; BigTIFF when the data exceed 2 GiB. The file appears under its final name
    only when complete.

    Parameters
    ----------
    data : (Z, Y, X), (Y, X), (C, Y, X) or (C, Z, Y, X) array
        What to write; dask arrays are computed one chunk row along the first axis at a time.
    out : path
        The TIFF file to write.
    axes : str, optional
        Axis letters of ``data`` (default ``yx``/``zyx``/``czyx`` by ``ndim``).
    voxel_size : sequence of float, optional
        Spatial voxel size, (z, y, x) or (y, x).
    unit : str, optional
        OME unit name of ``voxel_size``.
    overwrite : bool
        Replace an existing file.
    progress : callable, optional
        Called as ``progress(done, total)`` after each slab.

    Returns
    -------
    Path
        ``out``.
    """
    path = check_output_path(out, overwrite=overwrite)
    arr = data if isinstance(data, da.Array) else da.from_array(np.asarray(data))
    check_dtype(arr.dtype, name="data dtype")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    axes = (axes or {2: "yx", 3: "zyx", 4: "czyx"}.get(arr.ndim, "")).lower()
    if len(axes) != arr.ndim:
        raise ValueError(f"axes must have one letter per axis of the {arr.ndim}-D data, got {axes!r}")
    spatial = axes.replace("c", "")
    sizes = dict(zip(spatial, voxel_size or (1.0,) * len(spatial), strict=True))
    imagej = arr.dtype.type in _IMAGEJ_DTYPES
    bigtiff = arr.nbytes > 2**31
    if imagej:
        metadata: dict[str, object] = {"axes": axes.upper(), "spacing": sizes.get("z", 1.0)}
        if unit:
            metadata["unit"] = _IMAGEJ_UNITS.get(unit, unit)
    else:
        metadata = {"axes": axes.upper()}
        for a in "zyx":
            if a in sizes:
                metadata[f"PhysicalSize{a.upper()}"] = sizes[a]
                if unit:
                    metadata[f"PhysicalSize{a.upper()}Unit"] = {"micrometer": "µm"}.get(unit, unit)
    planes_shape = arr.shape
    lead = arr.ndim - 2
    flat = arr.reshape((-1, *arr.shape[-2:])) if lead else arr[None]
    slabs = list(range(0, flat.shape[0], max(1, int(flat.chunks[0][0]))))

    def pages() -> Iterator[np.ndarray]:
        for i, z0 in enumerate(slabs):
            block = np.asarray(flat[z0 : z0 + flat.chunks[0][0]].compute())
            yield from block
            if progress is not None:
                progress(i + 1, len(slabs))

    with atomic_output(path) as tmp:
        with tifffile.TiffWriter(tmp, bigtiff=bigtiff, imagej=imagej and not bigtiff,
                                 ome=not imagej or bigtiff) as tw:
            tw.write(
                pages(),
                shape=planes_shape,
                dtype=arr.dtype,
                resolution=(1.0 / sizes.get("x", 1.0), 1.0 / sizes.get("y", 1.0)),
                metadata=metadata,
                photometric="minisblack",
            )
    return path
