"""``stratoseg enhance`` end to end, and its error contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from stratoseg.cli import main
from stratoseg.enhance import EnhanceParams, enhance_array
from stratoseg.workspace import Workspace


@pytest.fixture
def image(tmp_path: Path) -> tuple[Path, np.ndarray]:
    a = np.zeros((6, 40, 40), np.uint8)
    a[:, 10:30, 12:25] = 200
    tifffile.imwrite(tmp_path / "a.tif", a, imagej=True, metadata={"axes": "ZYX"})
    return tmp_path / "a.tif", a


def test_import_then_enhance_then_add_another(
    image, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, a = image
    ws = tmp_path / "ws.zarr"
    assert main(["enhance", str(src), "-o", str(ws), "--max-distance", "4", "--mode", "2d"]) == 0
    assert "channels/binary" in capsys.readouterr().out
    assert (
        main(
            [
                "enhance",
                str(ws),
                "--method",
                "grayscale",
                "--levels",
                "4",
                "--max-distance",
                "4",
                "--name",
                "gray",
            ]
        )
        == 0
    )
    with Workspace.open(ws) as w:
        assert w.channels() == ["binary", "gray"]
        expected = enhance_array(a, EnhanceParams(max_distance=4.0, mode="2d"))
        np.testing.assert_allclose(w.array("channels/binary")[...], expected, atol=1e-5)
    assert main(["enhance", str(ws), "--max-distance", "4"]) == 2  # exists: needs --overwrite
    assert main(["enhance", str(ws), "--max-distance", "4", "--overwrite"]) == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--alpha", "-1"], "--alpha"),
        (["--gamma", "-2"], "--gamma"),
        (["--levels", "0"], "--levels"),
        (["--max-distance", "0"], "--max-distance"),
        (["--threshold", "2"], "--threshold"),
    ],
)
def test_bad_parameters(
    image, tmp_path: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    src, _ = image
    assert main(["enhance", str(src), "-o", str(tmp_path / "ws.zarr"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: {message}")
    assert not (tmp_path / "ws.zarr").exists()


def test_channels_image_and_missing_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    four_d = np.zeros((5, 2, 16, 16), np.uint8)  # z, c, y, x (ImageJ order)
    tifffile.imwrite(tmp_path / "c.tif", four_d, imagej=True, metadata={"axes": "ZCYX"})
    assert main(["enhance", str(tmp_path / "c.tif"), "-o", str(tmp_path / "ws.zarr")]) == 2
    assert "single-channel" in capsys.readouterr().err
    assert not (tmp_path / "ws.zarr").exists()
    assert main(["enhance", str(tmp_path / "c.tif")]) == 2
    assert "give -o" in capsys.readouterr().err


def test_failures_after_checks_leave_no_workspace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nan = np.full((5, 8, 8), np.nan, np.float32)
    tifffile.imwrite(tmp_path / "nan.tif", nan, imagej=True, metadata={"axes": "ZYX"})
    assert main(["enhance", str(tmp_path / "nan.tif"), "-o", str(tmp_path / "n.zarr")]) == 2
    assert "NaN" in capsys.readouterr().err
    assert not (tmp_path / "n.zarr").exists()
    ok = np.zeros((5, 8, 8), np.uint8)
    tifffile.imwrite(tmp_path / "ok.tif", ok, imagej=True, metadata={"axes": "ZYX"})
    assert (
        main(["enhance", str(tmp_path / "ok.tif"), "-o", str(tmp_path / "o.zarr"), "--name", "a/b"])
        == 2
    )
    assert "--name must start" in capsys.readouterr().err
    assert not (tmp_path / "o.zarr").exists()
