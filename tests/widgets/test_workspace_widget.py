"""The Load / Workspace widget in a real napari viewer (under Xvfb)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
import zarr
from napari.layers import Image, Labels

from stratoseg.widgets import _workspace_helpers
from stratoseg.widgets.workspace import WorkspaceWidget
from stratoseg.workspace import Workspace, create_workspace

pytestmark = pytest.mark.gui

SHAPE = (20, 64, 64)
STROKE = [(5, 30, x) for x in range(10, 21)] + [(5, 30 + d, 21 + d) for d in range(1, 8)]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    data = np.random.default_rng(0).integers(0, 256, SHAPE, dtype=np.uint8)
    path = tmp_path / "vol.tif"
    tifffile.imwrite(
        path, data, imagej=True, resolution=(2.0, 2.0),
        metadata={"spacing": 1.5, "unit": "um", "axes": "ZYX"},
    )  # fmt: skip
    return path


@pytest.fixture
def errors(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Messages the widget shows with napari's show_error."""
    shown: list[str] = []
    monkeypatch.setattr("stratoseg.widgets.workspace.show_error", shown.append)
    return shown


@pytest.fixture
def docked(make_napari_viewer: Callable[..., Any]) -> tuple[Any, WorkspaceWidget]:
    viewer = make_napari_viewer()
    widget = WorkspaceWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Load / Workspace")
    return viewer, widget


def _paint(layer: Labels, label: int) -> None:
    layer.mode = "paint"
    layer.brush_size = 3
    layer.selected_label = label
    for point in STROKE:
        layer.paint(point, label)


def test_create_workspace_and_paint_to_disk(docked: Any, source: Path) -> None:
    """The acceptance test: source -> metadata -> workspace -> paint -> voxels on disk."""
    viewer, widget = docked
    widget.source.value = source
    assert "shape: 20 x 64 x 64" in widget.info.value
    assert "voxel size: 1.5 x 0.5 x 0.5 micrometer" in widget.info.value
    assert Path(widget.workspace_path.value) == source.with_suffix(".zarr")
    assert widget.chunk_edge.value == 64

    ws = widget.create_workspace_blocking()
    assert ws is not None
    assert ws.writable
    assert isinstance(viewer.layers["vol"], Image)
    labels = viewer.layers["segmentation"]
    assert isinstance(labels, Labels)
    assert isinstance(labels.data, zarr.Array)  # the workspace array itself
    assert tuple(labels.scale) == (1.5, 0.5, 0.5)
    assert viewer.layers.selection.active is labels
    assert "Created" in widget.status.value

    _paint(labels, 5)
    # the same stroke on an in-memory layer tells which voxels the brush covers
    expected = Labels(np.zeros(SHAPE, np.uint32), scale=labels.scale)
    _paint(expected, 5)
    assert expected.data.sum() > 0

    on_disk = zarr.open_array(str(source.with_suffix(".zarr") / "labels/segmentation/0"), mode="r")
    stored = on_disk[...]
    np.testing.assert_array_equal(stored, expected.data)
    assert set(np.unique(stored)) == {0, 5}
    assert (stored[5, 30, 10:21] == 5).all()
    assert not stored[np.arange(SHAPE[0]) != 5].any()

    edits = Workspace.open(source.with_suffix(".zarr")).journal.entries("edit")
    assert edits
    assert all(e["labels"] == "segmentation" and e["label"] == 5 for e in edits)
    assert sum(e["voxels"] for e in edits) == int((stored == 5).sum())
    assert edits[0]["box"][0] == [5, 6]
    assert all(e["tool"] == "brush" and e["seq"] >= 1 for e in edits)

    # the brush is undoable, on disk, and the history survives the workspace being reopened
    session = widget.session
    assert session is not None
    log = session.edit_log("segmentation")
    while log.can_undo:
        log.undo()
    assert not on_disk[...].any()
    log.redo()
    seq = log.done[-1]
    with Workspace.open(source.with_suffix(".zarr")) as again:
        from stratoseg.workspace import EditLog

        assert EditLog(again, "segmentation").done == [seq]


