"""Save ``docs/images/segment-widget.png``: the Segment widget after segmenting the composite.

Opens the synthetic composite sample (64 x 128 x 128), docks the Segment widget with the
built-in model ``composite-ct-3phase`` (the first choice of its model list when no user package
shadows it; ``STRATOSEG_MODEL_DIR`` is pointed at an empty folder so that none does) and a
workspace in a temporary folder, clicks *Preview slice* on slice 32 and then *Segment volume*
(checking that the preview equals the run on that slice), and opens the advanced settings. The
canvas is in grid mode: the image under the ``segmentation`` labels on the left, a copy of the
image under the ground truth on the right. Takes a screenshot of the whole window. Needs a
display; on a headless machine run::

    xvfb-run -a python scripts/screenshot_segment.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import napari
import numpy as np
from _screenshots import process_events, save_window, segment_volume

from stratoseg.widgets.segment import SegmentWidget

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "segment-widget.png"
Z = 32  # the displayed (and previewed) slice

MODEL = "composite-ct-3phase"


def main(out: Path = OUT) -> Path:
    """Build the scene and save the screenshot to ``out``; return ``out``."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["STRATOSEG_MODEL_DIR"] = str(Path(tmp) / "models")
        viewer = napari.Viewer(title="StratoSeg", show=True)
        viewer.window._qt_window.resize(1600, 820)
        viewer.open_sample("stratoseg", "composite")
        widget = SegmentWidget(viewer)
        viewer.window.add_dock_widget(widget, name="Segment", area="right")
        widget.image.value = viewer.layers["composite"]
        chosen = [path for path in widget.model.choices if path.name == MODEL]
        if not chosen:
            raise SystemExit(f"the built-in model {MODEL} is not in the widget's list")
        widget.model.value = chosen[0]
        widget.workspace_path.value = Path(tmp) / "composite.zarr"
        viewer.dims.current_step = (Z, 0, 0)

        preview = widget.preview_slice_blocking()
        if preview is None:
            raise SystemExit(f"the preview failed: {widget.status.value}")
        process_events()
        print(f"preview: {widget.status.value}")
        segmentation = segment_volume(widget, viewer)
        truth = viewer.layers["composite ground truth"]
        image = viewer.layers["composite"]
        labels = np.asarray(segmentation.data[0] if segmentation.multiscale else segmentation.data)
        if not np.array_equal(preview.data, labels[Z]):
            raise SystemExit(f"the preview of slice {Z} differs from the run")
        agree = float((labels == np.asarray(truth.data)).mean())
        print(f"the preview equals the run on slice {Z}; {100 * agree:.1f} % agree with the truth")

        viewer.layers.remove(preview)
        widget.advanced.value = True  # the dock has room for them
        # grid mode, two layers a cell: left the image under the segmentation, right a second
        # view of the image under the ground truth (hidden probability layers take no cell)
        beside = viewer.add_image(
            image.data, name="composite (copy)", scale=image.scale,
            contrast_limits=image.contrast_limits, colormap="gray",
        )  # fmt: skip
        for i, layer in enumerate((segmentation, beside, truth)):
            viewer.layers.move(viewer.layers.index(layer), 1 + i)
        segmentation.opacity = truth.opacity = 0.6
        viewer.canvas.grid.stride = 2
        viewer.canvas.grid.shape = (1, 2)
        viewer.canvas.grid.enabled = True
        viewer.layers.selection.active = segmentation
        save_window(viewer, out)
    return out


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
