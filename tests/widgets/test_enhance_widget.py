"""The Enhance widget in a real napari viewer (under Xvfb)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from napari.layers import Image

from stratoseg.enhance import EnhanceParams, enhance_array
from stratoseg.napari._layers import workspace_layer_data
from stratoseg.synthetic import make_composite
from stratoseg.widgets.enhance import EnhanceWidget
from stratoseg.workspace import Workspace, create_workspace

pytestmark = pytest.mark.gui

SHAPE = (16, 64, 64)
SCALE = (2.0, 0.5, 0.5)
TRANSLATE = (0.0, 3.0, 4.0)


@pytest.fixture(scope="module")
def volume() -> np.ndarray:
    return np.asarray(make_composite(SHAPE).image.compute())


@pytest.fixture
def errors(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Messages the widget shows with napari's show_error."""
    shown: list[str] = []
    monkeypatch.setattr("stratoseg.widgets.enhance.show_error", shown.append)
    return shown


@pytest.fixture
def docked(
    make_napari_viewer: Callable[..., Any], volume: np.ndarray
) -> tuple[Any, EnhanceWidget, Image]:
    viewer = make_napari_viewer()
    widget = EnhanceWidget(viewer)
    widget.live.value = False  # tests call the preview themselves unless they test live mode
    viewer.window.add_dock_widget(widget, name="Enhance")
    layer = viewer.add_image(volume, name="vol", scale=SCALE, translate=TRANSLATE)
    return viewer, widget, layer


def test_layer_chooser_follows_the_viewer(docked: Any) -> None:
    viewer, widget, layer = docked
    assert widget.image.value is layer  # offered as soon as it was inserted
    other = viewer.add_image(np.zeros((8, 8), np.uint8), name="other")
    viewer.add_labels(np.zeros((8, 8), np.uint8), name="labels")
    assert [name for name, _ in widget._image_choices()] == ["vol", "other"]
    viewer.layers.remove(layer)
    assert widget.image.value is other


def test_preview_shows_the_current_slice(docked: Any, volume: np.ndarray) -> None:
    viewer, widget, layer = docked
    viewer.dims.set_current_step(0, 5)  # world z = 10 at scale 2: data slice 5
    preview = widget.preview_slice()
    assert isinstance(preview, Image)
    assert preview.name == "vol enhance preview"
    assert preview.data.shape == SHAPE[1:]
    assert tuple(preview.scale) == SCALE[1:]
    assert tuple(preview.translate) == TRANSLATE[1:]
    # defaults: binary, Otsu, clipped at 10 (block-wise and cancellable on a whole volume)
    expected = enhance_array(
        volume[5], EnhanceParams(mode="2d", max_distance=10.0), voxel_size=SCALE[1:]
    )
    np.testing.assert_array_equal(preview.data, expected)
    assert widget.image.value is layer  # the preview is not offered as an input
    assert "at index 5:" in widget.status.value

    viewer.dims.set_current_step(0, 9)
    widget.method.value = "grayscale"
    widget.levels.value = 4
    again = widget.preview_slice()
    assert again is preview  # updated in place
    assert [lay.name for lay in viewer.layers] == ["vol", "vol enhance preview"]
    params = EnhanceParams(method="grayscale", levels=4, mode="2d", max_distance=10.0)
    np.testing.assert_array_equal(
        preview.data, enhance_array(volume[9], params, voxel_size=SCALE[1:])
    )


def test_fields_follow_the_method(docked: Any) -> None:
    _, widget, _ = docked
    hidden = {
        "binary": (False, True, True, True),
        "grayscale": (True, False, True, True),
        "projected": (True, True, False, True),
        "geodesic": (False, True, False, False),
    }
    for method, expected in hidden.items():
        widget.method.value = method
        rows = (widget._threshold_row, widget.levels, widget.gamma, widget.seeds)
        assert tuple(row._explicitly_hidden for row in rows) == expected, method
    widget.method.value = "binary"
    assert widget.params().threshold is None  # Otsu
    widget.otsu.value = False
    widget.threshold.value = 0.3
    assert widget.threshold.enabled
    assert widget.params().threshold == pytest.approx(0.3)
    assert widget.params().max_distance == 10.0  # clipped by default
    widget.clip.value = False
    assert widget.params().max_distance is None
    widget.clip.value = True
    widget.max_distance.value = 4.0
    assert widget.params().max_distance == 4.0


