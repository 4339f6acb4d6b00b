"""Save ``docs/images/correct-widget.png``: the Correct widget after splitting a merged object.

A synthetic stack of touching cells (``make_cells``, 32 x 128 x 128, radius 8) is saved as a
workspace whose ``nuclei`` labels are the ground truth with one mistake: two touching cells
carry one id (an under-segmentation, as a network makes). The workspace is opened with Load /
Workspace; in the Correct widget two seed points are placed on the merged cell (at the deepest
voxel of each true cell on slice 16) and *Split* separates them, on disk at once; the
screenshot shows the split cells and the widget with its shortcuts. Needs a display; on a
headless machine run::

    xvfb-run -a python scripts/screenshot_correct.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import napari
import numpy as np
from _screenshots import save_window
from scipy import ndimage as ndi

from stratoseg.io import Volume
from stratoseg.synthetic import make_cells
from stratoseg.widgets.correct import CorrectWidget
from stratoseg.widgets.workspace import WorkspaceWidget
from stratoseg.workspace import create_workspace

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "correct-widget.png"
Z = 16


def touching_pair(labels: np.ndarray) -> tuple[int, int]:
    """Two large cells that touch on the slice (the largest shared border)."""
    plane = labels[Z]
    a, b = plane[:, :-1].ravel(), plane[:, 1:].ravel()
    edge = (a != b) & (a > 0) & (b > 0)
    pairs, counts = np.unique(np.sort(np.stack([a[edge], b[edge]]), axis=0), axis=1,
                              return_counts=True)  # fmt: skip
    i, j = pairs[:, int(np.argmax(counts))]
    return int(i), int(j)


def deepest(plane: np.ndarray, obj: int) -> tuple[int, int]:
    dist = ndi.distance_transform_edt(plane == obj)
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(y), int(x)


def main(out: Path = OUT) -> Path:
    cells = make_cells((32, 128, 128), seed=4, radius=8)
    truth = np.asarray(cells.labels).astype(np.uint32)
    a, b = touching_pair(truth)
    seeds = [(Z, *deepest(truth[Z], a)), (Z, *deepest(truth[Z], b))]
    merged = np.where(truth == b, a, truth).astype(np.uint32)
    with tempfile.TemporaryDirectory() as tmp:
        vol = Volume(cells.image, "zyx", (1.0, 1.0, 1.0), None, Path("cells"), "synthetic")
        with create_workspace(Path(tmp) / "cells.zarr", vol, labels=None, chunks=64,
                              label_images={"nuclei": merged}):  # fmt: skip
            pass
        viewer = napari.Viewer(title="StratoSeg", show=True)
        viewer.window._qt_window.resize(1500, 1200)
        loader = WorkspaceWidget(viewer)
        viewer.window.add_dock_widget(loader, name="Load / Workspace", area="right")
        loader.workspace_path.value = Path(tmp) / "cells.zarr"
        loader.open_workspace()
        widget = CorrectWidget(viewer)
        viewer.window.add_dock_widget(widget, name="Correct", area="right")
        points = viewer.add_points(np.array(seeds, float), ndim=3, name="seeds", size=4,
                                   face_color="yellow")  # fmt: skip
        widget.label_layer.value = viewer.layers["nuclei"]
        widget.points_layer.value = points
        viewer.dims.current_step = (Z, 0, 0)
        edit = widget.run("split")
        if edit is None:
            raise SystemExit(f"the split failed: {widget.status.value}")
        points.data = np.array(seeds, float)  # show where the seeds were
        print(f"status: {widget.status.value}")
        viewer.layers.selection.active = viewer.layers["nuclei"]
        save_window(viewer, out)
    return out


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
