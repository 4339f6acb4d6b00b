"""The npe2 reader: volumes of every supported format, and StratoSeg workspaces (read-only)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence

from stratoseg.io import can_open, open_volume
from stratoseg.napari._layers import LayerData, volume_layer_data, workspace_layer_data
from stratoseg.workspace import Workspace, is_workspace

__all__ = ["get_reader"]

ReaderFunction = Callable[[str | Sequence[str]], list[LayerData]]

_log = logging.getLogger(__name__)


def _single_path(path: str | os.PathLike[str] | Sequence[str]) -> str | None:
    if isinstance(path, (list, tuple)):
        return os.fspath(path[0]) if len(path) == 1 else None
    return os.fspath(path)  # type: ignore[arg-type]


def get_reader(path: str | Sequence[str]) -> ReaderFunction | None:
    """Return a reader for ``path`` if StratoSeg can open it, else None.

    Opens the metadata only (no pixels): a StratoSeg workspace, or anything
    :func:`~stratoseg.io.open_volume` reads (TIFF, folder of TIFF slices, zarr, OME-Zarr, HDF5,
    MRC). A list of several paths, a missing path, an unrelated file or one that fails to open
    gives None, so napari can try other readers.

    The reader function returns, for a workspace opened read-only
    (``Workspace.open(path, mode="r")``), its raw image (multiscale when it has a pyramid),
    channels and label images. These labels are **view-only**: painting needs the
    *Load / Workspace* widget, which opens the workspace for writing and holds its writer lock.
    Any other source gives one lazy image layer at its voxel size.

    Parameters
    ----------
    path : str or list of str
        What napari asks about.

    Returns
    -------
    callable or None
        ``reader(path) -> list of (data, kwargs, layer_type)``.
    """
    text = _single_path(path)
    if text is None or not can_open(text):
        return None
    try:
        source = Workspace.open(text, mode="r") if is_workspace(text) else open_volume(text)
    except (FileNotFoundError, ValueError, TypeError, OSError) as exc:
        _log.debug("stratoseg cannot read %s: %s", text, exc)
        return None

    def reader(path: str | Sequence[str]) -> list[LayerData]:
        if isinstance(source, Workspace):
            return workspace_layer_data(source, editable=False)
        return [volume_layer_data(source)]

    return reader
