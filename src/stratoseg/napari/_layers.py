"""napari layer data for volumes and workspaces, shared by the reader and the widgets.

The functions here return napari ``LayerData`` tuples ``(data, kwargs, layer_type)`` and import
neither napari nor Qt: the reader hands the tuples to napari, the widgets pass them to
``viewer.add_image`` / ``viewer.add_labels``.

Every layer built from a workspace carries ``metadata["stratoseg"]`` with the workspace path and
the array inside it (``{"workspace": "/data/a.zarr", "array": "labels/segmentation/0", ...}``),
which is how widgets find the layers of their workspace.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeAlias

import dask.array as da
import numpy as np

from stratoseg.io import Volume
from stratoseg.workspace import Workspace

__all__ = [
    "LIMITS_SAMPLE",
    "LayerData",
    "contrast_limits",
    "labels_layer_data",
    "layer_name",
    "volume_layer_data",
    "workspace_layer_data",
]

#: ``(data, kwargs, layer_type)`` as napari readers and sample functions return them.
LayerData: TypeAlias = tuple[Any, dict[str, Any], str]

#: At most this many voxels per channel are read to compute contrast limits.
LIMITS_SAMPLE = 1 << 22


def layer_name(path: str | Path) -> str:
    """A layer name for a file or folder: its name without ``.zarr``, ``.tif``, ``.ome.tif``...

    Examples
    --------
    >>> layer_name("/data/scan_01.ome.tiff"), layer_name("/data/sample.zarr/")
    ('scan_01', 'sample')
    """
    name = Path(path).name
    for suffix in (".ome.tiff", ".ome.tif", ".ome.zarr"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    stem = Path(name).stem
    return stem or name


def _limit_sample(level: da.Array, spatial_ndim: int) -> da.Array:
    """A cheap sample of ``level``: all of it when small, else planes from its middle, strided."""
    lead = level.ndim - spatial_ndim  # 0, or 1 for a channel axis
    per_channel = math.prod(level.shape[lead:])
    if per_channel <= 4 * LIMITS_SAMPLE:
        return level
    index: list[Any] = [slice(None)] * level.ndim
    if spatial_ndim == 3:  # one plane from the middle of the stack
        z = level.shape[lead]
        index[lead] = slice(z // 2, z // 2 + 1)
    plane = math.prod(level.shape[-2:])
    step = max(1, math.ceil(math.sqrt(plane / LIMITS_SAMPLE)))
    index[-2] = index[-1] = slice(None, None, step)
    return level[tuple(index)]


def contrast_limits(volume: Volume) -> list[float] | list[list[float]]:
    """Contrast limits ``[min, max]`` from the smallest pyramid level, per channel for ``c`` axes.

    Only the smallest level is read, and of it at most :data:`LIMITS_SAMPLE` voxels per channel
    (a plane from the middle of the stack, strided) when it is large, so napari never computes
    statistics over the whole volume.

    Returns
    -------
    list of float, or list of list of float
        ``[lo, hi]``, or one such pair per channel when the volume has a channel axis.

    Examples
    --------
    >>> import dask.array as da
    >>> v = Volume(da.arange(24, dtype="uint8").reshape(2, 3, 4), "zyx", (1.0, 1.0, 1.0), None,
    ...            Path("a.tif"), "tiff")
    >>> contrast_limits(v)
    [0.0, 23.0]
    """
    has_c = volume.axes.startswith("c")
    sample = _limit_sample(volume.levels[-1], len(volume.spatial_axes))
    if sample.dtype == bool:
        sample = sample.astype(np.uint8)
    axes = tuple(range(1 if has_c else 0, sample.ndim))
    lo, hi = da.compute(da.nanmin(sample, axis=axes), da.nanmax(sample, axis=axes))
    pairs = []
    for a, b in zip(np.atleast_1d(lo).tolist(), np.atleast_1d(hi).tolist(), strict=True):
        a = float(a) if math.isfinite(a) else 0.0
        b = float(b) if math.isfinite(b) else a + 1.0
        pairs.append([a, b if b > a else a + 1.0])
    return pairs if has_c else pairs[0]


def _spatial_kwargs(voxel_size: tuple[float, ...], axes: str, unit: str | None) -> dict[str, Any]:
    """``scale``, ``axis_labels`` and, when known, ``units`` for the spatial axes."""
    kwargs: dict[str, Any] = {
        "scale": tuple(float(v) for v in voxel_size),
        "axis_labels": tuple(axes),
    }
    if unit:
        kwargs["units"] = (unit,) * len(axes)
    return kwargs


def volume_layer_data(
    volume: Volume,
    *,
    name: str | None = None,
    metadata: dict[str, Any] | None = None,
    visible: bool = True,
) -> LayerData:
    """An image layer showing ``volume`` lazily, at its voxel size.

    Parameters
    ----------
    volume : Volume
        From :func:`~stratoseg.io.open_volume` or :meth:`Workspace.image`.
    name : str, optional
        Layer name (default: the file name without its extensions). With a channel axis each
        channel gets its own layer, named ``"<name> [<i>]"``.
    metadata : dict, optional
        Stored as ``layer.metadata["stratoseg"]`` (default: ``{"source": path}``).
    visible : bool
        Whether the layer is shown initially.

    Returns
    -------
    (data, kwargs, "image")
        ``data`` is the dask array, or the list of pyramid levels (``multiscale=True``) when the
        volume has more than one; ``kwargs["scale"]`` is the spatial voxel size; ``(c, ...)``
        volumes use ``channel_axis=0``.

    Examples
    --------
    >>> import dask.array as da
    >>> v = Volume(da.zeros((4, 8, 8), "uint8"), "zyx", (2.0, 1.0, 1.0), "micrometer",
    ...            Path("/data/a.tif"), "tiff")
    >>> data, kwargs, kind = volume_layer_data(v)
    >>> kind, kwargs["name"], kwargs["scale"], kwargs["multiscale"]
    ('image', 'a', (2.0, 1.0, 1.0), False)
    """
    name = name or layer_name(volume.path)
    multiscale = len(volume.levels) > 1
    kwargs: dict[str, Any] = {
        "name": name,
        "multiscale": multiscale,
        "contrast_limits": contrast_limits(volume),
        "metadata": {
            "stratoseg": metadata if metadata is not None else {"source": str(volume.path)}
        },
        "visible": visible,
        **_spatial_kwargs(volume.voxel_size, volume.spatial_axes, volume.unit),
    }
    if volume.axes.startswith("c"):
        kwargs["channel_axis"] = 0
        kwargs["name"] = [f"{name} [{i}]" for i in range(volume.shape[0])]
    data: Any = list(volume.levels) if multiscale else volume.data
    return data, kwargs, "image"


def _meta(ws: Workspace, array: str | None, role: str, name: str) -> dict[str, Any]:
    return {"workspace": str(ws.path), "array": array, "role": role, "name": name}


def _check_editable(ws: Workspace, editable: bool) -> None:
    if editable and not ws.writable:
        raise PermissionError(
            f"editable layers need the workspace open for writing "
            f"(mode='r+'); {ws.path} is open read-only"
        )


def workspace_layer_data(ws: Workspace, *, editable: bool) -> list[LayerData]:
    """The layers of a workspace: raw image, derived channels and label images.

    Parameters
    ----------
    ws : Workspace
        An open workspace.
    editable : bool
        If true, each labels layer's data is the workspace's zarr array itself, so painting in
        napari writes straight to disk; ``ws`` must then be open with ``mode="r+"`` (holding
        the writer lock). If false, labels are shown read-only, as a multiscale dask pyramid
        (see :func:`labels_layer_data`), which napari does not let anyone paint on.

    Returns
    -------
    list of (data, kwargs, layer_type)
        The raw image first (lazy, multiscale when the workspace has a pyramid), then one hidden
        image layer per channel, then one labels layer per label image. Each has
        ``metadata["stratoseg"] = {"workspace", "array", "role", "name"}``.

    Raises
    ------
    PermissionError
        If ``editable`` is true and ``ws`` is not writable.
    """
    _check_editable(ws, editable)
    stem = layer_name(ws.path)
    spatial_axes = ws.axes.replace("c", "")
    image = ws.image()
    layers = [
        volume_layer_data(
            image, name=stem, metadata=_meta(ws, None if ws.is_reference else "0", "image", stem)
        )
    ]
    for channel in ws.channels():
        array = f"channels/{channel}"
        vol = replace(
            image,
            data=da.from_zarr(ws.array(array), inline_array=True),
            axes=spatial_axes,
            levels=(),
            path=ws.path / array,
            format="zarr",
            key=array,
        )
        layers.append(
            volume_layer_data(
                vol, name=channel, visible=False, metadata=_meta(ws, array, "channel", channel)
            )
        )
    layers.extend(
        labels_layer_data(ws, label, editable=editable, image=image) for label in ws.label_names()
    )
    return layers


def labels_layer_data(
    ws: Workspace, name: str, *, editable: bool, image: Volume | None = None
) -> LayerData:
    """The labels layer of label image ``name`` (see :func:`workspace_layer_data`).

    Editable: the zarr array itself. Read-only: a lazy pyramid whose levels take every n-th
    voxel of level 0 on the grid of the raw image's pyramid levels (nearest neighbour, as labels
    need), or with y and x halved when the image has one level. napari makes multiscale labels
    non-editable (it accepts neither a one-level pyramid nor two levels of the same size), so
    painting is disabled rather than silently kept in memory; the coarse level is read only in
    3-D views and when zoomed out.

    Parameters
    ----------
    ws : Workspace
        An open workspace.
    name : str
        The label image.
    editable : bool
        See :func:`workspace_layer_data`.
    image : Volume, optional
        ``ws.image()`` when the caller has it already.

    Raises
    ------
    ValueError
        If the workspace has no label image ``name``.
    PermissionError
        If ``editable`` is true and ``ws`` is not writable.
    """
    _check_editable(ws, editable)
    array = f"labels/{name}/0"
    zarr_array = ws.labels(name)
    data: Any = zarr_array
    if not editable:
        levels = _label_pyramid(
            da.from_zarr(zarr_array, inline_array=True), image if image is not None else ws.image()
        )
        data = levels if len(levels) > 1 else levels[0]
    kwargs = {
        "name": name,
        "multiscale": isinstance(data, list),
        "metadata": {"stratoseg": _meta(ws, array, "labels", name)},
        **_spatial_kwargs(ws.voxel_size, ws.axes.replace("c", ""), ws.unit),
    }
    return data, kwargs, "labels"


def _label_pyramid(level0: da.Array, image: Volume) -> list[da.Array]:
    """Strided views of ``level0`` with the spatial shapes of the image's pyramid levels."""
    nsp = level0.ndim
    shapes = [tuple(int(s) for s in lv.shape[-nsp:]) for lv in image.levels]
    if len(shapes) == 1:  # no image pyramid: add one level with y and x halved
        shapes.append(shapes[0][:-2] + tuple(max(1, s // 2) for s in shapes[0][-2:]))
    levels = [level0]
    for shape in shapes[1:]:
        if math.prod(shape) >= math.prod(levels[-1].shape):
            break  # napari needs decreasing sizes
        steps = [max(1, round(s0 / s)) for s0, s in zip(level0.shape, shape, strict=True)]
        levels.append(level0[tuple(slice(0, n * f, f) for n, f in zip(shape, steps, strict=True))])
    return levels
