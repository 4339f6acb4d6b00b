"""The Correct widget in a real napari viewer (under Xvfb): split with seeds, merge, delete,
undo, redo, and the edits and their history on disk after the workspace is reopened."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pytest

from stratoseg.io import Volume
from stratoseg.widgets.correct import SHORTCUTS, CorrectWidget
from stratoseg.workspace import EditLog, Workspace, create_workspace

pytestmark = pytest.mark.gui


def _cells() -> np.ndarray:
    """Slices of two touching disks labelled as one object (1), and a neighbour (2)."""
    yy, xx = np.indices((64, 64))
    two = ((yy - 32) ** 2 + (xx - 20) ** 2 < 100) | ((yy - 32) ** 2 + (xx - 37) ** 2 < 100)
    one = (yy - 10) ** 2 + (xx - 50) ** 2 < 36
    plane = np.where(two, 1, np.where(one, 2, 0)).astype(np.uint32)
    return np.stack([plane] * 4)


@pytest.fixture
def docked(
    make_napari_viewer: Callable[..., Any], tmp_path: Path, open_in_loader: Any
) -> tuple[Any, Any, Any]:
    image = da.from_array(np.zeros((4, 64, 64), np.uint8))
    vol = Volume(image, "zyx", (1.0, 1.0, 1.0), None, Path("cells"), "synthetic")
    with create_workspace(tmp_path / "ws.zarr", vol, labels=None, chunks=32,
                          label_images={"cells": _cells()}):  # fmt: skip
        pass
    viewer = make_napari_viewer()
    loader = open_in_loader(viewer, tmp_path / "ws.zarr")
    widget = CorrectWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Correct")
    points = viewer.add_points(np.empty((0, 3)), ndim=3, name="seeds")
    widget.label_layer.value = viewer.layers["cells"]
    widget.points_layer.value = points
    return viewer, loader, widget


def test_split_merge_delete_undo_redo_and_reopen(docked: Any, tmp_path: Path) -> None:
    viewer, loader, widget = docked
    path = tmp_path / "ws.zarr"
    on_disk = Workspace.open(path).labels("cells")  # read-only view of the same arrays
    seeds = viewer.layers["seeds"]
    seeds.data = np.array([[1, 32, 18], [1, 32, 40]])
    split = widget.run("split")
    assert split is not None
    after = np.asarray(on_disk[...])
    assert after[1, 32, 18] == 1
    new_id = int(after[1, 32, 40])
    assert new_id not in (0, 1, 2)  # a fresh id
    assert len(seeds.data) == 0  # points cleared
    assert after[0, 32, 40] == new_id  # the object is 3-D: split through every slice
    assert (after == 2).sum() == (_cells() == 2).sum()  # the neighbour is untouched
    seeds.data = np.array([[1, 32, 40], [1, 10, 50]])
    assert widget.run("merge") is not None
    assert np.asarray(on_disk[1, 10, 50]) == new_id
    seeds.data = np.array([[1, 32, 18]])
    assert widget.run("delete") is not None
    assert np.asarray(on_disk[1, 32, 18]) == 0
    for _ in range(3):
        assert widget.run("undo") is not None
    assert (np.asarray(on_disk[...]) == _cells()).all()
    assert widget.run("undo") is None  # nothing left
    assert widget.run("redo") is not None  # the split again
    assert np.asarray(on_disk[1, 32, 40]) == new_id
    assert str(SHORTCUTS["split"]) in widget.buttons["split"].text
    seeds.data = np.array([[2, 10, 50]])
    assert widget.run("review") == (_cells() == 2).sum()  # the neighbour's voxels, all slices
    reviewed = np.asarray(Workspace.open(path).reviewed("cells")[...])
    assert (reviewed.astype(bool) == (_cells() == 2)).all()
    # close the workspace (the Load / Workspace widget) and reopen: edits and history are there
    loader.close()
    with Workspace.open(path) as ws:
        log = EditLog(ws, "cells")
        assert len(log.done) == 1
        assert len(log.undone) == 2
        assert np.asarray(ws.labels("cells")[1, 32, 40]) == new_id


def test_next_object_visits_the_unreviewed_ones_largest_first(docked: Any) -> None:
    viewer, _, widget = docked
    widget.order.value = "unreviewed"
    assert widget.run("next") == 1  # the two-disk object is the largest
    assert viewer.layers["cells"].selected_label == 1
    assert viewer.dims.current_step[0] == 2  # its centre: slices 0-3, mean 1.5 rounds to 2
    assert "1 of 2" in widget.status.value
    assert widget.run("next") == 2
    viewer.layers["seeds"].data = np.array([[1, 10, 50]])
    widget.run("review")  # object 2 reviewed: the order is read again, without it
    assert widget.run("next") == 1
    assert widget.run("next") == 1  # the only one left
    viewer.dims.set_point(0, 3)
    assert widget.run("slice") == 64 * 64
    on_disk = np.asarray(widget.edit_log().ws.reviewed("cells")[3])
    assert on_disk.all()
    widget.order.value = "size"
    widget._table = None
    assert widget.run("next") == 2  # the smallest


def test_errors_are_reported_not_raised(docked: Any) -> None:
    viewer, _, widget = docked
    assert widget.run("split") is None  # no points
    assert "at least one point" in widget.status.value
    viewer.layers["seeds"].data = np.array([[1, 32, 18], [1, 10, 50]])
    assert widget.run("split") is None
    assert "one object" in widget.status.value
    viewer.layers["seeds"].data = np.array([[1, 0, 0]])
    assert widget.run("delete") is None
    assert "background" in widget.status.value


def test_rerun_a_method_on_a_few_slices_with_a_preview(docked: Any, tmp_path: Path) -> None:
    viewer, loader, widget = docked
    ws = loader.workspace
    # probabilities in which the two disks of object 1 are two objects with a touching band
    truth = _cells()
    h = (truth > 0).astype(np.int64)
    h[:, :, 28:30][truth[:, :, 28:30] == 1] = 2
    probs = np.stack([(h == c).astype(np.float32) for c in range(3)]) * 0.8 + 0.1
    ws.write_probabilities("cells", probs, classes=["background", "cell", "touching"])
    widget.probs.reset_choices()
    widget.probs.value = "cells"
    widget.method.value = "threshold"
    widget.params.value = "gamma2=0.5, min_size=5"
    viewer.dims.set_point(0, 1)
    widget.slices.value = 0
    preview = widget.preview_rerun()
    assert preview is not None
    assert preview.data.shape == (1, 64, 64)
    assert preview.translate[0] == 1
    on_disk = Workspace.open(tmp_path / "ws.zarr").labels("cells")
    assert (np.asarray(on_disk[...]) == truth).all()  # a preview writes nothing
    assert len(np.unique(preview.data[0][preview.data[0] > 0])) == 3  # two disks + neighbour
    edit = widget.apply_rerun()
    assert edit is not None
    after = np.asarray(on_disk[...])
    assert after[1, 32, 18] != after[1, 32, 40]  # split on slice 1 only
    assert (after[[0, 2, 3]] == truth[[0, 2, 3]]).all()
    # ids kept where the objects go on beyond the slice: the neighbour stays 2, one disk
    # keeps 1, the other disk is new
    assert after[1, 10, 50] == 2
    assert {int(after[1, 32, 18]), int(after[1, 32, 40])} - {1} == {int(after[1].max())}
    assert 1 in (after[1, 32, 18], after[1, 32, 40])
    assert after[1].max() > 2
    assert "re-run preview" not in viewer.layers
    widget.run("undo")
    assert (np.asarray(on_disk[...]) == truth).all()
    widget.params.value = "tau1"
    assert widget.preview_rerun() is None
    assert "name=value" in widget.status.value


def test_parse_params() -> None:
    from stratoseg.widgets.correct import parse_params

    assert parse_params("") == {}
    assert parse_params("h=2, fill=true") == {"h": 2, "fill": True}
    with pytest.raises(ValueError, match="numbers or true/false"):
        parse_params("method=watershed")


def test_touching_view_paint_the_touching_class_and_back(docked: Any, tmp_path: Path) -> None:
    viewer, _, widget = docked
    viewer.dims.set_point(0, 2)
    view = widget.touching_view()
    assert view is not None
    assert view.data.shape == (1, 64, 64)
    assert set(np.unique(view.data)) == {0, 1}  # the disks are one object: no touching yet
    view.data[0, :, 28:30][view.data[0, :, 28:30] == 1] = 2  # paint the touching band
    edit = widget.back_to_instances()
    assert edit is not None
    after = np.asarray(Workspace.open(tmp_path / "ws.zarr").labels("cells")[...])
    assert after[2, 32, 18] != after[2, 32, 40]  # separated on the viewed slice
    assert after[2, 32, 18] > 0
    assert (after[2] > 0).sum() == (_cells()[2] > 0).sum()  # touching voxels kept, reassigned
    assert (after[[0, 1, 3]] == _cells()[[0, 1, 3]]).all()
    assert 1 in (after[2, 32, 18], after[2, 32, 40])  # one disk still joins slices 1 and 3
    assert after[2, 10, 50] == 2  # the neighbour untouched, its id kept
    assert "touching view" not in viewer.layers


def test_a_box_limits_the_rerun_and_is_marked_reviewed_and_the_gap_view(
    docked: Any, tmp_path: Path
) -> None:
    viewer, loader, widget = docked
    viewer.dims.set_point(0, 1)
    box = viewer.add_shapes([np.array([[0, 0], [0, 30], [50, 30], [50, 0]])],
                            shape_type="rectangle", name="box")  # fmt: skip
    widget.box_layer.reset_choices()
    widget.box_layer.value = box
    assert widget.run("box") == 50 * 30
    reviewed = np.asarray(loader.workspace.reviewed("cells")[1])
    assert reviewed[:50, :30].all()
    assert reviewed.sum() == 50 * 30
    widget.view_kind.value = "touching-gap"
    view = widget.touching_view()
    assert view is not None
    assert view.data.shape == (1, 50, 30)  # the box on the current slice
    assert tuple(view.translate)[1:] == (0.0, 0.0)


def test_a_second_window_gets_the_labels_read_only_and_the_tools_refuse(
    make_napari_viewer: Callable[..., Any], tmp_path: Path, open_in_loader: Any
) -> None:
    """Another writer (here a second ``Workspace.open(..., "r+")``, as another process or
    window would) holds the lock: the viewer's Load / Workspace opens read-only, Correct says
    so and writes nothing; the other writer's edits are intact."""
    image = da.from_array(np.zeros((4, 64, 64), np.uint8))
    vol = Volume(image, "zyx", (1.0, 1.0, 1.0), None, Path("cells"), "synthetic")
    path = tmp_path / "ws.zarr"
    with create_workspace(path, vol, labels=None, chunks=32,
                          label_images={"cells": _cells()}):  # fmt: skip
        pass
    holder = Workspace.open(path, mode="r+")
    try:
        EditLog(holder, "cells").apply((slice(0, 1), slice(0, 2), slice(0, 2)),
                                       np.full((1, 2, 2), 7, np.uint32), kind="test")  # fmt: skip
        viewer = make_napari_viewer()
        loader = open_in_loader(viewer, path)
        assert not loader.workspace.writable
        widget = CorrectWidget(viewer)
        viewer.window.add_dock_widget(widget, name="Correct")
        points = viewer.add_points(np.array([[1, 32, 18], [1, 32, 40]]), ndim=3, name="seeds")
        widget.label_layer.value = viewer.layers["cells"]
        widget.points_layer.value = points
        assert widget.run("split") is None
        assert "read-only" in widget.status.value
        assert "writer lock" in widget.status.value
        assert widget.run("undo") is None  # the other writer's edit is not undone from here
        on_disk = np.asarray(holder.labels("cells")[...])
        assert (on_disk[0, :2, :2] == 7).all()
        assert (on_disk[1:] == _cells()[1:]).all()
    finally:
        holder.close()
