"""Zarr (v2 and v3) arrays and OME-Zarr (NGFF 0.4 and 0.5) images."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import zarr
from dask.base import tokenize

from stratoseg.io._lazy import check_declared, damaged_file_errors
from stratoseg.io._volume import Volume, normalize_axes, normalize_unit

__all__ = [
    "CheckedArray",
    "attrs_of",
    "is_zarr",
    "multiscales_of",
    "open_zarr",
    "open_zarr_node",
    "reference_of",
]

_META_FILES = ("zarr.json", ".zarray", ".zgroup")
#: How many chunks of a failed read are tried one by one to name the damaged one.
_PROBE_CHUNKS = 64


class CheckedArray:
    """A zarr array whose reads name the chunk file that cannot be decoded.

    On a damaged chunk zarr raises whatever its codec raises (``RuntimeError: Zstd
    decompression error``, say) without naming the chunk. A read through this wrapper raises a
    :class:`ValueError` naming the array folder and the chunk file instead. ``shape``,
    ``dtype``, ``ndim`` and ``chunks`` are the array's; any other attribute is forwarded to it
    (:attr:`array`).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a.zarr"
    >>> z = zarr.create_array(store=str(path), shape=(4, 4), chunks=(2, 2), dtype="u1")
    >>> z[...] = 7
    >>> _ = (path / "c" / "1" / "0").write_bytes(b"not zstd")
    >>> a = CheckedArray(z, path)
    >>> int(a[:2, :2].sum())
    28
    >>> a[2:, :]  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the chunk .../a.zarr/c/1/0 of the zarr array ... cannot be decoded (corrupt ...
    """

    def __init__(self, array: zarr.Array, path: Path) -> None:
        self.array, self.path = array, Path(path)

    @property
    def shape(self) -> tuple[int, ...]:
        """The array's shape."""
        return tuple(self.array.shape)

    @property
    def dtype(self) -> np.dtype:
        """The array's dtype."""
        return np.dtype(self.array.dtype)

    @property
    def ndim(self) -> int:
        """The array's number of axes."""
        return int(self.array.ndim)

    @property
    def chunks(self) -> tuple[int, ...]:
        """The array's chunk shape."""
        return tuple(self.array.chunks)

    def __getattr__(self, name: str) -> Any:
        if name == "array" or name.startswith("__"):  # not set yet (unpickling)
            raise AttributeError(name)
        return getattr(self.array, name)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self[...], dtype=dtype)

    def __getitem__(self, key: Any) -> Any:
        try:
            return self.array[key]
        except (OSError, MemoryError, IndexError, TypeError):
            raise  # I/O errors name their file; index and type errors are the caller's
        except Exception as exc:
            raise ValueError(
                f"the chunk {self._damaged(key)} of the zarr array {self.path} cannot be decoded "
                f"(corrupt or truncated): {type(exc).__name__}: {exc}"
            ) from exc

    def _damaged(self, key: Any) -> Path | str:
        """The file of the first chunk of region ``key`` that fails on its own."""
        grid = tuple(self.array.shards or self.array.chunks)
        if not isinstance(key, tuple):
            key = (key,)
        if any(k is Ellipsis for k in key):
            key = ()
        key = key + (slice(None),) * (self.ndim - len(key))
        ranges = []
        for k, n, c in zip(key, self.shape, grid, strict=False):
            if isinstance(k, slice):
                start, stop, _ = k.indices(n)
            elif isinstance(k, (int, np.integer)):
                start, stop = int(k) % max(n, 1), int(k) % max(n, 1) + 1
            else:
                return "in the region read"
            ranges.append(range(start // c, max(start // c + 1, -(-stop // c))))
        for coords in itertools.islice(itertools.product(*ranges), _PROBE_CHUNKS):
            region = tuple(
                slice(i * c, min((i + 1) * c, n))
                for i, c, n in zip(coords, grid, self.shape, strict=True)
            )
            try:
                self.array[region]
            except Exception:
                return self.path / self.array.metadata.encode_chunk_key(coords)
        return "in the region read"


def _dask(array: zarr.Array, path: Path) -> tuple[da.Array, CheckedArray]:
    """A dask array reading ``array`` chunk by chunk through :class:`CheckedArray`, after the
    declared shape is checked (:func:`~stratoseg.io._lazy.check_declared`)."""
    chunks = tuple(array.chunks)
    check_declared(tuple(array.shape), chunks, np.dtype(array.dtype), source=str(path))
    checked = CheckedArray(array, path)
    name = "stratoseg-zarr-" + tokenize(array, chunks)
    meta = np.empty((0,) * array.ndim, dtype=checked.dtype)
    data = da.from_array(checked, chunks=chunks, name=name, inline_array=True, meta=meta)
    return data, checked


def is_zarr(path: Path) -> bool:
    """Whether ``path`` is a folder holding zarr v2 or v3 metadata."""
    return path.is_dir() and any((path / m).is_file() for m in _META_FILES)


def open_zarr_node(path: Path, *, mode: str = "r") -> zarr.Array | zarr.Group:
    """Open a zarr array or group; corrupt metadata becomes a :class:`ValueError`."""
    for meta in _META_FILES:
        f = path / meta
        if f.is_file():
            try:
                json.loads(f.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ValueError(f"{path} has corrupt zarr metadata in {meta}: {exc}") from exc
    try:
        return zarr.open(store=str(path), mode=mode)  # type: ignore[arg-type]
    except (FileNotFoundError, PermissionError):
        raise
    except Exception as exc:  # zarr raises many types on bad metadata
        raise ValueError(f"{path} is not a readable zarr array or group: {exc}") from exc


def attrs_of(node: zarr.Array | zarr.Group) -> dict[str, Any]:
    """The attributes of a zarr node as a plain dict."""
    return dict(node.attrs.asdict())


def multiscales_of(node: zarr.Group) -> dict[str, Any] | None:
    """The first OME-Zarr ``multiscales`` entry of a group (NGFF 0.4 or 0.5), or None."""
    attrs = attrs_of(node)
    ms = attrs.get("ome", {}).get("multiscales") or attrs.get("multiscales")
    return dict(ms[0]) if ms else None


def _scales(ms: dict[str, Any]) -> list[list[float]]:
    """Per-dataset scale vectors, global coordinateTransformations applied."""
    glob = [1.0] * len(ms["axes"])
    for t in ms.get("coordinateTransformations", []):
        if t.get("type") == "scale":
            glob = list(t["scale"])
    out = []
    for ds in ms["datasets"]:
        scale = [1.0] * len(ms["axes"])
        for t in ds.get("coordinateTransformations", []):
            if t.get("type") == "scale":
                scale = list(t["scale"])
        out.append([float(a) * float(b) for a, b in zip(scale, glob, strict=True)])
    return out


def _axes_letters(ms: dict[str, Any]) -> tuple[str, str | None]:
    names, unit = [], None
    for ax in ms["axes"]:
        name = ax["name"] if isinstance(ax, dict) else str(ax)
        names.append({"channel": "c", "time": "t"}.get(name.lower(), name.lower()[:1]))
        if isinstance(ax, dict) and ax.get("type") == "space" and ax.get("unit"):
            unit = ax["unit"]
    return "".join(names), normalize_unit(unit)


def _ome_volume(path: Path, group: zarr.Group, ms: dict[str, Any], key: str | None) -> Volume:
    axes, unit = _axes_letters(ms)
    scales = _scales(ms)
    levels, arrays = [], []
    for ds in ms["datasets"]:
        arr = group[ds["path"]]
        if not isinstance(arr, zarr.Array):
            raise ValueError(f"{path}: the multiscales dataset {ds['path']!r} is not an array")
        level, checked = _dask(arr, path / ds["path"])
        arrays.append(checked)
        levels.append(level)
    data, norm_axes = normalize_axes(levels[0], axes, source=str(path))
    pyramid = [data] + [normalize_axes(lv, axes, source=str(path))[0] for lv in levels[1:]]
    scale0 = dict(zip(axes, scales[0], strict=True))
    voxel = tuple(scale0.get(a, 1.0) for a in norm_axes.replace("c", ""))
    return Volume(
        data,
        norm_axes,
        voxel,
        unit,
        path,
        "ome-zarr",
        key,
        tuple(pyramid),
        {"multiscales": ms.get("name"), "level_scales": scales},
        array=arrays[0] if data is levels[0] else None,
    )


def reference_of(path: Path) -> dict[str, Any] | None:
    """The ``stratoseg`` attributes of a workspace that references its source in place, else
    None (the raw image of such a workspace is read from the source)."""
    if not (path / "zarr.json").is_file():
        return None
    try:
        doc = json.loads((path / "zarr.json").read_text())
    except (OSError, ValueError):
        return None
    attrs = doc.get("attributes") if isinstance(doc, dict) else None
    meta = attrs.get("stratoseg") if isinstance(attrs, dict) else None
    if not isinstance(meta, dict) or meta.get("mode") != "reference":
        return None
    source, voxel = meta.get("source"), meta.get("voxel_size")
    if not (
        isinstance(source, dict)
        and isinstance(source.get("path"), str)
        and isinstance(source.get("key"), (str, type(None)))
        and isinstance(meta.get("unit"), (str, type(None)))
        and isinstance(voxel, list)
        and all(isinstance(v, (int, float)) for v in voxel)
    ):
        raise ValueError(
            f"{path} references its image elsewhere, but its zarr.json (attributes.stratoseg) "
            f"does not say where: it needs source.path, voxel_size and unit, got {meta!r:.300}"
        )
    return meta


def _parent_multiscales(path: Path) -> tuple[dict[str, Any], int] | None:
    """If ``path`` is a dataset of an OME-Zarr multiscales group, that entry and the level."""
    parent = path.parent
    if not is_zarr(parent):
        return None
    try:
        group = zarr.open_group(store=str(parent), mode="r")
    except Exception:
        return None
    with damaged_file_errors(parent, "OME-Zarr"):  # multiscales metadata, as JSON
        ms = multiscales_of(group)
        if ms is None:
            return None
        for level, ds in enumerate(ms["datasets"]):
            if ds["path"] == path.name:
                return ms, level
    return None


def _plain_attrs_voxel(attrs: dict[str, Any], ndim_spatial: int) -> tuple[float, ...] | None:
    for name in ("voxel_size", "element_size_um", "resolution", "pixel_size"):
        v = attrs.get(name)
        if isinstance(v, (list, tuple)) and len(v) >= ndim_spatial:
            return tuple(float(x) for x in v[-ndim_spatial:])
    return None


def open_zarr(path: Path, *, key: str | None = None) -> Volume:
    """Open a zarr array, an array inside a zarr group (``key``) or an OME-Zarr image lazily."""
    node = open_zarr_node(path)
    if isinstance(node, zarr.Group):
        ms = multiscales_of(node)
        if key is None and ms is not None:
            with damaged_file_errors(path, "OME-Zarr"):  # multiscales metadata, as JSON
                return _ome_volume(path, node, ms, None)
        if key is None:
            arrays = sorted(name for name, _ in node.arrays())
            if len(arrays) == 1:
                key = arrays[0]
            else:
                raise ValueError(
                    f"{path} is a zarr group without OME-Zarr multiscales; give the array with "
                    f"key=... or as a path inside it; its arrays are: {arrays or 'none'}"
                )
        try:
            sub = node[key]
        except KeyError:
            raise ValueError(f"key {key!r} is not in the zarr group {path}") from None
        if isinstance(sub, zarr.Group):
            return open_zarr(path / key)
        node, path = sub, path / key
    data, checked = _dask(node, path)
    parent = _parent_multiscales(path)
    if parent is not None:
        ms, level = parent
        with damaged_file_errors(path.parent, "OME-Zarr"):  # multiscales metadata, as JSON
            axes, unit = _axes_letters(ms)
            stored = data
            data, norm_axes = normalize_axes(data, axes, source=str(path))
            scale = dict(zip(axes, _scales(ms)[level], strict=True))
            voxel = tuple(scale.get(a, 1.0) for a in norm_axes.replace("c", ""))
        return Volume(
            data, norm_axes, voxel, unit, path, "zarr", key,
            array=checked if data is stored else None,
        )  # fmt: skip
    axes = {2: "yx", 3: "zyx", 4: "czyx"}.get(node.ndim, "?" * node.ndim)
    if node.ndim not in (2, 3, 4):
        raise ValueError(
            f"{path} holds a {node.ndim}-D array of shape {node.shape}; expected an image "
            f"with 2 to 4 dimensions: (y, x), (z, y, x) or (c, z, y, x)"
        )
    attrs = attrs_of(node)
    plain_voxel = _plain_attrs_voxel(attrs, len(axes.replace("c", "")))
    unit = normalize_unit(attrs.get("unit")) if plain_voxel else None
    return Volume(
        data,
        axes,
        plain_voxel or (1.0,) * len(axes.replace("c", "")),
        unit,
        path,
        "zarr",
        key,
        attrs={k: v for k, v in attrs.items() if isinstance(v, (str, int, float))},
        array=checked,
    )
