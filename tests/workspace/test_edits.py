"""Label edits: written at once, undo and redo, history that survives reopening."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest

from stratoseg.io import Volume
from stratoseg.workspace import EditLog, Workspace, create_workspace


@pytest.fixture
def ws_path(tmp_path: Path) -> Path:
    vol = Volume(da.zeros((8, 32, 32), np.uint8), "zyx", (1.0, 1.0, 1.0), None, Path("x"), "x")
    path = tmp_path / "w.zarr"
    with create_workspace(path, vol, labels=None, chunks=16) as ws:
        ws.create_labels("cells", dtype=np.uint32)
    return path


def test_edits_undo_redo_and_reopen(ws_path: Path) -> None:
    box = (slice(2, 4), slice(0, 20), slice(10, 30))
    with Workspace.open(ws_path, mode="r+") as ws:
        log = EditLog(ws, "cells")
        first = log.apply(box, np.full((2, 20, 20), 7), kind="paint")
        assert first is not None
        assert first.index.size == 800
        assert (np.asarray(ws.labels("cells")[box]) == 7).all()  # on disk at once
        values = np.full((2, 20, 20), 7)
        values[:, :5] = 9
        second = log.apply(box, values, kind="split")
        assert second is not None
        assert second.index.size == 200  # only the changed voxels are recorded
        assert log.apply(box, values, kind="split") is None  # no change, no record
        assert log.undo() is not None
        assert (np.asarray(ws.labels("cells")[box]) == 7).all()
    # reopen: the history is there
    with Workspace.open(ws_path, mode="r+") as ws:
        log = EditLog(ws, "cells")
        assert log.done == [1]
        assert log.undone == [2]
        log.redo()
        assert (np.asarray(ws.labels("cells")[box])[:, :5] == 9).all()
        log.undo()
        log.undo()
        assert not np.asarray(ws.labels("cells")[...]).any()
        assert not log.can_undo
        log.redo()  # the first edit again; a new edit then drops the redo of the second
        log.apply((slice(0, 1), slice(0, 1), slice(0, 1)), np.ones((1, 1, 1)), kind="paint")
        assert not log.can_redo
    with Workspace.open(ws_path) as ws:
        log = EditLog(ws, "cells")
        assert log.done == [1, 3]
        assert log.undone == []
        kinds = [e["kind"] for e in ws.journal.entries() if e.get("labels") == "cells"]
        assert kinds.count("edit") == 3
        assert kinds.count("undo") == 3
        assert kinds.count("redo") == 2
    assert not list((ws_path / "journal" / "edits" / "cells").glob(".*"))  # no temp files


def test_a_brush_edit_recorded_after_the_fact(ws_path: Path) -> None:
    with Workspace.open(ws_path, mode="r+") as ws:
        arr = ws.labels("cells")
        arr[0, 0, 0:3] = 5  # what napari's brush writes itself
        log = EditLog(ws, "cells")
        box = (slice(0, 1), slice(0, 1), slice(0, 3))
        log.record_changes(box, np.arange(3), np.zeros(3), np.full(3, 5), kind="brush")
        log.undo()
        assert not np.asarray(arr[box]).any()


def test_edits_need_a_writable_workspace_and_a_good_box(ws_path: Path) -> None:
    with Workspace.open(ws_path) as ws:
        log = EditLog(ws, "cells")
        with pytest.raises(Exception, match="read"):
            log.apply((slice(0, 1),) * 3, np.ones((1, 1, 1)), kind="paint")
        assert not np.asarray(ws.labels("cells")[...]).any()
        with pytest.raises(ValueError, match="box must have 3 slices"):
            log.apply((slice(0, 1),), np.ones(1), kind="paint")
        with pytest.raises(ValueError, match="values have shape"):
            log.apply((slice(0, 1),) * 3, np.ones((2, 1, 1)), kind="paint")
