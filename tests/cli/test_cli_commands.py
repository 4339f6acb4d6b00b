"""The commands end to end on real files: info, import, export, synth, demo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile

from stratoseg import __version__
from stratoseg.cli import main
from stratoseg.io import open_volume
from stratoseg.workspace import Workspace


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"stratoseg {__version__}"


@pytest.mark.parametrize("command", ["info", "import", "export", "synth", "demo"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: stratoseg " + command in capsys.readouterr().out


def test_import_info_export_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = np.random.default_rng(0).integers(0, 4000, (9, 40, 50), dtype=np.uint16)
    tifffile.imwrite(
        tmp_path / "s.tif",
        a,
        imagej=True,
        resolution=(4, 4),
        metadata={"axes": "ZYX", "spacing": 0.5, "unit": "um"},
    )
    ws = tmp_path / "ws.zarr"
    assert (
        main(
            [
                "import",
                str(tmp_path / "s.tif"),
                "-o",
                str(ws),
                "--chunks",
                "8",
                "--voxel-size",
                "1",
                "0.25",
                "0.25",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "9 x 40 x 50" in out
    assert "8 x 8 x 8" in out
    assert "segmentation" in out
    assert main(["info", str(ws), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["shape"] == [9, 40, 50]
    assert info["voxel_size"] == [1.0, 0.25, 0.25]
    assert info["value_range_sampled"][0] >= 0
    assert info["value_range_sampled"][1] <= 4000
    assert info["workspace"]["labels"] == ["segmentation"]
    with Workspace.open(ws, mode="r+") as w:
        w.labels("segmentation")[2, 3:6, 4] = 9
    assert main(["export", str(ws / "labels/segmentation/0"), "-o", str(tmp_path / "l.tif")]) == 0
    back = open_volume(tmp_path / "l.tif")
    assert back.voxel_size == (1.0, 0.25, 0.25)
    assert back.data[2, 3:6, 4].compute().tolist() == [9, 9, 9]
    assert int(back.data.sum().compute()) == 27
    assert main(["export", str(ws), "-o", str(tmp_path / "raw.tif")]) == 0
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "raw.tif"), a)
    assert main(["export", str(ws), "-o", str(tmp_path / "raw.tif")]) == 2  # exists


def test_info_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tifffile.imwrite(tmp_path / "s.tif", np.full((5, 6, 7), 3, np.uint8))
    assert main(["info", str(tmp_path / "s.tif")]) == 0
    out = capsys.readouterr().out
    assert "5 x 6 x 7" in out
    assert "uint8" in out
    assert "3 .. 3 (sampled)" in out


def test_synth_composite_to_tiff_and_zarr(tmp_path: Path) -> None:
    assert (
        main(
            [
                "synth",
                "composite",
                "-o",
                str(tmp_path / "c.tif"),
                "--shape",
                "64",
                "128",
                "128",
                "--seed",
                "1",
            ]
        )
        == 0
    )
    gt = tifffile.imread(tmp_path / "c_gt.tif")
    img = tifffile.imread(tmp_path / "c.tif")
    assert img.shape == gt.shape == (64, 128, 128)
    fractions = np.bincount(gt.ravel(), minlength=3) / gt.size
    assert 0.20 <= fractions[1] <= 0.50, fractions
    assert 0.01 <= fractions[2] <= 0.10, fractions
    assert (
        main(
            [
                "synth",
                "composite",
                "-o",
                str(tmp_path / "c.zarr"),
                "--shape",
                "64",
                "128",
                "128",
                "--seed",
                "1",
            ]
        )
        == 0
    )
    np.testing.assert_array_equal(open_volume(tmp_path / "c_gt.zarr").data.compute(), gt)
    np.testing.assert_array_equal(open_volume(tmp_path / "c.zarr").data.compute(), img)


@pytest.mark.parametrize(
    ("kind", "shape"), [("cells", ["160", "160"]), ("membranes", ["16", "64", "64"])]
)
def test_synth_instances(tmp_path: Path, kind: str, shape: list[str]) -> None:
    assert main(["synth", kind, "-o", str(tmp_path / "x.tif"), "--shape", *shape]) == 0
    gt = tifffile.imread(tmp_path / "x_gt.tif")
    assert gt.shape == tuple(map(int, shape))
    assert len(np.unique(gt)) > 3


def test_demo_creates_the_sample_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "ground truth" in out
    assert "composite-ct-3phase (built in)" in out
    scores = dict(
        part.split() for part in out.split("Jaccard per phase")[1].splitlines()[0].split(",")
    )
    assert set(scores) == {"matrix", "fibre", "pore"}
    mean = float(out.split("mean Jaccard")[1].split()[0])
    assert mean >= 0.9  # the shipped model on the held-out sample (its card says 0.907)
    with Workspace.open(tmp_path / "stratoseg-demo.zarr") as ws:
        assert set(ws.label_names()) == {"ground_truth", "segmentation"}
        assert ws.spatial_shape == (64, 128, 128)
        assert ws.predictions() == ["composite-ct-3phase"]
        pred = np.asarray(ws.labels("segmentation")[...])
        truth = np.asarray(ws.labels("ground_truth")[...])
    assert (pred == truth).mean() > 0.95
    assert main(["demo"]) == 0  # running it again replaces the demo workspace
    (tmp_path / "other.zarr").mkdir()
    assert main(["demo", "-o", "other.zarr"]) == 2  # refuses to replace something else
