"""Helpers of the Load / Workspace widget: the open-workspace session and texts.

Generic Qt plumbing shared with other widgets lives in :mod:`stratoseg.widgets._common`.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from stratoseg.io import Volume
from stratoseg.napari._layers import LayerData, layer_name, workspace_layer_data
from stratoseg.workspace import EditLog, Workspace, default_chunks

if TYPE_CHECKING:
    import napari.viewer
    from napari.layers import Layer

__all__ = [
    "SessionSlot",
    "WorkspaceSession",
    "default_chunk_edge",
    "default_workspace_path",
    "format_summary",
    "paint_changes",
    "session_holding",
    "sessions_of",
]


def default_workspace_path(source: Path) -> Path:
    """``<name>.zarr`` beside ``source`` (``<name>-workspace.zarr`` if that is the source).

    Examples
    --------
    >>> default_workspace_path(Path("/data/scan.tif")), default_workspace_path(Path("/d/v.zarr"))
    (PosixPath('/data/scan.zarr'), PosixPath('/d/v-workspace.zarr'))
    """
    out = source.parent / f"{layer_name(source)}.zarr"
    if out.resolve() == source.resolve():
        out = source.parent / f"{layer_name(source)}-workspace.zarr"
    return out


def default_chunk_edge(volume: Volume) -> int:
    """The chunk edge :func:`~stratoseg.workspace.default_chunks` picks for ``volume``."""
    spatial = [s for s, a in zip(volume.shape, volume.axes, strict=True) if a != "c"]
    return max(default_chunks(spatial))


def format_summary(summary: dict[str, Any]) -> str:
    """The metadata of a volume or workspace summary as short ``key: value`` lines.

    Examples
    --------
    >>> print(format_summary({"format": "tiff", "shape": [20, 64, 64], "dtype": "uint8",
    ...                       "voxel_size": [2.0, 1.0, 1.0], "unit": "micrometer"}))
    format: tiff
    shape: 20 x 64 x 64
    dtype: uint8
    voxel size: 2 x 1 x 1 micrometer
    """

    def dims(values: Iterable[Any]) -> str:
        return " x ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)

    lines = []
    for key in (
        "format",
        "mode",
        "axes",
        "shape",
        "dtype",
        "chunks",
        "voxel_size",
        "levels",
        "labels",
        "channels",
        "predictions",
        "journal_entries",
    ):
        if key not in summary or summary[key] in (None, []):
            continue
        value = summary[key]
        if key == "voxel_size":
            lines.append(f"voxel size: {dims(value)} {summary.get('unit') or 'pixel'}")
        elif key == "levels" and isinstance(value, list):
            lines.append(f"pyramid levels: {len(value)}")
        elif key in ("shape", "chunks"):
            lines.append(f"{key}: {dims(value)}")
        elif isinstance(value, list):
            lines.append(f"{key.replace('_', ' ')}: {', '.join(map(str, value))}")
        else:
            lines.append(f"{key.replace('_', ' ')}: {value}")
    return "\n".join(lines)


def paint_changes(
    atoms: Sequence[Any],
) -> tuple[tuple[slice, ...], np.ndarray, np.ndarray, np.ndarray] | None:
    """What a napari paint event changed: its box, the flat indices of the changed voxels in
    it, their values before and after (for :meth:`EditLog.record_changes`); None if nothing.

    Both kinds of napari history atoms are read: masked paint atoms (``slice_key``, ``mask``,
    ``old_values``, ``new_value``) and ``(indices, old, new)`` tuples from ``data_setitem``;
    a voxel painted twice in one event keeps its first old value and its last new one.
    """
    coords, olds, news = [], [], []
    for atom in atoms:
        if hasattr(atom, "slice_key"):
            starts = np.array([int(s.start) for s in atom.slice_key])
            if atom.mask is None:
                old = np.asarray(atom.old_values)
                where = np.indices(old.shape).reshape(old.ndim, -1)
                old = old.reshape(-1)
            else:
                where = np.array(np.nonzero(atom.mask))
                old = np.asarray(atom.old_values).reshape(-1)
            coords.append(where + starts[:, None])
            olds.append(old)
            news.append(np.full(old.shape, int(atom.new_value), dtype=np.int64))
        else:
            indices, old, new = atom
            where = np.array([np.asarray(i).reshape(-1) for i in indices])
            if where.size == 0:
                continue
            coords.append(where)
            olds.append(np.asarray(old).reshape(-1))
            news.append(np.broadcast_to(np.asarray(new), (where.shape[1],)).astype(np.int64))
    if not coords:
        return None
    xyz = np.concatenate(coords, axis=1)
    lo, hi = xyz.min(axis=1), xyz.max(axis=1) + 1
    flat = np.ravel_multi_index(tuple(xyz - lo[:, None]), tuple(hi - lo))
    before, after = np.concatenate(olds), np.concatenate(news)
    _, first = np.unique(flat, return_index=True)
    _, last_rev = np.unique(flat[::-1], return_index=True)
    last = len(flat) - 1 - last_rev
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    return box, flat[first], before[first], after[last]


class WorkspaceSession:
    """A workspace open for writing, the layers it added to a viewer, and its edit journal.

    Labels layers hold the workspace's zarr arrays, so painting writes to disk; every paint
    event appends an ``"edit"`` entry to the journal.

    Parameters
    ----------
    ws : Workspace
        Open with ``mode="r+"``; the session closes it.
    viewer : napari.viewer.Viewer
        Where the layers go.
    """

    def __init__(self, ws: Workspace, viewer: napari.viewer.Viewer) -> None:
        self.ws = ws
        self.viewer = viewer
        self.layers: list[Layer] = []
        self.logs: dict[str, EditLog] = {}
        viewer.layers.events.removed.connect(self._on_removed)
        _SESSIONS.add(self)
        try:
            self.add(workspace_layer_data(ws, editable=ws.writable))
        except Exception:
            self.close(remove_labels=True)
            raise

    def add(self, layer_data: Iterable[LayerData]) -> list[Layer]:
        """Add layers to the viewer; labels layers get their paint events journaled."""
        added: list[Layer] = []
        for data, kwargs, kind in layer_data:
            out = getattr(self.viewer, f"add_{kind}")(data, **kwargs)
            for layer in out if isinstance(out, list) else [out]:
                if kind == "labels":
                    layer.events.paint.connect(self._on_paint)
                added.append(layer)
        self.layers.extend(added)
        return added

    def labels_layers(self) -> list[Layer]:
        """The session's labels layers still in the viewer."""
        return [layer for layer in self.layers if _role(layer) == "labels"]

    def edit_log(self, name: str) -> EditLog:
        """The undo history of label image ``name`` (one per session and label image)."""
        if name not in self.logs:
            self.logs[name] = EditLog(self.ws, name)
        return self.logs[name]

    def _on_paint(self, event: Any) -> None:
        name = _meta(event.source).get("name")
        changes = paint_changes(event.value)
        if changes is None or name is None:
            return
        box, index, before, after = changes
        values = [int(v) for v in np.unique(after)]
        self.edit_log(name).record_changes(
            box, index, before, after, kind="brush",
            label=values[0] if len(values) == 1 else values,
        )  # fmt: skip

    def _on_removed(self, event: Any) -> None:
        layer = event.value
        if any(layer is mine for mine in self.layers):
            self._forget(layer)

    def _forget(self, layer: Layer) -> None:
        if _role(layer) == "labels":
            layer.events.paint.disconnect(self._on_paint)
        self.layers = [mine for mine in self.layers if mine is not layer]

    def close(self, *, remove_labels: bool) -> None:
        """Disconnect events, release the writer lock; optionally remove the labels layers.

        The labels layers write to the workspace's arrays; once the lock is released they would
        be writers without it, so a widget closing the session removes them (image and channel
        layers are read-only views and stay). When the viewer itself is closing, nothing is
        removed.
        """
        self.viewer.layers.events.removed.disconnect(self._on_removed)
        for layer in list(self.layers):
            is_labels = _role(layer) == "labels"
            self._forget(layer)
            if remove_labels and is_labels and layer in self.viewer.layers:
                self.viewer.layers.remove(layer)
        self.layers = []
        _SESSIONS.discard(self)
        self.ws.close()


