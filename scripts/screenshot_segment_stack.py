"""Save ``docs/images/segment-stack.png``: one click of the Segment widget on real EM with a 2-D
model, the card's settings applied and said.

Opens ISBI 2012 slices 25-29 (held out from ``em-membranes-2d``'s training and from every choice
of its settings) as an image layer, docks the Segment widget with the built-in
``em-membranes-2d`` and *Segment volume* with nothing changed: the line under the model says
what the card makes it apply, the status line carries the 2-D-model-on-a-stack note, and the
cells (the card's ``boundary-components``, linked across the slices) are shown over the image.
Prints the per-slice V_Rand of the result. Needs ``../shared/data``; on a headless machine::

    xvfb-run -a python scripts/screenshot_segment_stack.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import napari
import numpy as np
import tifffile
from _screenshots import save_window, segment_volume
from _train_common import SHARED_DATA, absent
from scipy import ndimage as ndi

from stratoseg.metrics import v_rand
from stratoseg.widgets.segment import SegmentWidget

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "segment-stack.png"
MODEL = "em-membranes-2d"


def main(out: Path = OUT) -> int:
    data = SHARED_DATA / "isbi2012"
    if absent(data):
        return 2
    image = tifffile.imread(data / "train-volume.tif")[25:30]
    truth = tifffile.imread(data / "train-labels.tif")[25:30]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["STRATOSEG_MODEL_DIR"] = str(Path(tmp) / "models")
        viewer = napari.Viewer(title="StratoSeg", show=True)
        viewer.window._qt_window.resize(1600, 860)
        viewer.add_image(image, name="isbi 25-29")
        widget = SegmentWidget(viewer)
        viewer.window.add_dock_widget(widget, name="Segment", area="right")
        widget.image.value = viewer.layers["isbi 25-29"]
        widget.model.value = next(p for p in widget.model.choices if p.name == MODEL)
        widget.workspace_path.value = Path(tmp) / "isbi.zarr"
        print(f"applied: {widget.applied.value}")
        cells = segment_volume(widget, viewer)
        labels = np.asarray(cells.data[0] if cells.multiscale else cells.data)
        four = ndi.generate_binary_structure(2, 1)
        scores = [v_rand(labels[k], ndi.label(truth[k] > 0, structure=four)[0]).score
                  for k in range(len(labels))]  # fmt: skip
        print(f"V_Rand per slice {np.round(scores, 3).tolist()}, mean {np.mean(scores):.3f}")
        cells.opacity = 0.45
        cells.contour = 1
        viewer.dims.current_step = (2, 0, 0)
        viewer.layers.selection.active = cells
        save_window(viewer, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