def test_a_workspace_another_writer_holds_opens_read_only_with_a_notice(
    docked: Any, source: Path, errors: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    viewer, widget = docked
    warnings: list[str] = []
    monkeypatch.setattr("stratoseg.widgets.workspace.show_warning", warnings.append)
    holder = create_workspace(source.with_suffix(".zarr"), source)  # another writer
    try:
        holder.labels("segmentation")[0, 0, 0:4] = 3  # the other writer's work
        widget.workspace_path.value = holder.path
        ws = widget.open_workspace()
        assert ws is not None
        assert not ws.writable
        assert widget.status.value.startswith("Read-only")
        assert "open for writing by another process" in widget.status.value
        assert warnings == [widget.status.value]
        assert errors == []
        labels = viewer.layers["segmentation"]
        assert not labels.editable  # shown, not editable: nothing can be lost or overwritten
        data = labels.data[0] if labels.multiscale else labels.data
        assert (np.asarray(data[0, 0, 0:4]) == 3).all()
        assert not widget.new_labels_button.enabled
        from stratoseg.widgets._workspace_helpers import session_holding

        assert session_holding(holder.path) is None  # no widget writes through it
    finally:
        holder.close()
    widget.close()


def test_closing_the_widget_releases_the_lock(docked: Any, source: Path) -> None:
    viewer, widget = docked
    create_workspace(source.with_suffix(".zarr"), source).close()
    widget.workspace_path.value = source.with_suffix(".zarr")
    ws = widget.open_workspace()
    assert ws is not None
    with pytest.raises(Exception, match="open for writing"):
        Workspace.open(ws.path, mode="r+")
    widget.close()
    assert widget.workspace is None
    assert [layer.name for layer in viewer.layers] == ["vol"]  # labels went with the lock
    with Workspace.open(ws.path, mode="r+") as again:
        assert again.writable


def test_closing_the_dock_releases_the_lock(make_napari_viewer: Any, source: Path) -> None:
    viewer = make_napari_viewer()
    widget = WorkspaceWidget(viewer)
    dock = viewer.window.add_dock_widget(widget)
    widget.source.value = source
    ws = widget.create_workspace_blocking()
    assert ws is not None
    viewer.window.remove_dock_widget(dock)  # what the dock's close button does
    assert widget.workspace is None
    with Workspace.open(ws.path, mode="r+") as again:
        assert again.writable


def test_new_labels(docked: Any, source: Path, errors: list[str]) -> None:
    viewer, widget = docked
    widget.new_labels()
    assert errors == ["Open or create a workspace first."]
    widget.source.value = source
    ws = widget.create_workspace_blocking()
    assert ws is not None
    widget.labels_name.value = "cells"
    layer = widget.new_labels()
    assert isinstance(layer, Labels)
    assert layer.name == "cells"
    assert isinstance(layer.data, zarr.Array)
    assert ws.label_names() == ["segmentation", "cells"]
    assert viewer.layers.selection.active is layer
    layer.paint((2, 10, 10), 3)
    assert ws.journal.entries("edit")[-1]["labels"] == "cells"
    widget.labels_name.value = "cells"
    assert widget.new_labels() is None  # exists already
    widget.labels_name.value = "no spaces!"
    assert widget.new_labels() is None
    assert "labels name" in errors[-1]


def test_threaded_creation(docked: Any, source: Path, qtbot: Any) -> None:
    viewer, widget = docked
    widget.source.value = source
    worker = widget.create_workspace()
    assert worker is not None
    qtbot.waitUntil(lambda: widget.workspace is not None, timeout=30_000)
    qtbot.waitUntil(lambda: widget.create_button.enabled, timeout=5_000)
    assert widget._pbar is None  # closed
    assert "segmentation" in viewer.layers


def test_cancel_leaves_nothing_behind(docked: Any, source: Path) -> None:
    viewer, widget = docked
    widget.source.value = source
    widget._relay.progressed.connect(lambda done, total: widget.cancel())
    assert widget.create_workspace_blocking() is None
    assert widget.status.value.startswith("Cancelled")
    assert sorted(p.name for p in source.parent.iterdir()) == ["vol.tif"]
    assert len(viewer.layers) == 0


def test_threaded_cancel_is_reported_not_raised(docked: Any, source: Path, qtbot: Any) -> None:
    """A cancel in the worker ends in the status line; nothing reaches the Qt event loop."""
    viewer, widget = docked
    widget.source.value = source
    widget._relay.progressed.connect(lambda done, total: widget.cancel())
    assert widget.create_workspace() is not None
    qtbot.waitUntil(lambda: widget.status.value.startswith("Cancelled"), timeout=30_000)
    # a cancel that arrives after the last task says so ("Cancelled after the workspace was
    # written"); either way nothing is opened or added
    assert len(viewer.layers) == 0
    assert widget.workspace is None


def test_existing_target_is_reported(docked: Any, source: Path, errors: list[str]) -> None:
    _, widget = docked
    create_workspace(source.with_suffix(".zarr"), source).close()
    widget.source.value = source
    assert "exists" in widget.status.value
    assert widget.create_workspace_blocking() is None
    assert "already exists" in errors[-1]


def test_choosing_a_workspace_or_a_bad_file(docked: Any, source: Path) -> None:
    _, widget = docked
    create_workspace(source.with_suffix(".zarr"), source).close()
    widget._ask_folder = lambda: str(source.with_suffix(".zarr"))  # type: ignore[method-assign]
    widget.folder_button.clicked.emit()
    assert widget.info.value.startswith("StratoSeg workspace")
    assert Path(widget.workspace_path.value) == source.with_suffix(".zarr")
    bad = source.parent / "bad.tif"
    bad.write_bytes(b"not a tiff")
    widget.source.value = bad
    assert widget.status.value.startswith("Cannot read")
    assert widget.info.value == ""


def test_folder_of_slices(docked: Any, tmp_path: Path) -> None:
    _, widget = docked
    folder = tmp_path / "slices"
    folder.mkdir()
    for i in range(3):
        tifffile.imwrite(folder / f"s{i}.tif", np.full((16, 24), i, np.uint8))
    widget._ask_folder = lambda: str(folder)  # type: ignore[method-assign]
    widget.folder_button.clicked.emit()
    assert "format: tiff-folder" in widget.info.value
    assert "shape: 3 x 16 x 24" in widget.info.value
    assert Path(widget.workspace_path.value) == tmp_path / "slices.zarr"


def test_plugin_machinery_docks_the_widget(make_napari_viewer: Any) -> None:
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("stratoseg", "Load / Workspace")
    assert isinstance(widget, WorkspaceWidget)


def test_paint_changes_reads_both_kinds_of_history_atoms() -> None:
    indices = (np.array([1, 1, 2]), np.array([4, 5, 6]), np.array([0, 0, 9]))
    box, index, before, after = _workspace_helpers.paint_changes([(indices, np.zeros(3), 7)])
    assert box == (slice(1, 3), slice(4, 7), slice(0, 10))
    assert before.tolist() == [0, 0, 0]
    assert after.tolist() == [7, 7, 7]
    assert np.unravel_index(index, (2, 3, 10))[2].tolist() == [0, 0, 9]
    layer = Labels(np.zeros((4, 8, 8), np.uint8))
    seen: list[Any] = []
    layer.events.paint.connect(lambda event: seen.append(event.value))
    layer.paint((1, 4, 4), 2)
    changes = _workspace_helpers.paint_changes(seen[-1])
    assert changes is not None
    box, index, before, after = changes
    assert len(index) == int((layer.data == 2).sum())
    assert set(after.tolist()) == {2}
    assert box[0] == slice(1, 2)
    assert _workspace_helpers.paint_changes([]) is None


def test_a_late_progress_update_keeps_the_cancelling_status(docked: Any) -> None:
    """Progress still on its way after Cancel does not bring back "Creating workspace... N%"."""
    _, widget = docked
    widget._begin()
    widget.cancel()
    widget._relay.progressed.emit(1, 4)  # the worker's last report, delivered after the click
    assert widget.status.value == "Cancelling..."
    widget._end()
    widget._relay.progressed.emit(2, 4)  # after the end: ignored (no bar to move)
    assert widget.status.value == "Cancelling..."


def test_closing_the_viewer_mid_creation_stops_it_quietly(
    make_napari_viewer: Any, source: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The napari window closed while a worker creates the workspace: the worker's later
    progress and outcome touch no deleted Qt object (they raised RuntimeErrors into the Qt loop
    before), nothing is opened and no workspace is left behind."""
    viewer = make_napari_viewer()
    widget = WorkspaceWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.source.value = source
    gate, started = threading.Event(), threading.Event()
    real = create_workspace

    def gated(*args: Any, progress: Any, **kwargs: Any) -> Any:
        def report(done: int, total: int) -> None:
            progress(done, total)
            started.set()
            gate.wait(30)

        return real(*args, progress=report, **kwargs)

    monkeypatch.setattr("stratoseg.widgets.workspace.create_workspace", gated)
    worker = widget.create_workspace()
    assert worker is not None
    outcome: list[str] = []
    worker.finished.connect(lambda: outcome.append("finished"))
    worker.errored.connect(lambda exc: outcome.append(repr(exc)))
    qtbot.waitUntil(started.is_set, timeout=30_000)
    viewer.close()  # the napari window closed mid-creation: its docks are destroyed
    qtbot.wait(50)  # the deferred deletion runs
    gate.set()
    qtbot.waitUntil(lambda: "finished" in outcome, timeout=30_000)
    assert [o for o in outcome if o != "finished" and not o.startswith("Cancelled")] == []
    assert widget.workspace is None
    assert [layer.name for layer in viewer.layers] == []
    assert sorted(p.name for p in source.parent.iterdir()) == ["vol.tif"]
