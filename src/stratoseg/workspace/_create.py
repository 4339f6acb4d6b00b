"""Creating a workspace from a source volume (``stratoseg import``)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import zarr

from stratoseg import __version__
from stratoseg._errors import check_positive_ints
from stratoseg._progress import ProgressFn, StopFn, dask_progress
from stratoseg._threads import joined_store
from stratoseg.io import Volume, atomic_output, normalize_unit, open_volume
from stratoseg.workspace._journal import Journal
from stratoseg.workspace._labels import write_label_group
from stratoseg.workspace._lock import LOCK_NAME, WriterLock
from stratoseg.workspace._ngff import NGFF_VERSION, labels_group_attrs, multiscales_attrs
from stratoseg.workspace._pyramid import pyramid_factors
from stratoseg.workspace._workspace import FORMAT_VERSION, Workspace, check_name, is_workspace

__all__ = ["DEFAULT_CHUNKS", "create_workspace", "default_chunks"]

#: Default spatial chunk edge: 64^3 blocks for volumes, 256^2 tiles for 2-D images.
DEFAULT_CHUNKS = {2: 256, 3: 64}
_REFERENCE_FORMATS = ("zarr", "ome-zarr")
_IMAGE_SUFFIXES = (".tif", ".tiff", ".btf", ".h5", ".hdf5", ".hdf", ".mrc", ".rec", ".png", ".jpg")


def default_chunks(spatial_shape: Sequence[int]) -> tuple[int, ...]:
    """Chunks suited to block-wise processing, clipped to the shape.

    Examples
    --------
    >>> default_chunks((100, 1000, 1000)), default_chunks((512, 512)), default_chunks((1, 90, 90))
    ((64, 64, 64), (256, 256), (1, 64, 64))
    """
    edge = DEFAULT_CHUNKS[len(spatial_shape)]
    return tuple(min(edge, int(s)) for s in spatial_shape)


def create_workspace(
    path: str | os.PathLike[str],
    source: str | os.PathLike[str] | Volume,
    *,
    key: str | None = None,
    chunks: int | Sequence[int] | None = None,
    voxel_size: float | Sequence[float] | None = None,
    unit: str | None = None,
    copy: bool | None = None,
    labels: str | Sequence[str] | None = "segmentation",
    label_images: Mapping[str, da.Array | np.ndarray] | None = None,
    overwrite: bool = False,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> Workspace:
    """Create a workspace from a source image and return it open for writing.

    Parameters
    ----------
    path : path
        The workspace folder to create (conventionally ``*.zarr``).
    source : path or Volume
        Anything :func:`~stratoseg.io.open_volume` reads, or an opened volume.
    key : str, optional
        Dataset inside ``source`` (HDF5 dataset, zarr array path).
    chunks : int or sequence of int, optional
        Spatial chunk shape, one edge for all axes or one per axis. Default 64^3 in 3-D,
        256^2 in 2-D (:func:`default_chunks`).
    voxel_size : float or sequence of float, optional
        Overrides the voxel size read from the source, (z, y, x) or one value for all axes.
    unit : str, optional
        Unit of ``voxel_size`` (default: the source's, or micrometer when ``voxel_size`` is given).
    copy : bool, optional
        Copy the raw image into the workspace (default for TIFF, MRC, HDF5) or reference a
        zarr/OME-Zarr source in place (default for zarr sources).
    labels : str, sequence of str or None
        Names of empty label images to create, ready for painting; None for none.
    label_images : mapping of str to (Z, Y, X) integer array, optional
        Label images to write with the workspace (e.g. a ground truth), on the source's grid.
    overwrite : bool
        Replace an existing workspace (refused while another process has it open for writing,
        and for a path that is not a StratoSeg workspace).
    progress, should_stop : callable, optional
        ``progress(done, total)`` and ``should_stop() -> bool`` (see ``docs/architecture.md``).

    Returns
    -------
    Workspace
        Open in mode ``"r+"`` (holding the writer lock); close it when done.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is false, or it is not a workspace.
    ValueError
        For bad parameters, an output that would overwrite or contain the source, or an output
        named like an image file.
    WorkspaceLockedError
        If ``overwrite`` is true and another process holds the existing workspace.
    """
    out = Path(path)
    vol = source if isinstance(source, Volume) else open_volume(source, key=key)
    spatial = tuple(s for s, a in zip(vol.shape, vol.axes, strict=True) if a != "c")
    nsp = len(spatial)
    if any(s == 0 for s in vol.shape):
        raise ValueError(f"source {vol.path} is empty: shape {vol.shape}")
    chunk_shape = (
        default_chunks(spatial)
        if chunks is None
        else check_positive_ints(chunks, name="chunks", ndim=nsp)
    )
    chunk_shape = tuple(min(c, s) for c, s in zip(chunk_shape, spatial, strict=True))
    if voxel_size is not None:
        vs = (voxel_size,) if isinstance(voxel_size, (int, float)) else tuple(voxel_size)
        vs = tuple(float(v) for v in (vs * nsp if len(vs) == 1 else vs))
        if len(vs) != nsp or not all(np.isfinite(v) and v > 0 for v in vs):
            raise ValueError(f"voxel_size must be {nsp} positive numbers, got {voxel_size!r}")
        vol = replace(vol, voxel_size=vs, unit=normalize_unit(unit) or vol.unit or "micrometer")
    elif unit is not None:
        vol = replace(vol, unit=normalize_unit(unit))
    if copy is None:
        copy = vol.format not in _REFERENCE_FORMATS
    if not copy and vol.format not in _REFERENCE_FORMATS:
        raise ValueError(
            f"copy=False needs a zarr or OME-Zarr source; {vol.path} is "
            f"{vol.format}, so it must be copied"
        )
    empty = [labels] if isinstance(labels, str) else list(labels or [])
    images = {
        check_name(n, what="labels name"): _label_data(n, a, spatial)
        for n, a in (label_images or {}).items()
    }
    for name in empty:
        check_name(name, what="labels name")
        if name in images:
            raise ValueError(f"labels {name!r} is both in labels and in label_images")
    _check_output(out, vol, overwrite)

    data = vol.data.astype(np.uint8) if vol.dtype == bool else vol.data
    meta: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "created_by": f"stratoseg {__version__}",
        "mode": "copy" if copy else "reference",
        "source": {
            "path": str(Path(vol.path).resolve()) if vol.format != "synthetic" else str(vol.path),
            "format": vol.format,
            "key": vol.key,
        },
        "axes": vol.axes,
        "shape": list(vol.shape),
        "dtype": str(data.dtype),
        "chunks": list(chunk_shape),
        "voxel_size": list(vol.voxel_size),
        "unit": vol.unit,
    }
    # while an existing workspace is replaced, hold its lock so that no writer opens it meanwhile
    old = WriterLock(out) if (out / LOCK_NAME).exists() else None
    if old is not None:
        old.acquire()  # raises WorkspaceLockedError while another writer holds it
    try:
        with atomic_output(out) as tmp, dask_progress(progress, should_stop):
            _build(tmp, vol, data, meta, copy, spatial, chunk_shape)
            _build_labels(tmp, vol, spatial, chunk_shape, empty, images)
    finally:
        if old is not None:
            old.release()
    return Workspace.open(out, mode="r+")


def _check_output(out: Path, vol: Volume, overwrite: bool) -> None:
    """Refuse outputs that would lose data: an existing non-workspace, the source itself."""
    if out.name.lower().endswith(_IMAGE_SUFFIXES):
        raise ValueError(
            f"the workspace is a folder, conventionally NAME.zarr; got {out}, "
            "which is named like an image file"
        )
    if out.exists():
        if not overwrite:
            raise FileExistsError(f"workspace {out} already exists (pass overwrite to replace it)")
        if not is_workspace(out):
            raise FileExistsError(
                f"{out} exists and is not a StratoSeg workspace; it will not be replaced"
            )
    if not out.parent.exists():
        raise FileNotFoundError(f"output folder does not exist: {out.parent}")
    if vol.format != "synthetic":
        src, dst = Path(vol.path).resolve(), out.resolve()
        if src == dst or src.is_relative_to(dst) or dst.is_relative_to(src):
            raise ValueError(
                f"the workspace {out} would overwrite or sit inside its source "
                f"{vol.path}; choose another output"
            )


def _label_data(name: str, data: da.Array | np.ndarray, spatial: tuple[int, ...]) -> da.Array:
    arr = data if isinstance(data, da.Array) else da.from_array(np.asarray(data))
    if tuple(arr.shape) != spatial:
        raise ValueError(f"label_images[{name!r}] must have shape {spatial}, got {arr.shape}")
    if arr.dtype.kind not in "iub":
        raise TypeError(f"label_images[{name!r}] must have an integer dtype, got {arr.dtype}")
    return arr


def _build_labels(
    tmp: Path,
    vol: Volume,
    spatial: tuple[int, ...],
    chunks: tuple[int, ...],
    empty: list[str],
    images: dict[str, da.Array],
) -> None:
    """The label images of a new workspace, written inside its temporary folder."""
    journal = Journal(tmp)
    todo: list[tuple[str, da.Array | None]] = [*images.items(), *((n, None) for n in empty)]
    for name, data in todo:
        dtype = np.dtype(np.uint32) if data is None or data.dtype == bool else data.dtype
        write_label_group(
            tmp / "labels" / name,
            name,
            shape=spatial,
            chunks=chunks,
            axes=vol.axes.replace("c", ""),
            voxel_size=vol.voxel_size,
            unit=vol.unit,
            dtype=dtype,
            data=data,
        )
        journal.append(
            "labels-written" if data is not None else "labels-created", name=name, dtype=str(dtype)
        )
    zarr.open_group(str(tmp / "labels"), mode="r+").attrs.update(
        labels_group_attrs([n for n, _ in todo])
    )


def _build(
    tmp: Path,
    vol: Volume,
    data: da.Array,
    meta: dict[str, Any],
    copy: bool,
    spatial: tuple[int, ...],
    chunk_shape: tuple[int, ...],
) -> None:
    """Write the raw image (copied, with its pyramid) and the metadata into ``tmp``."""
    attrs: dict[str, Any] = {"stratoseg": meta}
    if copy:
        factors = pyramid_factors(spatial, vol.voxel_size)
        meta["levels"] = len(factors)
        attrs["ome"] = {
            "version": NGFF_VERSION,
            "multiscales": [multiscales_attrs("raw", vol.axes, vol.voxel_size, vol.unit, factors)],
        }
    root = zarr.open_group(store=str(tmp), mode="w", attributes=attrs)
    if copy:
        _copy_pyramid(root, data, vol.axes, factors, chunk_shape)
    root.create_group("labels", attributes=labels_group_attrs([]))
    Journal(tmp, create=True).append(
        "created",
        source=meta["source"],
        mode=meta["mode"],
        shape=meta["shape"],
        chunks=meta["chunks"],
    )


def _copy_pyramid(
    root: zarr.Group,
    data: da.Array,
    axes: str,
    factors: list[tuple[int, ...]],
    chunks: tuple[int, ...],
) -> None:
    """Write level 0 and the downsampled levels in one dask pass over the source."""
    has_c = axes.startswith("c")
    lead = (int(data.shape[0]),) if has_c else ()
    sources, targets = [], []
    level = data.rechunk(lead + chunks)
    prev = (1,) * len(chunks)
    for i, f in enumerate(factors):
        if i:
            step = {j + int(has_c): f[j] // prev[j] for j in range(len(f))}
            down = da.coarsen(np.mean, level.astype(np.float32), step, trim_excess=True)
            if data.dtype.kind in "iu":
                down = da.round(down)
            level = down.astype(data.dtype)
            prev = f
        lchunks = lead + tuple(
            min(c, s) for c, s in zip(chunks, level.shape[len(lead) :], strict=True)
        )
        arr = root.create_array(
            str(i), shape=level.shape, dtype=level.dtype, chunks=lchunks, fill_value=0
        )
        sources.append(level.rechunk(lchunks))
        targets.append(arr)
    joined_store(sources, targets)
