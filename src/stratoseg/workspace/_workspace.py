"""The StratoSeg workspace: one OME-Zarr group per sample (layout in ``docs/workspace.md``)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import dask.array as da
import numpy as np
import zarr

from stratoseg._errors import check_dtype
from stratoseg._progress import ProgressFn, StopFn, dask_progress
from stratoseg.io import Volume, atomic_output, open_volume
from stratoseg.io._zarr import attrs_of, is_zarr
from stratoseg.workspace._journal import Journal
from stratoseg.workspace._labels import write_label_group
from stratoseg.workspace._lock import WriterLock
from stratoseg.workspace._ngff import labels_group_attrs
from stratoseg.workspace._pyramid import store

__all__ = ["FORMAT_VERSION", "Workspace", "check_name", "is_workspace"]

FORMAT_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def check_name(name: str, *, what: str = "name") -> str:
    """Return ``name`` if it is a safe array name (letters, digits, ``_.-``), else raise.

    Examples
    --------
    >>> check_name("segmentation")
    'segmentation'
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"{what} must start with a letter or digit and contain only letters, digits, "
            f"'_', '.' and '-', got {name!r}"
        )
    return name


def is_workspace(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a zarr group whose attributes hold ``"stratoseg"`` (metadata only)."""
    p = Path(path)
    if not is_zarr(p):
        return False
    try:
        return "stratoseg" in attrs_of(zarr.open_group(store=str(p), mode="r"))
    except Exception:  # an array, or unreadable metadata: not a workspace
        return False


class Workspace:
    """An open workspace. Use :meth:`open` or :func:`~stratoseg.workspace.create_workspace`.

    In mode ``"r+"`` the workspace holds the writer lock until :meth:`close` (or the end of a
    ``with`` block); a second writer gets :class:`~stratoseg.WorkspaceLockedError`.

    Attributes
    ----------
    path : Path
        The workspace folder (``*.zarr``).
    mode : {"r", "r+"}
        Read-only or read-write.
    journal : Journal
        The append-only record of runs and edits.
    """

    def __init__(self, path: Path, mode: Literal["r", "r+"], lock: WriterLock | None) -> None:
        self.path = path
        self.mode = mode
        self._lock = lock
        self.root = zarr.open_group(store=str(path), mode="r" if mode == "r" else "r+")
        self.meta: dict[str, Any] = attrs_of(self.root)["stratoseg"]
        self.journal = Journal(path)

    # -- opening and closing ---------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str], *, mode: Literal["r", "r+"] = "r") -> Workspace:
        """Open an existing workspace.

        Raises
        ------
        FileNotFoundError
            If ``path`` does not exist.
        ValueError
            If ``path`` is not a StratoSeg workspace or ``mode`` is not ``"r"``/``"r+"``.
        WorkspaceLockedError
            If ``mode="r+"`` and another writer holds the workspace.
        """
        if mode not in ("r", "r+"):
            raise ValueError(f"mode must be 'r' or 'r+', got {mode!r}")
        p = Path(path)
        if not p.exists():
            raise FileNotFoundError(f"workspace does not exist: {p}")
        if not is_zarr(p):
            raise ValueError(f"{p} is not a zarr folder, so not a StratoSeg workspace")
        try:
            attrs = attrs_of(zarr.open_group(store=str(p), mode="r"))
        except Exception as exc:
            raise ValueError(f"{p} is not a readable zarr group: {exc}") from exc
        if "stratoseg" not in attrs:
            raise ValueError(
                f"{p} is a zarr group but not a StratoSeg workspace (no 'stratoseg' attributes); "
                "create one with `stratoseg import`"
            )
        version = attrs["stratoseg"].get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(
                f"{p} has workspace format {version}; this StratoSeg reads {FORMAT_VERSION}"
            )
        lock = None
        if mode == "r+":
            Journal(p, create=True)  # journal/ holds the lock file
            lock = WriterLock(p)
            lock.acquire()
        return cls(p, mode, lock)

    def close(self) -> None:
        """Release the writer lock (a read-only workspace has none)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r}, mode={self.mode!r})"

    @property
    def writable(self) -> bool:
        """Whether this handle holds the writer lock."""
        return self._lock is not None and self._lock.held

    def _check_writable(self) -> None:
        if not self.writable:
            raise PermissionError(f"workspace {self.path} is open read-only (mode='r')")

    # -- the raw image ---------------------------------------------------------------------
    @property
    def axes(self) -> str:
        """Axes of the raw image (``"zyx"``, ``"yx"``, ``"czyx"`` or ``"cyx"``)."""
        return str(self.meta["axes"])

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """Shape of the spatial grid every channel, prediction and label image shares."""
        return tuple(int(s) for s, a in zip(self.meta["shape"], self.axes, strict=True) if a != "c")

    @property
    def voxel_size(self) -> tuple[float, ...]:
        return tuple(float(v) for v in self.meta["voxel_size"])

    @property
    def unit(self) -> str | None:
        return self.meta.get("unit")

    @property
    def chunks(self) -> tuple[int, ...]:
        """Spatial chunk shape of the workspace arrays."""
        return tuple(int(c) for c in self.meta["chunks"])

    @property
    def is_reference(self) -> bool:
        """True when the raw image stays in its source zarr instead of being copied here."""
        return self.meta.get("mode") == "reference"

    def image(self) -> Volume:
        """The raw image as a lazy :class:`~stratoseg.io.Volume` with its pyramid (read from
        the source itself when the workspace references it)."""
        return open_volume(self.path)

    # -- arrays ----------------------------------------------------------------------------
    def array(self, path: str) -> zarr.Array:
        """The zarr array at ``path`` inside the workspace (e.g. ``"labels/segmentation/0"``)."""
        try:
            node = self.root[path]
        except KeyError:
            raise ValueError(f"{path!r} is not an array in workspace {self.path}") from None
        if not isinstance(node, zarr.Array):
            raise ValueError(f"{path!r} in workspace {self.path} is a group, not an array")
        return node

    def _names(self, group: str) -> list[str]:
        if group == "labels":
            if "labels" not in self.root:
                return []
            return list(attrs_of(self.root["labels"]).get("ome", {}).get("labels", []))
        node = self.root.get(group)
        if not isinstance(node, zarr.Group):
            return []
        # hidden names are outputs still being written (or left by a crash): not finished arrays
        return sorted(name for name, _ in node.arrays() if _NAME.match(name))

    def channels(self) -> list[str]:
        """Names of the derived channels (``channels/<name>``)."""
        return self._names("channels")

    def predictions(self) -> list[str]:
        """Names of the prediction runs (``predictions/<run>``)."""
        return self._names("predictions")

    def label_names(self) -> list[str]:
        """Names of the label images (``labels/<name>``)."""
        return self._names("labels")

    def labels(self, name: str) -> zarr.Array:
        """The label image ``name`` (level 0), writable when the workspace is."""
        if name not in self.label_names():
            raise ValueError(
                f"labels {name!r} not in workspace {self.path}; it has "
                f"{self.label_names() or 'none'}"
            )
        return self.array(f"labels/{name}/0")

    def labels_in_use(self, name: str) -> bool:
        """Whether label image ``name`` exists with content (a chunk written): replacing it
        needs ``overwrite``; an empty one (e.g. made at import) may be filled freely."""
        return name in self.label_names() and self.labels(name).nchunks_initialized > 0

    def reviewed(self, name: str) -> zarr.Array:
        """The reviewed mask of label image ``name`` (1 = a person checked these voxels)."""
        self.labels(name)
        return self.array(f"labels/{name}/reviewed")

    # -- writing ---------------------------------------------------------------------------
    def _spatial_chunks(self) -> tuple[int, ...]:
        return tuple(min(c, s) for c, s in zip(self.chunks, self.spatial_shape, strict=True))

    def create_labels(
        self, name: str, *, dtype: Any = np.uint32, exist_ok: bool = False
    ) -> zarr.Array:
        """Create an empty label image and its reviewed mask; return the label array.

        Empty chunks are not written, so a new label image costs nothing on disk.
        """
        self._check_writable()
        check_name(name, what="labels name")
        dt = check_dtype(dtype, name="labels dtype")
        if dt.kind not in "iu":
            raise TypeError(f"labels dtype must be an integer type, got {dt}")
        if name in self.label_names():
            if exist_ok:
                return self.labels(name)
            raise FileExistsError(f"labels {name!r} already exist in workspace {self.path}")
        self._write_label_group(name, None, dt)
        self.journal.append("labels-created", name=name, dtype=str(dt))
        return self.labels(name)

    def _write_label_group(self, name: str, data: da.Array | None, dtype: np.dtype) -> None:
        """Build ``labels/<name>`` under a temporary name, then move it into place."""
        if "labels" not in self.root:
            self.root.create_group("labels", attributes=labels_group_attrs([]))
        old = self.reviewed(name) if name in self.label_names() else None
        with atomic_output(self.path / "labels" / name) as tmp:
            write_label_group(
                tmp,
                name,
                shape=self.spatial_shape,
                chunks=self._spatial_chunks(),
                axes=self.axes.replace("c", ""),
                voxel_size=self.voxel_size,
                unit=self.unit,
                dtype=dtype,
                data=data,
                reviewed=old,
            )
        names = self.label_names()
        if name not in names:
            self.root["labels"].attrs.update(labels_group_attrs([*names, name]))

    def write_labels(
        self,
        name: str,
        data: da.Array | np.ndarray,
        *,
        overwrite: bool = False,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
        **details: Any,
    ) -> zarr.Array:
        """Write a whole label image (replacing ``name`` only once it is complete).

        ``data`` must have the workspace's spatial shape and an integer dtype; the reviewed mask
        of a replaced label image is kept.
        """
        self._check_writable()
        check_name(name, what="labels name")
        arr = self._check_grid(data, "labels data")
        if arr.dtype.kind not in "iub":
            raise TypeError(f"labels data must have an integer dtype, got {arr.dtype}")
        if name in self.label_names() and not overwrite:
            raise FileExistsError(
                f"labels {name!r} already exist in {self.path} "
                "(pass overwrite=True to replace them)"
            )
        dtype = np.dtype(np.uint32) if arr.dtype.kind == "b" else arr.dtype
        with dask_progress(progress, should_stop):
            self._write_label_group(name, arr, dtype)
        self.journal.append("labels-written", name=name, dtype=str(dtype), **details)
        return self.labels(name)

    def _check_grid(self, data: da.Array | np.ndarray, what: str, lead: int = 0) -> da.Array:
        arr = data if isinstance(data, da.Array) else da.from_array(np.asarray(data))
        check_dtype(arr.dtype, name=f"{what} dtype")
        if tuple(arr.shape[lead:]) != self.spatial_shape or arr.ndim != lead + len(
            self.spatial_shape
        ):
            raise ValueError(
                f"{what} must have shape {'(C, ) + ' if lead else ''}"
                f"{self.spatial_shape} (the workspace grid), got {arr.shape}"
            )
        return arr

    def write_probabilities(
        self,
        run: str,
        data: da.Array | np.ndarray,
        *,
        dtype: Literal["uint8", "float16"] = "uint8",
        classes: list[str] | None = None,
        overwrite: bool = False,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
        **params: Any,
    ) -> zarr.Array:
        """Write class probabilities ``(C, *grid)`` in [0, 1] as ``predictions/<run>``.

        ``uint8`` stores ``round(255 p)`` (attrs ``scale = 1/255``), ``float16`` stores ``p``.
        """
        self._check_writable()
        check_name(run, what="run name")
        if dtype not in ("uint8", "float16"):
            raise ValueError(f"dtype must be 'uint8' or 'float16', got {dtype!r}")
        arr = self._check_grid(data, "probabilities", lead=1)
        if classes is not None and len(classes) != arr.shape[0]:
            raise ValueError(f"classes must name the {arr.shape[0]} channels, got {classes}")
        enc = (
            da.round(da.clip(arr.astype(np.float32), 0, 1) * 255).astype(np.uint8)
            if dtype == "uint8"
            else arr.astype(np.float16)
        )
        attrs = {
            "classes": classes or [str(i) for i in range(arr.shape[0])],
            "scale": 1 / 255 if dtype == "uint8" else 1.0,
            "params": params,
        }
        return self._write_array(
            "predictions", run, enc, attrs, (int(arr.shape[0]),), overwrite, progress, should_stop
        )

    def write_channel(
        self,
        name: str,
        data: da.Array | np.ndarray,
        *,
        overwrite: bool = False,
        progress: ProgressFn | None = None,
        should_stop: StopFn | None = None,
        fill: Callable[[zarr.Array], None] | None = None,
        **params: Any,
    ) -> zarr.Array:
        """Write a derived input channel on the workspace grid as ``channels/<name>``.

        ``fill(target)``, when given, writes the values into the new (temporary) array itself,
        e.g. by tasks on a cluster; ``data`` then only gives the shape and dtype.
        """
        self._check_writable()
        check_name(name, what="channel name")
        arr = self._check_grid(data, "channel data")
        return self._write_array(
            "channels", name, arr, {"params": params}, (), overwrite, progress, should_stop, fill
        )

    def _write_array(
        self,
        group: str,
        name: str,
        data: da.Array,
        attrs: dict[str, Any],
        lead_chunks: tuple[int, ...],
        overwrite: bool,
        progress: ProgressFn | None,
        should_stop: StopFn | None,
        fill: Callable[[zarr.Array], None] | None = None,
    ) -> zarr.Array:
        if name in self._names(group) and not overwrite:
            raise FileExistsError(
                f"{group}/{name} already exists in {self.path} (pass overwrite=True to replace it)"
            )
        if group not in self.root:
            self.root.create_group(group)
        with atomic_output(self.path / group / name) as tmp, dask_progress(progress, should_stop):
            arr = zarr.create_array(
                store=str(tmp),
                shape=data.shape,
                dtype=data.dtype,
                chunks=lead_chunks + self._spatial_chunks(),
                fill_value=0,
                attributes=attrs,
            )
            if fill is None:
                store(data, arr)
            else:
                fill(arr)
        self.journal.append(
            f"{group}-written", name=name, dtype=str(data.dtype), **attrs.get("params", {})
        )
        return self.array(f"{group}/{name}")

    def delete(self, path: str) -> None:
        """Remove a channel, prediction run or label image (``"labels/old"``), and journal it."""
        self._check_writable()
        group, _, name = path.partition("/")
        if group not in ("channels", "predictions", "labels") or name not in self._names(group):
            raise ValueError(f"{path!r} is not a channel, prediction or label image in {self.path}")
        shutil.rmtree(self.path / group / name)
        if group == "labels":
            names = [n for n in self.label_names() if n != name]
            self.root["labels"].attrs.update(labels_group_attrs(names))
        self.journal.append("deleted", path=path)

    # -- overview --------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """What the workspace holds, as JSON-able values."""
        return {
            "path": str(self.path),
            "mode": self.meta.get("mode"),
            "source": self.meta.get("source"),
            "axes": self.axes,
            "shape": list(self.meta["shape"]),
            "dtype": self.meta["dtype"],
            "chunks": list(self.chunks),
            "voxel_size": list(self.voxel_size),
            "unit": self.unit,
            "levels": [list(lv.shape) for lv in self.image().levels],
            "channels": self.channels(),
            "predictions": self.predictions(),
            "labels": self.label_names(),
            "journal_entries": len(self.journal),
        }
