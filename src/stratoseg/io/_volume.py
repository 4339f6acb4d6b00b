"""The :class:`Volume` that :func:`~stratoseg.io.open_volume` returns; axis and unit names."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np

from stratoseg._errors import check_dtype

__all__ = ["SPATIAL_AXES", "Volume", "normalize_axes", "normalize_unit"]

#: Spatial axes in their storage order; channels, where present, come first ("c").
SPATIAL_AXES = "zyx"
_ALLOWED_AXES = ("yx", "zyx", "cyx", "czyx")

_UNIT_ALIASES = {
    "um": "micrometer",
    "µm": "micrometer",
    "μm": "micrometer",
    "\\u00b5m": "micrometer",
    "micron": "micrometer",
    "microns": "micrometer",
    "micrometre": "micrometer",
    "micrometer": "micrometer",
    "nm": "nanometer",
    "nanometre": "nanometer",
    "nanometer": "nanometer",
    "a": "angstrom",
    "å": "angstrom",
    "angstrom": "angstrom",
    "mm": "millimeter",
    "millimeter": "millimeter",
    "millimetre": "millimeter",
    "pixel": "",
    "px": "",
}


def normalize_unit(unit: str | None) -> str | None:
    """Map the many spellings of a length unit to the OME-Zarr name (``"um"`` -> ``"micrometer"``).

    Unknown spellings are kept as given; ``None``, ``""`` and "pixel" mean no physical unit.

    Examples
    --------
    >>> normalize_unit("\\\\u00B5m"), normalize_unit("nm"), normalize_unit("pixel")
    ('micrometer', 'nanometer', None)
    """
    if unit is None:
        return None
    key = str(unit).strip().lower()
    out = _UNIT_ALIASES.get(key, key)
    return out or None


def normalize_axes(data: da.Array, axes: str, *, source: str) -> tuple[da.Array, str]:
    """Bring ``data`` with axis letters ``axes`` to one of ``yx``, ``zyx``, ``cyx``, ``czyx``.

    Singleton axes other than y and x are dropped; ``s`` (samples, as in RGB) and ``c`` become the
    leading channel axis; an unnamed image sequence (tifffile's ``i``/``q``) or a time axis with
    more than one frame is treated as z when there is no z. Anything else raises.

    Parameters
    ----------
    data : dask array
        The array as stored.
    axes : str
        One letter per axis of ``data`` (case-insensitive), e.g. ``"ZYX"`` or ``"YXS"``.
    source : str
        The path, quoted in error messages.

    Returns
    -------
    data, axes : dask array, str
        The (possibly transposed and squeezed) array and its axes.

    Raises
    ------
    ValueError
        If the array has fewer than 2 or more than 4 non-singleton axes, or axes that cannot be
        mapped to (c, z, y, x).
    """
    axes = axes.lower()
    if len(axes) != data.ndim:
        raise ValueError(f"axes {axes!r} do not match the {data.ndim}-D array in {source}")
    if data.ndim < 2:
        raise ValueError(
            f"{source} holds a {data.ndim}-D array of shape {data.shape}; expected an image "
            f"with 2 to 4 dimensions: (y, x), (z, y, x) or (c, z, y, x)"
        )
    # squeeze singleton axes that are not y/x
    keep = [i for i, a in enumerate(axes) if data.shape[i] != 1 or a in "yx"]
    if len(keep) != data.ndim:
        drop = tuple(i for i in range(data.ndim) if i not in keep)
        data = data.squeeze(axis=drop)
        axes = "".join(axes[i] for i in keep)
    if not 2 <= data.ndim <= 4:
        raise ValueError(
            f"{source} holds a {data.ndim}-D array of shape {data.shape} (without its "
            f"singleton axes); expected an image with 2 to 4 dimensions: (y, x), (z, y, x) or "
            f"(c, z, y, x)"
        )
    mapped = []
    for a in axes:
        if a == "s":
            a = "c"
        elif a in "iqt" and "z" not in axes and "z" not in mapped:
            a = "z"
        mapped.append(a)
    axes = "".join(mapped)
    if len(set(axes)) != len(axes) or any(a not in "czyx" for a in axes):
        raise ValueError(
            f"{source} has axes {axes!r} with shape {data.shape}; StratoSeg reads images with "
            f"axes (c, z, y, x), of which c and z are optional (time series are not supported)"
        )
    order = sorted(range(len(axes)), key=lambda i: "czyx".index(axes[i]))
    if order != list(range(len(axes))):
        data = data.transpose(order)
        axes = "".join(axes[i] for i in order)
    if axes not in _ALLOWED_AXES:
        raise ValueError(
            f"{source} holds a {data.ndim}-D array of shape {data.shape} (axes {axes!r}); "
            f"expected an image with 2 to 4 dimensions: (y, x), (z, y, x) or (c, z, y, x)"
        )
    return data, axes


@dataclass(frozen=True)
class Volume:
    """A lazily opened image and what is known about it.

    Attributes
    ----------
    data : dask array
        The full-resolution array; nothing is read from disk until it is computed.
    axes : str
        ``"yx"``, ``"zyx"``, ``"cyx"`` or ``"czyx"``.
    voxel_size : tuple of float
        Size of a voxel along each spatial axis (z, y, x order, without c), in ``unit``.
    unit : str or None
        OME-Zarr unit name of ``voxel_size`` (``"micrometer"``, ``"nanometer"``, ``"angstrom"``),
        or None when the file gives no physical size.
    path : Path
        The source path (the file, folder or zarr array/group).
    format : str
        ``"tiff"``, ``"tiff-folder"``, ``"zarr"``, ``"ome-zarr"``, ``"hdf5"`` or ``"mrc"``.
    key : str or None
        The dataset inside the container (HDF5 dataset, zarr array path, TIFF series), if any.
    levels : tuple of dask arrays
        The multiscale pyramid for display, ``levels[0] is data``; one level for flat formats.
    attrs : dict
        Extra metadata read from the file (free form, for display).
    array : zarr array or None
        The stored array :attr:`data` reads, when ``data`` is exactly that array (a zarr array
        opened with its own axes), else None. Reading a region from it directly skips dask's
        task graph (block-wise inference reads every block this way). For zarr sources it is a
        :class:`~stratoseg.io._zarr.CheckedArray`: the zarr array, whose reads name a chunk
        file that cannot be decoded.
    """

    data: da.Array
    axes: str
    voxel_size: tuple[float, ...]
    unit: str | None
    path: Path
    format: str
    key: str | None = None
    levels: tuple[da.Array, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)
    array: Any = None

    def __post_init__(self) -> None:
        check_dtype(self.data.dtype, name=f"the dtype of {self.path}")
        if self.axes not in _ALLOWED_AXES or len(self.axes) != self.data.ndim:
            raise ValueError(f"axes must be one of {_ALLOWED_AXES} matching data, got {self.axes}")
        if len(self.voxel_size) != len(self.spatial_axes):
            raise ValueError(
                f"voxel_size needs {len(self.spatial_axes)} values, got {self.voxel_size}"
            )
        if not self.levels:
            object.__setattr__(self, "levels", (self.data,))
        if self.array is not None and tuple(self.array.shape) != self.shape:
            raise ValueError(
                f"array of shape {tuple(self.array.shape)} is not the data of shape {self.shape}"
            )

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of :attr:`data`."""
        return tuple(int(s) for s in self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        """The dtype of :attr:`data`."""
        return np.dtype(self.data.dtype)

    @property
    def ndim(self) -> int:
        """Number of axes of :attr:`data`, channels included."""
        return int(self.data.ndim)

    @property
    def spatial_axes(self) -> str:
        """The axes without the channel axis: ``"yx"`` or ``"zyx"``."""
        return self.axes.replace("c", "")

    @property
    def chunks(self) -> tuple[int, ...]:
        """The size of the first dask chunk along each axis."""
        return tuple(int(c[0]) for c in self.data.chunks)

    def as_3d(self) -> Volume:
        """Return this volume with a z axis: a 2-D image becomes a volume of one slice.

        Examples
        --------
        >>> import dask.array as da
        >>> v = Volume(da.zeros((4, 5)), "yx", (0.5, 0.5), "micrometer", Path("a.tif"), "tiff")
        >>> w = v.as_3d()
        >>> w.shape, w.axes, w.voxel_size
        ((1, 4, 5), 'zyx', (1.0, 0.5, 0.5))
        """
        if "z" in self.axes:
            return self
        at = 1 if self.axes.startswith("c") else 0
        levels = tuple(da.expand_dims(lv, at) for lv in self.levels)
        return replace(
            self,
            data=levels[0],
            axes=self.axes[:at] + "z" + self.axes[at:],
            voxel_size=(1.0, *self.voxel_size),
            levels=levels,
            array=None,
        )

    def summary(self) -> dict[str, Any]:
        """The metadata as plain JSON-able values (what ``stratoseg info`` prints)."""
        return {
            "path": str(self.path),
            "format": self.format,
            "key": self.key,
            "axes": self.axes,
            "shape": list(self.shape),
            "dtype": str(self.dtype),
            "chunks": list(self.chunks),
            "voxel_size": [float(v) for v in self.voxel_size],
            "unit": self.unit,
            "levels": [list(lv.shape) for lv in self.levels],
        }