def test_live_preview_is_debounced(docked: Any, qtbot: Any) -> None:
    viewer, widget, _ = docked
    widget.live.value = True
    widget.alpha.value = 2.0
    widget.beta.value = 0.5
    assert "vol enhance preview" not in viewer.layers  # not yet: waits for a pause
    qtbot.waitUntil(lambda: "vol enhance preview" in viewer.layers, timeout=5_000)
    preview = viewer.layers["vol enhance preview"]
    before = preview.data.copy()
    viewer.dims.set_current_step(0, 12)  # moving to another slice updates the preview
    qtbot.waitUntil(lambda: not np.array_equal(preview.data, before), timeout=5_000)
    assert viewer.layers["vol enhance preview"] is preview


def test_run_in_memory(docked: Any, volume: np.ndarray) -> None:
    viewer, widget, _ = docked
    out = widget.run_volume_blocking()
    assert isinstance(out, Image)
    assert out.name == "vol binary"
    assert out.data.shape == SHAPE
    assert out.data.dtype == np.float32
    assert tuple(out.scale) == SCALE
    np.testing.assert_allclose(
        out.data,
        enhance_array(volume, EnhanceParams(max_distance=10.0), voxel_size=SCALE),
        rtol=1e-6,
        atol=1e-6,
    )
    assert widget._pbar is None
    assert widget.run_button.enabled
    assert not widget.cancel_button.enabled
    widget.channel.value = "mine"
    widget.method.value = "projected"
    assert widget.run_volume_blocking() is not None
    assert [lay.name for lay in viewer.layers] == ["vol", "vol binary", "vol mine"]


def test_threaded_run(docked: Any, qtbot: Any) -> None:
    viewer, widget, _ = docked
    widget.clip.value = True
    widget.max_distance.value = 3.0
    worker = widget.run_volume()
    assert worker is not None
    assert not widget.run_button.enabled
    qtbot.waitUntil(lambda: "vol binary" in viewer.layers, timeout=30_000)
    qtbot.waitUntil(lambda: widget.run_button.enabled, timeout=5_000)
    assert viewer.layers["vol binary"].data.shape == SHAPE
    assert widget._pbar is None
    assert widget.status.value.startswith("Added")


def test_cancel_adds_nothing(docked: Any) -> None:
    viewer, widget, _ = docked
    widget._relay.progressed.connect(lambda done, total: widget.cancel())
    assert widget.run_volume_blocking() is None
    assert widget.status.value.startswith("Cancelled")
    assert [lay.name for lay in viewer.layers] == ["vol"]
    assert widget.run_button.enabled


def test_threaded_cancel_is_reported_not_raised(docked: Any, qtbot: Any) -> None:
    """A cancel in the worker ends in the status line; nothing reaches the Qt event loop."""
    viewer, widget, _ = docked
    widget.clip.value = True
    widget.max_distance.value = 3.0
    widget._relay.progressed.connect(lambda done, total: widget.cancel())
    assert widget.run_volume() is not None
    qtbot.waitUntil(lambda: widget.run_button.enabled, timeout=30_000)
    assert widget.status.value.startswith("Cancelled")
    assert [lay.name for lay in viewer.layers] == ["vol"]


def test_bad_parameter_is_reported(docked: Any, errors: list[str]) -> None:
    viewer, widget, _ = docked
    widget.method.value = "grayscale"
    widget.levels.value = 0
    assert widget.preview_slice() is None
    assert widget.status.value.startswith("Invalid parameters: levels")
    assert errors == [widget.status.value]
    assert widget.run_volume() is None
    assert [lay.name for lay in viewer.layers] == ["vol"]
    widget.levels.value = 1
    assert widget.preview_slice() is not None


