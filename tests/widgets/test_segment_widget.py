"""The Segment widget in a real napari viewer (under Xvfb), with a tiny trained model."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from napari.layers import Labels

from stratoseg.inference import segment_workspace
from stratoseg.widgets.segment import SegmentWidget
from stratoseg.widgets.workspace import WorkspaceWidget
from stratoseg.workspace import Workspace

pytestmark = pytest.mark.gui


@pytest.fixture
def errors(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    shown: list[str] = []
    monkeypatch.setattr("stratoseg.widgets.segment.show_error", shown.append)
    return shown


@pytest.fixture
def sample(
    make_napari_viewer: Callable[..., Any], tiny_model: Path, tmp_path: Path
) -> tuple[Any, SegmentWidget]:
    """The composite sample loaded, the widget docked with the tiny model and a workspace path."""
    viewer = make_napari_viewer()
    viewer.open_sample("stratoseg", "composite")
    widget = SegmentWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Segment")
    widget.image.value = viewer.layers["composite"]
    widget.model_file.value = tiny_model
    widget.workspace_path.value = tmp_path / "composite.zarr"
    widget.device.value = "cpu"
    return viewer, widget


def test_one_click_segments_and_saves(sample: Any, qtbot: Any, tmp_path: Path) -> None:
    viewer, widget = sample
    assert (
        not widget.workspace_path.native.isHidden()
    )  # a sample is not from a workspace: one is made
    widget.run_button.native.click()
    qtbot.waitUntil(lambda: "segmentation" in viewer.layers, timeout=120_000)
    qtbot.waitUntil(lambda: widget.run_button.enabled, timeout=10_000)
    layer = viewer.layers["segmentation"]
    assert isinstance(layer, Labels)
    assert "Finished predictions/tiny-composite" in widget.status.value
    with Workspace.open(tmp_path / "composite.zarr") as ws:
        saved = np.asarray(ws.labels("segmentation")[...])
        assert ws.array("predictions/tiny-composite").attrs["complete"] is True
    shown = np.asarray(layer.data[0] if layer.multiscale else layer.data)
    np.testing.assert_array_equal(shown, saved)
    truth = np.asarray(viewer.layers["composite ground truth"].data)
    assert (saved == truth).mean() > 0.8  # a real model: mostly right
    assert "tiny-composite p(fibre)" in viewer.layers  # probabilities, hidden
    # the layer now belongs to the workspace: the path field goes away
    assert widget.workspace_path.native.isHidden()


def test_cancel_leaves_a_valid_resumable_workspace(
    sample: Any, qtbot: Any, tmp_path: Path, tiny_model: Path
) -> None:
    viewer, widget = sample
    widget.block.value = "64,64,64"  # 4 blocks of the 64 x 128 x 128 sample
    gate, started = threading.Event(), threading.Event()
    real = widget._compute

    def gated(job: Any) -> Any:  # the worker pauses after its first block until cancelled
        def progress(done: int, total: int) -> None:
            widget._relay.progressed.emit(done, total)
            segmenting = total == 64 * 128 * 128  # (creating the workspace counts tasks)
            if segmenting and 0 < done < total and not started.is_set():
                started.set()
                gate.wait(60)

        return job.compute(progress, widget._stop.is_set)

    widget._compute = gated  # type: ignore[method-assign]
    worker = widget.segment_volume()
    assert worker is not None
    qtbot.waitUntil(started.is_set, timeout=120_000)
    widget.cancel_button.native.click()
    gate.set()
    qtbot.waitUntil(lambda: widget.run_button.enabled, timeout=60_000)
    assert "Cancelled" in widget.status.value
    assert "segmentation" not in viewer.layers
    path = tmp_path / "composite.zarr"
    with Workspace.open(path) as ws:  # valid, and the lock is free
        attrs = ws.array("predictions/tiny-composite").attrs
        assert attrs["complete"] is False
        assert 0 < len(attrs["blocks_done"]) < 4
    widget._compute = real  # type: ignore[method-assign]
    layers = widget.segment_volume_blocking()  # the next click resumes
    assert any(isinstance(layer, Labels) for layer in layers)
    assert "Resumed and finished" in widget.status.value
    with Workspace.open(path, mode="r+") as ws:
        resumed = np.asarray(ws.array("predictions/tiny-composite")[...])
        labels = np.asarray(ws.labels("segmentation")[...])
        segment_workspace(
            ws, tiny_model, run="again", labels="again", block=64, device="cpu"
        )  # one uninterrupted run to compare with
        np.testing.assert_array_equal(resumed, np.asarray(ws.array("predictions/again")[...]))
        np.testing.assert_array_equal(labels, np.asarray(ws.labels("again")[...]))


def test_preview_equals_the_full_run_on_that_slice(sample: Any, tmp_path: Path) -> None:
    viewer, widget = sample
    viewer.dims.set_point(0, 20.0)
    preview = widget.preview_slice_blocking()
    assert preview is not None
    assert preview.name == "composite preview"
    assert preview.data.shape == (128, 128)
    assert not (tmp_path / "composite.zarr").exists()  # a preview writes nothing
    widget.segment_volume_blocking()
    with Workspace.open(tmp_path / "composite.zarr") as ws:
        z = round(viewer.layers["composite"].world_to_data(viewer.dims.point)[0])
        np.testing.assert_array_equal(preview.data, np.asarray(ws.labels("segmentation")[z]))


def test_threaded_preview(sample: Any, qtbot: Any) -> None:
    viewer, widget = sample
    widget.preview_button.native.click()
    qtbot.waitUntil(lambda: "composite preview" in viewer.layers, timeout=60_000)
    qtbot.waitUntil(lambda: widget.preview_button.enabled, timeout=10_000)


def test_writes_through_the_workspace_widget_session(
    make_napari_viewer: Callable[..., Any], tiny_model: Path, tmp_path: Path
) -> None:
    """A workspace held by Load / Workspace is segmented through its session: the labels
    layer stays editable and painting on it is saved."""
    from stratoseg.synthetic import make_composite
    from stratoseg.workspace import create_workspace

    vol = make_composite((8, 64, 64), seed=1)
    create_workspace(tmp_path / "ws.zarr", _tif(tmp_path, np.asarray(vol.image))).close()
    viewer = make_napari_viewer()
    loader = WorkspaceWidget(viewer)
    loader.workspace_path.value = tmp_path / "ws.zarr"
    assert loader.open_workspace() is not None
    widget = SegmentWidget(viewer)
    widget.image.value = viewer.layers["ws"]
    widget.model_file.value = tiny_model
    widget.device.value = "cpu"
    assert widget.workspace_path.native.isHidden()
    layers = widget.segment_volume_blocking()
    labels = [layer for layer in layers if isinstance(layer, Labels)]
    assert len(labels) == 1
    assert labels[0] is viewer.layers["segmentation"]
    assert labels[0].editable
    assert not labels[0].multiscale
    assert np.asarray(labels[0].data[...]).any()
    loader.close()


def _tif(tmp_path: Path, data: np.ndarray) -> Path:
    import tifffile

    tifffile.imwrite(tmp_path / "v.tif", data)
    return tmp_path / "v.tif"


def test_bad_settings_are_reported(sample: Any, errors: list[str]) -> None:
    _, widget = sample
    widget.window.value = "sixty"
    assert widget.segment_volume() is None
    assert "Window must be 'recommended', an integer" in errors[-1]
    assert widget.applied.value.startswith("Will not run: Window must be")
    widget.window.value = "recommended"
    widget.passes.value = "two"
    assert widget.segment_volume() is None
    assert "Passes must be 'recommended' or a whole number; got 'two'" in errors[-1]
    widget.passes.value = "recommended"
    widget.halo.value = "3"
    assert widget.segment_volume_blocking() == []
    assert "Halo 3: must be a multiple of 4" in errors[-1]
    assert widget.run_button.enabled


def test_the_card_s_recommendation_is_applied_and_shown(
    sample: Any, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stratoseg.models import load_package, save_package

    notes: list[str] = []
    monkeypatch.setattr("stratoseg.widgets.segment.show_info", notes.append)
    net, card = load_package(tiny_model)
    advice = {"tiling": "stratified", "passes": 2,
              "postprocess": {"kind": "distance-watershed", "h": 2.0}}  # fmt: skip
    package = save_package(net, card.updated(name="advised", recommended=advice),
                           tmp_path / "advised.zip")  # fmt: skip
    _, widget = sample
    widget.model_file.value = package
    shown = widget.applied.value
    assert "tiling stratified; 2 passes (the card's)" in shown
    assert "post-processing distance-watershed (h=2.0) (the card's)" in shown
    assert "advised is a 2-D model: each of the 64 z slices" in shown  # the sample is 3-D
    widget.block.value = "64,64,64"
    assert widget.segment_volume_blocking() != []
    assert any("is a 2-D model" in n for n in notes)  # told when the run started
    with Workspace.open(tmp_path / "composite.zarr") as ws:
        params = ws.array("predictions/advised").attrs["params"]
        entry = ws.journal.entries("labels-written")[-1]
    assert (params["tiling"], params["passes"]) == ("stratified", 2)
    assert entry["method"] == "distance-watershed"
    assert entry["params"]["h"] == 2.0
    assert entry["params"]["stack"]["kind"] == "link"
    # an override of one item: the rest stays the card's
    widget.tiling.value = "gaussian"
    assert "tiling gaussian; block 64,64,64 (yours)" in widget.applied.value
    assert "distance-watershed" in widget.applied.value


def test_no_model(
    make_napari_viewer: Callable[..., Any], errors: list[str], user_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from stratoseg.models import _registry

    (tmp_path / "no-builtin").mkdir()
    monkeypatch.setattr(_registry, "BUILTIN_DIR", tmp_path / "no-builtin")
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((8, 32, 32), np.uint8), name="img")
    widget = SegmentWidget(viewer)
    assert "No model is installed" in widget.status.value
    assert widget.segment_volume() is None
    assert "Choose a model" in errors[-1]


def test_plugin_machinery_docks_the_widget(make_napari_viewer: Callable[..., Any]) -> None:
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("stratoseg", "Segment")
    assert isinstance(widget, SegmentWidget)


def test_a_stopped_post_processing_is_finished_by_the_next_click(
    sample: Any, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prediction finished, its post-processing was cancelled: *Segment volume* again
    redoes only the post-processing (the prediction is not recomputed)."""
    import stratoseg.postprocess
    from stratoseg._progress import Cancelled
    from stratoseg.models import load_package, save_package

    net, card = load_package(tiny_model)
    advice = {"postprocess": {"kind": "distance-watershed", "h": 2.0}}
    package = save_package(net, card.updated(name="advised", recommended=advice),
                           tmp_path / "advised.zip")  # fmt: skip
    _, widget = sample
    widget.model_file.value = package
    real = stratoseg.postprocess.postprocess_workspace

    def stopped(*args: Any, **kwargs: Any) -> Any:
        raise Cancelled("post-processing cancelled")

    monkeypatch.setattr(stratoseg.postprocess, "postprocess_workspace", stopped)
    assert widget.segment_volume_blocking() == []
    assert "Cancelled: the run" in widget.status.value
    with Workspace.open(tmp_path / "composite.zarr") as ws:
        assert ws.array("predictions/advised").attrs["complete"] is True
        assert not ws.labels_in_use("segmentation")
    chunks = tmp_path / "composite.zarr" / "predictions" / "advised" / "c"
    written = {p: p.stat().st_mtime_ns for p in chunks.rglob("*") if p.is_file()}
    assert written
    monkeypatch.setattr(stratoseg.postprocess, "postprocess_workspace", real)
    assert widget.segment_volume_blocking() != []
    assert "Resumed and finished" in widget.status.value
    again = {p: p.stat().st_mtime_ns for p in chunks.rglob("*") if p.is_file()}
    assert again == written  # no chunk of the prediction written again
    with Workspace.open(tmp_path / "composite.zarr") as ws:
        assert np.asarray(ws.labels("segmentation")[...]).max() > 2  # objects
