"""Save ``docs/images/workspace-widget.png``: the Load / Workspace widget after a painted stroke.

Builds the synthetic composite sample as a TIFF in a temporary folder, creates its workspace with
the widget (as a user would), paints a stroke on the ``segmentation`` labels and takes a
screenshot of the whole window. Needs a display; on a headless machine run::

    xvfb-run -a python scripts/screenshot_workspace.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import napari
import numpy as np
import tifffile
from _screenshots import save_window

from stratoseg.synthetic import make_composite
from stratoseg.widgets.workspace import WorkspaceWidget

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "workspace-widget.png"


def main(out: Path = OUT) -> Path:
    """Build the scene and save the screenshot to ``out``; return ``out``."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "composite.tif"
        tifffile.imwrite(source, np.asarray(make_composite((64, 128, 128), seed=0).image))

        viewer = napari.Viewer(title="StratoSeg", show=True)
        viewer.window._qt_window.resize(1500, 900)
        widget = WorkspaceWidget(viewer)
        viewer.window.add_dock_widget(widget, name="Load / Workspace", area="right")
        widget.source.value = source
        if widget.create_workspace_blocking() is None:
            raise SystemExit(f"creating the workspace failed: {widget.status.value}")

        labels = viewer.layers["segmentation"]
        viewer.dims.current_step = (32, 0, 0)
        labels.mode = "paint"
        labels.brush_size = 6
        labels.selected_label = 1
        with labels.block_history():  # one stroke, one journal entry
            for t in np.linspace(0.0, 1.0, 60):
                y, x = 20 + 88 * t, 24 + 80 * t + 10 * np.sin(6 * t)
                labels.paint((32, y, x), 1, refresh=False)
        labels.refresh()
        edits = widget.workspace.journal.entries("edit") if widget.workspace else []
        print(f"{len(edits)} journal edit entries")
        save_window(viewer, out)
    return out


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
