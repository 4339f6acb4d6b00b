"""The Fine-tune widget in a real napari viewer (under Xvfb): review, train, plot, stop,
re-segment, with the workspace held by the Load / Workspace widget."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from napari.layers import Labels

from stratoseg.io import Volume
from stratoseg.models import read_card
from stratoseg.synthetic import make_composite
from stratoseg.widgets.finetune import NEW, FineTuneWidget
from stratoseg.workspace import Workspace, create_workspace

pytestmark = pytest.mark.gui


@pytest.fixture
def docked(
    make_napari_viewer: Callable[..., Any], tmp_path: Path, user_dir: Path, open_in_loader: Any
) -> tuple[Any, Any, FineTuneWidget]:
    """A composite workspace with corrected labels ('truth'), open in the Load / Workspace
    widget, and the Fine-tune widget docked beside it (small, fast settings)."""
    sample = make_composite((8, 64, 64), seed=6)
    vol = Volume(sample.image, "zyx", (1.0, 1.0, 1.0), None, Path("synthetic"), "synthetic")
    with create_workspace(tmp_path / "ws.zarr", vol, labels=None,
                          label_images={"truth": sample.labels}):  # fmt: skip
        pass
    viewer = make_napari_viewer()
    loader = open_in_loader(viewer, tmp_path / "ws.zarr")
    widget = FineTuneWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Fine-tune")
    widget.label_layer.value = viewer.layers["truth"]
    widget.image.value = viewer.layers["ws"]
    widget.patch.value = 32
    widget.val_every.value = 5
    widget.steps.value = 40
    widget.minutes.value = 2.0
    return viewer, loader, widget


def test_review_train_watch_stop_and_resegment(docked: Any, qtbot: Any, user_dir: Path) -> None:
    viewer, loader, widget = docked
    assert widget.base_model.value is None  # a new network by default
    assert widget.base_model.native.itemText(0) == NEW
    for z in (1, 3, 5):  # review three slices, through the viewer's current slice
        viewer.dims.set_point(0, z)
        assert widget.mark_slice() == 64 * 64
    ws = loader.workspace
    assert ws is not None
    reviewed = np.asarray(ws.reviewed("truth")[...])
    assert reviewed[[1, 3, 5]].all()
    assert reviewed.sum() == 3 * 64 * 64

    steps: list[int] = []
    widget._relay.trained.connect(lambda p: steps.append(p.step))
    widget.start_button.native.click()
    qtbot.waitUntil(lambda: len(widget.plot.series.get("validation mean jaccard", ([], []))[0])
                    >= 2, timeout=120_000)  # fmt: skip
    xs, ys = widget.plot.series["loss"]
    assert len(xs) >= 2
    assert all(np.isfinite(ys))
    widget.stop_button.native.click()
    qtbot.waitUntil(lambda: widget.start_button.enabled, timeout=60_000)
    result = widget.result
    assert result is not None
    assert result.stopped == "stopped"
    assert result.steps < 40
    assert steps[-1] == result.steps
    assert "stopped by stopped" in widget.status.value
    card = read_card(user_dir / result.card.name)
    assert card.provenance["data"]["labels"] == "truth"
    assert (
        card.provenance["data"]["train_voxels"] + card.provenance["data"]["val_voxels"]
        == 3 * 64 * 64
    )

    assert widget.resegment_button.enabled
    widget.resegment_button.native.click()
    name = result.card.name
    qtbot.waitUntil(lambda: name in viewer.layers, timeout=120_000)
    qtbot.waitUntil(lambda: widget.start_button.enabled, timeout=10_000)
    assert isinstance(viewer.layers[name], Labels)
    labels = np.asarray(ws.labels(name)[...])
    assert labels.shape == (8, 64, 64)
    assert set(np.unique(labels)) <= {0, 1, 2}
    np.testing.assert_array_equal(  # the corrected labels are untouched
        np.asarray(ws.labels("truth")[...]), np.asarray(viewer.layers["truth"].data)
    )


def test_a_box_marks_its_rectangle_on_the_current_slice(docked: Any) -> None:
    viewer, loader, widget = docked
    shapes = viewer.add_shapes([[[10, 12], [10, 30], [20, 30], [20, 12]]], shape_type="rectangle")
    widget.shapes.value = shapes
    viewer.dims.set_point(0, 4)
    assert widget.mark_box() == 10 * 18
    reviewed = np.asarray(loader.workspace.reviewed("truth")[...])
    assert reviewed[4, 10:20, 12:30].all()
    assert reviewed.sum() == 10 * 18


def test_errors_are_shown_not_raised(
    docked: Any, monkeypatch: pytest.MonkeyPatch, qtbot: Any
) -> None:
    widget = docked[2]
    shown: list[str] = []
    monkeypatch.setattr("stratoseg.widgets.finetune.show_error", shown.append)
    widget.start()  # nothing reviewed yet: the worker's error is shown
    qtbot.waitUntil(lambda: widget.start_button.enabled and bool(shown), timeout=60_000)
    assert "no reviewed voxels" in shown[-1]
    assert widget.result is None
    assert widget.mark_box() is None  # no shapes layer
    assert shown[-1] == "Add a shapes layer and draw a rectangle first."
    widget.label_layer.value = None
    assert widget.start() is None
    assert widget.status.value == "Choose a workspace labels layer first."


def test_training_reads_a_workspace_no_one_holds(
    make_napari_viewer: Callable[..., Any], tmp_path: Path, user_dir: Path, tiny_model: Path
) -> None:
    sample = make_composite((6, 48, 48), seed=2)
    vol = Volume(sample.image, "zyx", (1.0, 1.0, 1.0), None, Path("synthetic"), "synthetic")
    with create_workspace(tmp_path / "w.zarr", vol, labels=None,
                          label_images={"truth": sample.labels}) as ws:  # fmt: skip
        ws.reviewed("truth")[[0, 2, 4]] = 1
    viewer = make_napari_viewer()
    viewer.open(str(tmp_path / "w.zarr"), plugin="stratoseg")  # read-only views
    widget = FineTuneWidget(viewer)
    widget.label_layer.value = viewer.layers["truth"]
    widget.patch.value = 32
    widget.steps.value = 6
    widget.val_every.value = 3
    widget.base_model.reset_choices()
    widget.base_model.value = None
    result = widget.start_blocking()
    assert result is not None
    assert result.steps == 6
    with Workspace.open(tmp_path / "w.zarr") as ws:  # nothing held it: no lock left
        assert ws.label_names() == ["truth"]
