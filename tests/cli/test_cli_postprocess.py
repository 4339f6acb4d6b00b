"""``stratoseg postprocess``: a prediction run into labels, and its errors."""

from __future__ import annotations

import sys
from pathlib import Path

import dask.array as da
import numpy as np
import pytest

from stratoseg.cli import main
from stratoseg.io import Volume
from stratoseg.postprocess import postprocess
from stratoseg.workspace import Workspace, create_workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "postprocess"))
from _postprocess_cases import balls, probabilities, same_partition

SHAPE = (24, 64, 64)


@pytest.fixture
def ws_path(tmp_path: Path) -> Path:
    truth = balls(SHAPE, 30, 6.0, seed=5)
    image = da.from_array((truth > 0).astype(np.uint8) * 100)
    vol = Volume(image, "zyx", (1.0, 1.0, 1.0), None, Path("cells"), "synthetic")
    path = tmp_path / "cells.zarr"
    with create_workspace(path, vol, labels=None, chunks=16) as ws:
        ws.write_probabilities("cells", probabilities(truth, seed=6),
                               classes=["background", "cell", "touching"])  # fmt: skip
    return path


def test_watershed_labels_equal_the_whole_array_method(ws_path: Path, capsys) -> None:
    code = main(["postprocess", str(ws_path), "--predictions", "cells", "--method", "watershed",
                 "--labels", "objects", "--tau1", "0.6", "--halo", "20"])  # fmt: skip
    assert code == 0
    assert "objects" in capsys.readouterr().out
    with Workspace.open(ws_path) as ws:
        z = np.asarray(ws.array("predictions/cells")[...])
        got = np.asarray(ws.labels("objects")[...])
        entry = ws.journal.entries("labels-written")[-1]
    whole = postprocess(z, "watershed", tau1=0.6)
    assert same_partition(got, whole)
    assert entry["method"] == "watershed"
    assert entry["params"] == {"tau0": 0.5, "tau1": 0.6}
    assert entry["objects"] == len(np.unique(whole)) - 1


def test_map_writes_classes(ws_path: Path) -> None:
    assert main(["postprocess", str(ws_path), "--predictions", "cells", "--method", "map",
                 "--labels", "classes"]) == 0  # fmt: skip
    with Workspace.open(ws_path) as ws:
        z = np.asarray(ws.array("predictions/cells")[...])
        got = ws.labels("classes")
        assert got.dtype == np.uint8
        assert (np.asarray(got[...]) == z.argmax(axis=0)).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--predictions", "nope", "--method", "map"], "run 'nope' not in the predictions"),
        (["--predictions", "cells", "--method", "threshold", "--gamma1", "2"], "gamma1 must be"),
        (["--predictions", "cells", "--method", "threshold", "--tau0", "0.3"],
         "unknown parameter for the threshold method"),
        (["--predictions", "cells", "--method", "map", "--halo", "0"], "halo must be"),
        (["--predictions", "cells", "--method", "map", "--labels", "bad/name"], "labels name"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_and_writes_nothing(
    ws_path: Path, args: list[str], message: str, capsys
) -> None:
    argv = ["postprocess", str(ws_path), *args]
    if "--labels" not in args:
        argv += ["--labels", "out"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err
    with Workspace.open(ws_path) as ws:
        assert ws.label_names() == []
    assert not [p for p in ws_path.iterdir() if p.name.startswith(".postprocess-")]


def test_existing_labels_need_overwrite(ws_path: Path, capsys) -> None:
    base = ["postprocess", str(ws_path), "--predictions", "cells", "--labels", "objects"]
    assert main([*base, "--method", "threshold"]) == 0
    with Workspace.open(ws_path) as ws:
        first = np.asarray(ws.labels("objects")[...])
    assert main([*base, "--method", "map"]) == 2
    assert "already exist" in capsys.readouterr().err
    with Workspace.open(ws_path) as ws:
        assert (np.asarray(ws.labels("objects")[...]) == first).all()
    assert main([*base, "--method", "map", "--overwrite"]) == 0
    with Workspace.open(ws_path) as ws:
        assert ws.labels("objects").dtype == np.uint8