#: The sessions open in this process: other widgets write through them rather than fight
#: over the writer lock (see :func:`session_holding`).
_SESSIONS: weakref.WeakSet[WorkspaceSession] = weakref.WeakSet()


def session_holding(path: str | Path) -> WorkspaceSession | None:
    """The open session of this process that holds the workspace at ``path``, if any."""
    return next((s for s in sessions_of(path) if s.ws.writable), None)


def sessions_of(path: str | Path) -> list[WorkspaceSession]:
    """The open sessions of this process on the workspace at ``path``, read-only ones too."""
    target = Path(path).resolve()
    return [s for s in list(_SESSIONS) if Path(s.ws.path).resolve() == target]


class SessionSlot:
    """Holds the widget's current :class:`WorkspaceSession`, if any.

    A separate object so that cleanup at Qt destruction needs nothing from the widget itself.
    """

    def __init__(self) -> None:
        self.session: WorkspaceSession | None = None

    def close(self, *, remove_labels: bool) -> WorkspaceSession | None:
        """Close and forget the session (idempotent); return it, or None if there was none."""
        session, self.session = self.session, None
        if session is not None:
            session.close(remove_labels=remove_labels)
        return session


def _meta(layer: Any) -> dict[str, Any]:
    return dict(layer.metadata.get("stratoseg", {}))


def _role(layer: Any) -> str | None:
    return _meta(layer).get("role")
