"""``stratoseg evaluate`` on files and workspace arrays; its error contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from stratoseg.cli import main
from stratoseg.workspace import create_workspace


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    gt = np.zeros((5, 16, 16), np.uint16)
    gt[:, 2:8, 2:8] = 1
    gt[:, 9:14, 9:14] = 2
    pred = gt.copy()
    pred[:, 9:14, 9:14] = 0  # object 2 missed
    tifffile.imwrite(tmp_path / "gt.tif", gt)
    tifffile.imwrite(tmp_path / "pred.tif", pred)
    return tmp_path / "pred.tif", tmp_path / "gt.tif"


def test_json_output(pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    pred, gt = pair
    assert main(["evaluate", str(pred), str(gt), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    m = out["metrics"]
    assert set(m) == {"vrand", "voi", "arand", "pq", "jaccard"}
    assert (m["pq"]["tp"], m["pq"]["fn"], m["pq"]["fp"]) == (1, 1, 0)
    assert m["pq"]["pq"] == pytest.approx(1 / 1.5)
    # V_Rand: object 1 (6x6x5 = 180 voxels) right; object 2 (5x5x5 = 125) predicted as
    # boundary, 125 singletons: sum n^2 = 180^2 + 125, sum t^2 = 180^2 + 125^2
    assert m["vrand"]["split"] == pytest.approx((180**2 + 125) / (180**2 + 125**2))
    assert m["vrand"]["merge"] == pytest.approx(1.0)
    assert m["jaccard"]["jaccard"][2] == 0.0


def test_table_and_metric_choice(
    pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pred, gt = pair
    assert main(["evaluate", str(pred), str(gt), "--metrics", "voi, vinfo"]) == 0
    out = capsys.readouterr().out
    assert "variation of information" in out
    assert "V_Info" in out
    assert "V_Rand" not in out


def test_workspace_labels_against_a_tiff(
    pair: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pred, gt = pair
    with create_workspace(
        tmp_path / "ws.zarr", gt, labels=None, label_images={"seg": tifffile.imread(pred)}
    ):
        pass
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "ws.zarr/labels/seg/0"),
                str(gt),
                "--json",
                "--metrics",
                "pq",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["metrics"]["pq"]["tp"] == 1


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: (np.zeros((5, 16, 15), np.uint16), None), "same shape"),
        (lambda d: (np.zeros((5, 16, 16), np.float32), None), "integer label image"),
        (lambda d: (None, np.zeros((5, 16, 16), np.uint16)), "ground truth is empty"),
    ],
    ids=["shapes", "float labels", "empty gt"],
)
def test_bad_input(
    pair: tuple[Path, Path], tmp_path: Path, make, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pred, gt = pair
    new_pred, new_gt = make(tmp_path)
    if new_pred is not None:
        tifffile.imwrite(pred, new_pred)
    if new_gt is not None:
        tifffile.imwrite(gt, new_gt)
    assert main(["evaluate", str(pred), str(gt)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("error: ")
    assert expected in err[0]


def test_unknown_metric(pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", *map(str, pair), "--metrics", "vrand,accuracy"]) == 2
    assert "got accuracy" in capsys.readouterr().err


def test_ignore_label(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gt = np.array([[[0, 1, 1, 2, 2, 0]] * 4] * 5, np.uint8)  # 0 = unannotated
    pred = np.array([[[1, 1, 1, 2, 1, 2]] * 4] * 5, np.uint8)
    tifffile.imwrite(tmp_path / "gt.tif", gt)
    tifffile.imwrite(tmp_path / "pred.tif", pred)
    assert (
        main(
            [
                "evaluate",
                str(tmp_path / "pred.tif"),
                str(tmp_path / "gt.tif"),
                "--json",
                "--metrics",
                "jaccard",
                "--ignore-label",
                "0",
            ]
        )
        == 0
    )
    j = json.loads(capsys.readouterr().out)["metrics"]["jaccard"]["jaccard"]
    assert j[0] is None  # class 0 is only the ignored label: not scored
    assert j[1:] == pytest.approx([2 / 3, 1 / 2])
