"""Save ``docs/images/enhance-widget.png``: the Enhance widget previewing a geodesic channel.

Adds the synthetic composite sample (32 x 256 x 256) as an image layer and a ``seeds`` labels
layer with two painted strokes on slice 16, docks the Enhance widget, chooses the geodesic
method with these seeds (gamma 4, clipped at 10) and previews the displayed slice. The canvas is
in grid mode: the raw slice with the seeds on the left, the ``composite enhance preview`` layer
on the right. Takes a screenshot of the whole window. Needs a display; on a headless machine
run::

    xvfb-run -a python scripts/screenshot_enhance.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import napari
import numpy as np
from _screenshots import process_events, save_window

from stratoseg.synthetic import make_composite
from stratoseg.widgets.enhance import EnhanceWidget

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "enhance-widget.png"
Z = 16  # the displayed (and painted) slice


def _seeds(shape: tuple[int, int, int]) -> np.ndarray:
    """Two short thick strokes on slice ``Z``, 1 inside them, 0 elsewhere."""
    seeds = np.zeros(shape, dtype=np.uint8)
    for t in np.linspace(0.0, 1.0, 80):  # a gently curved stroke, upper left
        y, x = int(60 + 50 * t), int(50 + 70 * t + 8 * np.sin(5 * t))
        seeds[Z, y - 3 : y + 4, x - 3 : x + 4] = 1
    seeds[Z, 180:188, 150:215] = 1  # a straight stroke, lower right
    return seeds


def main(out: Path = OUT) -> Path:
    """Build the scene and save the screenshot to ``out``; return ``out``."""
    image = np.asarray(make_composite((32, 256, 256), seed=0).image)

    viewer = napari.Viewer(title="StratoSeg", show=True)
    viewer.window._qt_window.resize(1500, 900)
    viewer.add_image(image, name="composite", colormap="gray")
    viewer.add_labels(_seeds(image.shape), name="seeds")
    widget = EnhanceWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Enhance", area="right")
    widget.image.value = viewer.layers["composite"]
    widget.method.value = "geodesic"
    widget.gamma.value = 4.0
    widget.seeds.value = viewer.layers["seeds"]
    viewer.dims.axis_labels = ("z", "y", "x")
    viewer.dims.current_step = (Z, 0, 0)
    if widget.preview_slice() is None:
        raise SystemExit(f"the preview failed: {widget.status.value}")
    process_events()
    print(f"status: {widget.status.value}")
    if not str(widget.status.value).startswith("Preview of"):
        raise SystemExit("the preview did not succeed")

    # left: the raw slice under its seeds; right: the preview
    viewer.canvas.grid.stride = 2
    viewer.canvas.grid.shape = (1, 2)
    viewer.canvas.grid.enabled = True
    viewer.layers.selection.active = viewer.layers["composite enhance preview"]
    save_window(viewer, out)
    return out


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