def test_live_errors_only_in_the_status(docked: Any, errors: list[str], qtbot: Any) -> None:
    _, widget, _ = docked
    widget.live.value = True
    widget.clip.value = True
    widget.max_distance.value = 0.0
    qtbot.waitUntil(lambda: "max_distance" in widget.status.value, timeout=5_000)
    assert errors == []  # no notification for every keystroke


def test_no_layer(make_napari_viewer: Callable[..., Any], errors: list[str]) -> None:
    widget = EnhanceWidget(make_napari_viewer())
    assert widget.preview_slice() is None
    assert widget.run_volume_blocking() is None
    assert errors == ["Choose an image layer first."] * 2


@pytest.fixture
def workspace(tmp_path: Path, volume: np.ndarray) -> Path:
    source = tmp_path / "vol.tif"
    tifffile.imwrite(source, volume)
    create_workspace(tmp_path / "vol.zarr", source, chunks=32).close()
    return tmp_path / "vol.zarr"


def test_run_into_the_workspace(
    make_napari_viewer: Callable[..., Any], workspace: Path, errors: list[str]
) -> None:
    viewer = make_napari_viewer()
    widget = EnhanceWidget(viewer)
    with Workspace.open(workspace) as ws:
        for data, kwargs, kind in workspace_layer_data(ws, editable=False):
            getattr(viewer, f"add_{kind}")(data, **kwargs)
    assert widget.image.value is viewer.layers["vol"]

    holder = Workspace.open(workspace, mode="r+")  # e.g. the Load / Workspace widget
    try:
        assert widget.run_volume_blocking() is None
        assert "Load / Workspace" in widget.status.value
        assert "compute in memory" in errors[-1]
    finally:
        holder.close()

    out = widget.run_volume_blocking()
    assert out is not None
    assert out.name == "vol binary"
    assert out.data.shape == SHAPE
    assert out.metadata["stratoseg"]["array"] == "channels/binary"
    with Workspace.open(workspace, mode="r+") as ws:  # the lock was released
        assert ws.channels() == ["binary"]
        np.testing.assert_array_equal(ws.array("channels/binary")[...], np.asarray(out.data))
    assert widget.run_volume_blocking() is None
    assert "already exists" in errors[-1]
    widget.overwrite.value = True
    assert widget.run_volume_blocking() is not None

    widget.to_workspace.value = False  # in memory, though the layer has a workspace
    widget.channel.value = "memory"
    assert widget.run_volume_blocking() is not None
    with Workspace.open(workspace) as ws:
        assert ws.channels() == ["binary"]


def test_closing_disconnects(docked: Any, qtbot: Any) -> None:
    """With live preview on, moving through z previews the new slice; after close it does not
    (the dims callback is gone)."""
    viewer, widget, _ = docked
    preview = widget.preview_slice()
    assert preview is not None
    widget.live.value = True
    first = np.array(preview.data)
    viewer.dims.set_current_step(0, 12)
    qtbot.waitUntil(lambda: not np.array_equal(preview.data, first), timeout=5_000)
    widget.close()
    assert not widget._links
    second = np.array(preview.data)
    viewer.dims.set_current_step(0, 2)
    qtbot.wait(500)  # longer than the live-preview debounce
    np.testing.assert_array_equal(preview.data, second)


def test_plugin_machinery_docks_the_widget(make_napari_viewer: Callable[..., Any]) -> None:
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("stratoseg", "Enhance")
    assert isinstance(widget, EnhanceWidget)


def seed_labels(shape: tuple[int, ...]) -> np.ndarray:
    """Seeds painted on slices 3-8 only: a blob and a line."""
    labels = np.zeros(shape, np.uint8)
    labels[3:9, 20:30, 20:30] = 1
    labels[3:9, 50, 5:60] = 2
    return labels


