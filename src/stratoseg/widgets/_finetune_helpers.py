"""Helpers of the Fine-tune widget: which labels, marking them reviewed, the training job."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from stratoseg.widgets._enhance_helpers import layer_meta
from stratoseg.widgets._workspace_helpers import session_holding
from stratoseg.workspace import Workspace

if TYPE_CHECKING:
    from napari.layers import Labels, Shapes

__all__ = [
    "FineTuneJob",
    "box_region",
    "fresh_model_name",
    "labels_of",
    "mark_reviewed",
    "slice_region",
]


def labels_of(layer: Labels) -> tuple[Path, str] | None:
    """``(workspace, label image name)`` of a workspace labels layer, else None."""
    meta = layer_meta(layer)
    if meta.get("role") == "labels" and meta.get("workspace") and meta.get("name"):
        return Path(meta["workspace"]), str(meta["name"])
    return None


@contextmanager
def writable(path: Path) -> Iterator[Workspace]:
    """The workspace for writing: the Load / Workspace session's when it holds it (one lock
    per workspace), else opened here and closed again."""
    session = session_holding(path)
    if session is not None:
        yield session.ws
        return
    with Workspace.open(path, mode="r+") as ws:
        yield ws


def slice_region(shape: tuple[int, ...], point: tuple[float, ...]) -> tuple[slice, ...]:
    """The current slice of a volume (the z index of the viewer's ``point``), or the whole of a
    2-D image.

    Examples
    --------
    >>> slice_region((10, 4, 4), (3.2, 0.0, 0.0))
    (slice(3, 4, None), slice(None, None, None), slice(None, None, None))
    """
    if len(shape) == 2:
        return (slice(None), slice(None))
    z = min(max(round(point[-3]), 0), shape[0] - 1)
    return (slice(z, z + 1), slice(None), slice(None))


def box_region(
    shapes: Shapes, shape: tuple[int, ...], point: tuple[float, ...]
) -> tuple[slice, ...]:
    """The bounding box of the last shape of ``shapes`` (data coordinates, y and x), on the
    current slice of a volume.

    Raises
    ------
    ValueError
        If the layer holds no shape, or the box misses the image.
    """
    if not len(shapes.data):
        raise ValueError(f"draw a rectangle in {shapes.name!r} first")
    corners = np.asarray(shapes.data[-1])[:, -2:]
    lo = np.floor(corners.min(axis=0)).astype(int)
    hi = np.ceil(corners.max(axis=0)).astype(int)
    lo = np.clip(lo, 0, np.array(shape[-2:]))
    hi = np.clip(hi, 0, np.array(shape[-2:]))
    if (hi <= lo).any():
        raise ValueError(f"the last shape of {shapes.name!r} misses the image")
    plane = (slice(int(lo[0]), int(hi[0])), slice(int(lo[1]), int(hi[1])))
    return slice_region(shape, point)[:-2] + plane


def mark_reviewed(path: Path, name: str, region: tuple[slice, ...]) -> int:
    """Set the reviewed mask of label image ``name`` to 1 on ``region``; journal it; return the
    voxels marked."""
    with writable(path) as ws:
        reviewed = ws.reviewed(name)
        reviewed[region] = 1
        shape = tuple(int(n) for n in reviewed.shape)
        box = [list(s.indices(n)[:2]) for s, n in zip(region, shape, strict=True)]
        voxels = int(np.prod([b - a for a, b in box]))
        ws.journal.append("reviewed", labels=name, box=box, voxels=voxels)
    return voxels


def fresh_model_name(stem: str) -> str:
    """``stem``, or ``stem-2``, ``stem-3``, ... : the first name no installed model has."""
    from stratoseg.models import list_models

    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in stem).strip(".-") or "model"
    taken = {e.name for e in list_models()}
    name, k = safe, 1
    while name in taken:
        k += 1
        name = f"{safe}-{k}"
    return name


@dataclass
class FineTuneJob:
    """One *Start*: train on a workspace's reviewed labels into the user's model folder.

    Attributes
    ----------
    workspace, labels : Path, str
    base : Path or None
        The package to fine-tune; None trains a new network.
    config : TrainConfig
    """

    workspace: Path
    labels: str
    base: Path | None
    config: Any

    @property
    def out(self) -> Path:
        """Where the package goes: the user's model folder, under the configured name."""
        from stratoseg.models import user_model_dir

        return user_model_dir() / self.config.name

    def run(self, progress: Callable[[Any], None], should_stop: Callable[[], bool]) -> Any:
        """Train (in a worker thread); returns the :class:`~stratoseg.training.TrainResult`."""
        from stratoseg.training import train_workspace

        self.out.parent.mkdir(parents=True, exist_ok=True)
        session = session_holding(self.workspace)
        if session is not None:
            return self._train(train_workspace, session.ws, progress, should_stop)
        with Workspace.open(self.workspace, mode="r") as ws:  # reading only: no lock
            return self._train(train_workspace, ws, progress, should_stop)

    def _train(self, fn: Any, ws: Workspace, progress: Any, should_stop: Any) -> Any:
        return fn(ws, self.labels, out=self.out, config=self.config, base_model=self.base,
                  register=True, progress=progress, should_stop=should_stop)  # fmt: skip
