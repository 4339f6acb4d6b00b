"""Save ``docs/images/finetune-widget.png``: the Fine-tune widget after a short fine-tuning.

The scene is the issue's use case at small scale. A synthetic composite as from another scanner,
with lower contrast, more noise and stronger ring artefacts than the benchmark's base scan
(``make_composite`` with grey levels 110 / 150 / 60, fibre radius 3, noise 12, rings of
amplitude 25) is segmented with ``composite-ct-3phase`` into
``segmentation``; three slices of it are then "corrected" (set to the ground truth, as a person
would in napari) and marked reviewed with the widget's *Mark slice reviewed*. The widget then
fine-tunes the built-in model for 40 seconds (the plot shows the loss and the validation
score) and *Re-segment with the new model* adds the new labels. The canvas shows the image
under the new labels. Needs a display; on a headless machine run::

    xvfb-run -a python scripts/screenshot_finetune.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import napari
import numpy as np
from _screenshots import save_window

from stratoseg.inference import segment_workspace
from stratoseg.io import Volume
from stratoseg.metrics import semantic_scores
from stratoseg.synthetic import make_composite
from stratoseg.widgets.finetune import FineTuneWidget
from stratoseg.widgets.workspace import WorkspaceWidget
from stratoseg.workspace import create_workspace

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "finetune-widget.png"
CORRECTED = (8, 24, 40)
SCAN = {"seed": 20, "fibre_radius": 3.0, "levels": (110, 150, 60), "noise_std": 12.0,
        "ring_amplitude": 25.0}  # fmt: skip


def main(out: Path = OUT) -> Path:
    """Build the scene and save the screenshot to ``out``; return ``out``."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["STRATOSEG_MODEL_DIR"] = str(Path(tmp) / "models")
        sample = make_composite((48, 160, 160), **SCAN)
        truth = np.asarray(sample.labels)
        vol = Volume(sample.image, "zyx", (1.0, 1.0, 1.0), None, Path("scan"), "synthetic")
        with create_workspace(Path(tmp) / "scan.zarr", vol) as ws:
            segment_workspace(ws, "composite-ct-3phase", labels="segmentation")
            before = np.asarray(ws.labels("segmentation")[...])
        viewer = napari.Viewer(title="StratoSeg", show=True)
        viewer.window._qt_window.resize(1600, 900)
        loader = WorkspaceWidget(viewer)
        viewer.window.add_dock_widget(loader, name="Load / Workspace", area="right")
        loader.workspace_path.value = Path(tmp) / "scan.zarr"
        loader.open_workspace()
        labels = viewer.layers["segmentation"]
        for z in CORRECTED:  # the corrections a person makes in napari
            labels.data[z] = truth[z]
        widget = FineTuneWidget(viewer)
        viewer.window.add_dock_widget(widget, name="Fine-tune", area="right")
        widget.label_layer.value = labels
        widget.image.value = viewer.layers["scan"]
        for z in CORRECTED:
            viewer.dims.current_step = (z, 0, 0)
            widget.mark_slice()
        widget.base_model.value = next(c for c in widget.base_model.choices if c is not None
                                       and c.name == "composite-ct-3phase")  # fmt: skip
        widget.minutes.value = 0.67
        widget.val_every.value = 25
        result = widget.start_blocking()
        if result is None:
            raise SystemExit(f"fine-tuning failed: {widget.status.value}")
        print(f"status: {widget.status.value}")
        if not widget.resegment_blocking():
            raise SystemExit(f"re-segmenting failed: {widget.status.value}")
        new = np.asarray(loader.workspace.labels(result.card.name)[...])
        held = [z for z in range(truth.shape[0]) if z not in CORRECTED]
        for name, pred in (("before", before), ("after", new)):
            s = semantic_scores(pred[held], truth[held], n_classes=3)
            print(f"{name}: mean Jaccard {s.mean_jaccard:.3f} on the slices not corrected")
        viewer.layers["segmentation"].visible = False
        viewer.layers.selection.active = viewer.layers[result.card.name]
        viewer.dims.current_step = (16, 0, 0)
        save_window(viewer, out)
    return out


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