def test_geodesic_seeds_from_a_labels_layer(
    docked: Any, volume: np.ndarray, errors: list[str]
) -> None:
    viewer, widget, _ = docked
    labels = viewer.add_labels(seed_labels(SHAPE), name="seeds", scale=SCALE, translate=TRANSLATE)
    widget.method.value = "geodesic"
    assert widget.seeds.value is None  # the threshold by default
    assert [name for name, _ in widget._seed_choices()] == ["below the threshold", "seeds"]
    widget.seeds.value = labels
    assert widget._threshold_row._explicitly_hidden  # unused with seeds
    viewer.dims.set_current_step(0, 5)
    preview = widget.preview_slice()
    assert preview is not None
    params = EnhanceParams(method="geodesic", mode="2d", max_distance=10.0)
    expected = enhance_array(
        volume[5], params, voxel_size=SCALE[1:], seeds=seed_labels(SHAPE)[5] > 0
    )
    np.testing.assert_array_equal(preview.data, expected)
    from_threshold = enhance_array(volume[5], params, voxel_size=SCALE[1:])
    assert np.abs(expected - from_threshold).max() > 0.1  # the seeds made a difference

    viewer.dims.set_current_step(0, 12)  # no seed painted on this slice
    assert widget.preview_slice() is None  # the preview layer is left as it was
    assert "has no seed on this slice" in widget.status.value
    np.testing.assert_array_equal(preview.data, expected)

    out = widget.run_volume_blocking()  # the volume: seeds only where painted
    assert out is not None
    full = enhance_array(
        volume,
        EnhanceParams(method="geodesic", max_distance=10.0),
        voxel_size=SCALE,
        seeds=seed_labels(SHAPE) > 0,
    )
    np.testing.assert_allclose(out.data, full, atol=1e-5)

    viewer.add_labels(np.zeros((4, 8, 8), np.uint8), name="small")
    widget.seeds.value = viewer.layers["small"]
    assert widget.run_volume_blocking() is None
    assert "seeds layer 'small' has shape (4, 8, 8)" in errors[-1]
    assert widget.preview_slice() is None


def test_workspace_labels_as_seeds_are_recorded(
    make_napari_viewer: Callable[..., Any], workspace: Path
) -> None:
    with Workspace.open(workspace, mode="r+") as ws:
        ws.write_labels("scribbles", seed_labels(SHAPE))
    viewer = make_napari_viewer()
    widget = EnhanceWidget(viewer)
    with Workspace.open(workspace) as ws:
        for data, kwargs, kind in workspace_layer_data(ws, editable=False):
            getattr(viewer, f"add_{kind}")(data, **kwargs)
    widget.method.value = "geodesic"
    widget.seeds.value = viewer.layers["scribbles"]
    out = widget.run_volume_blocking()
    assert out is not None, widget.status.value
    with Workspace.open(workspace) as ws:
        assert ws.array("channels/geodesic").attrs["params"]["seeds"] == "labels/scribbles > 0"


def test_closing_during_a_run_stops_it_and_releases_the_workspace(
    make_napari_viewer: Callable[..., Any],
    workspace: Path,
    qtbot: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("stratoseg._blocks.DEFAULT_BLOCK_BYTES", 1)  # blocks = the 32^3 chunks
    viewer = make_napari_viewer()
    widget = EnhanceWidget(viewer)
    with Workspace.open(workspace) as ws:
        for data, kwargs, kind in workspace_layer_data(ws, editable=False):
            getattr(viewer, f"add_{kind}")(data, **kwargs)
    widget.max_distance.value = 3.0
    gate, started = threading.Event(), threading.Event()

    def gated(run: Any) -> Any:  # the worker waits after its first task until the close
        def progress(done: int, total: int) -> None:
            widget._relay.progressed.emit(done, total)
            started.set()
            gate.wait(30)

        return run.compute(progress, widget._stop.is_set)

    widget._compute = gated  # type: ignore[method-assign]  (magicgui refuses delattr)
    worker = widget.run_volume()
    assert worker is not None
    finished: list[bool] = []
    worker.finished.connect(lambda: finished.append(True))
    qtbot.waitUntil(started.is_set, timeout=30_000)
    widget.close()  # as napari's dock close does, mid-run
    gate.set()
    qtbot.waitUntil(lambda: bool(finished), timeout=30_000)
    assert "vol binary" not in viewer.layers
    with Workspace.open(workspace, mode="r+") as ws:  # the lock is free again
        assert ws.channels() == []  # stopped before the end: nothing half-written
