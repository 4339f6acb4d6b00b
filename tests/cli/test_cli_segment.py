"""``stratoseg segment`` end to end, and its bad-input table (one ``error:`` line, exit 2)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile

from _packages import untrained_package
from stratoseg.cli import main
from stratoseg.inference import segment_workspace
from stratoseg.workspace import Workspace


def _image(d: Path, name: str = "v.tif", array: np.ndarray | None = None) -> str:
    data = np.random.default_rng(0).random((6, 40, 40)).astype(np.float32)
    tifffile.imwrite(d / name, data if array is None else array, photometric="minisblack")
    return str(d / name)


def _model2d(d: Path) -> str:
    return str(untrained_package(d, "m2", spatial_dims=2, depth=2))


def _unknown_model(d: Path) -> list[str]:
    return ["segment", _image(d), "-o", str(d / "ws.zarr"), "--model", "nosuch"]


def _not_a_package(d: Path) -> list[str]:
    (d / "junk.zip").write_bytes(b"not a zip")
    return ["segment", _image(d), "-o", str(d / "ws.zarr"), "--model", str(d / "junk.zip")]


def _multichannel(d: Path) -> list[str]:
    rgb = np.zeros((3, 40, 40), np.uint8)
    tifffile.imwrite(d / "rgb.tif", rgb, photometric="rgb", planarconfig="separate")
    return ["segment", str(d / "rgb.tif"), "-o", str(d / "ws.zarr"), "--model", _model2d(d)]


def _3d_model_on_2d(d: Path) -> list[str]:
    model = str(untrained_package(d, "m3", spatial_dims=3, depth=1))
    image = _image(d, "2d.tif", np.zeros((40, 40), np.uint8))
    return ["segment", image, "-o", str(d / "ws.zarr"), "--model", model]


def _halo_off_grid(d: Path) -> list[str]:
    return ["segment", _image(d), "-o", str(d / "ws.zarr"), "--model", _model2d(d), "--halo", "3"]


def _window_off_grid(d: Path) -> list[str]:
    model = _model2d(d)
    return ["segment", _image(d), "-o", str(d / "ws.zarr"), "--model", model, "--window", "30"]


def _block_off_chunks(d: Path) -> list[str]:
    model = _model2d(d)
    return ["segment", _image(d), "-o", str(d / "ws.zarr"), "--model", model, "--block", "4,40,40"]


def _nan(d: Path) -> list[str]:
    data = np.ones((6, 40, 40), np.float32)
    data[3, 5, 5] = np.nan
    return ["segment", _image(d, "nan.tif", data), "-o", str(d / "ws.zarr"), "--model", _model2d(d)]


def _inf_unnormalised(d: Path) -> list[str]:
    """Normalisation "none" takes no whole-volume statistics: the block read catches it."""
    data = np.ones((6, 40, 40), np.float32)
    data[3, 5, 5] = np.inf
    model = str(untrained_package(d, "raw", norm="none", spatial_dims=2, depth=2))
    return ["segment", _image(d, "inf.tif", data), "-o", str(d / "ws.zarr"), "--model", model]


def _output_under_a_file(d: Path) -> list[str]:
    (d / "file.txt").write_text("x")
    model = _model2d(d)
    return ["segment", _image(d), "-o", str(d / "file.txt" / "ws.zarr"), "--model", model]


def _zero_passes(d: Path) -> list[str]:
    model = _model2d(d)
    return ["segment", _image(d), "-o", str(d / "ws.zarr"), "--model", model, "--passes", "0"]


CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "unknown model": (_unknown_model, "unknown model 'nosuch'"),
    "not a package": (_not_a_package, "junk.zip"),
    "multi-channel image": (_multichannel, "needs a single-channel image"),
    "3-D model on a 2-D image": (_3d_model_on_2d, "a 3-D model cannot segment a 2-D image"),
    "halo off the pooling grid": (_halo_off_grid, "--halo 3: must be a multiple of 4"),
    "window off the pooling grid": (_window_off_grid, "--window 30: must be a multiple of"),
    "block not whole chunks": (_block_off_chunks, "must be a multiple of the chunks"),
    "NaN in the image": (_nan, "NaN or infinite values"),
    "Inf, no normalisation": (_inf_unnormalised, "NaN or infinite values (in region"),
    "output under a file": (_output_under_a_file, "file.txt"),
    "zero passes": (_zero_passes, "--passes 0: must be at least 1"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gives_one_error_line_and_code_2(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, expected = CASES[case]
    argv = make(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    assert expected in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no workspace left behind


def test_a_read_only_workspace_is_refused(tmp_path: Path) -> None:
    model = _model2d(tmp_path)
    assert main(["import", _image(tmp_path), "-o", str(tmp_path / "ws.zarr")]) == 0
    with (
        Workspace.open(tmp_path / "ws.zarr") as ws,
        pytest.raises(PermissionError, match="open read-only"),
    ):
        segment_workspace(ws, model, device="cpu")


@pytest.mark.parametrize("config", [{"spatial_dims": 2, "depth": 2}, {"spatial_dims": 3}])
def test_a_volume_smaller_than_a_window_is_padded(tmp_path: Path, config: dict) -> None:
    model = str(untrained_package(tmp_path, "m", **{"depth": 2, **config}))
    image = _image(tmp_path, "small.tif", np.random.default_rng(1).random((2, 7, 9)))
    argv = ["segment", image, "-o", str(tmp_path / "ws.zarr"), "--model", model, "--device", "cpu"]
    assert main(argv) == 0
    with Workspace.open(tmp_path / "ws.zarr") as ws:
        assert ws.array("predictions/m").shape == (2, 2, 7, 9)
        assert ws.labels("segmentation").shape == (2, 7, 9)


def test_segment_then_resume_and_overwrite(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from stratoseg.synthetic import make_composite

    vol = make_composite((4, 64, 64), seed=7)
    image = _image(tmp_path, "c.tif", np.asarray(vol.image))
    ws_path = str(tmp_path / "ws.zarr")
    argv = ["segment", image, "-o", ws_path, "--model", str(tiny_model), "--device", "cpu"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "predictions/tiny-composite" in out
    assert "labels/segmentation" in out
    with Workspace.open(ws_path) as ws:
        labels = np.asarray(ws.labels("segmentation")[...])
        assert ws.array("predictions/tiny-composite").attrs["complete"] is True
    truth = np.asarray(vol.labels)
    assert (labels == truth).mean() > 0.8  # the tiny model learnt something
    again = ["segment", ws_path, "--model", str(tiny_model), "--device", "cpu"]
    assert main(again) == 2
    assert "overwrite to replace it" in capsys.readouterr().err
    assert main([*again, "--resume"]) == 0  # a complete run: nothing left to do
    assert main([*again, "--overwrite", "--tiling", "stratified", "--passes", "2"]) == 0


def test_segment_with_postprocessing(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from stratoseg.postprocess import postprocess
    from stratoseg.synthetic import make_composite

    vol = make_composite((4, 64, 64), seed=7)
    image = _image(tmp_path, "c.tif", np.asarray(vol.image))
    ws_path = str(tmp_path / "ws.zarr")
    base = ["segment", image, "-o", ws_path, "--model", str(tiny_model), "--device", "cpu"]
    assert main([*base, "--postprocess", "recommended"]) == 0  # the card recommends MAP
    assert "labels/segmentation (map of 3 classes)" in capsys.readouterr().out
    again = ["segment", ws_path, "--model", str(tiny_model), "--device", "cpu", "--overwrite"]
    assert main([*again, "--postprocess", "distance-watershed", "--labels", "fibres"]) == 0
    with Workspace.open(ws_path) as ws:
        probs = np.asarray(ws.array("predictions/tiny-composite")[...])
        mapped = np.asarray(ws.labels("segmentation")[...])
        fibres = np.asarray(ws.labels("fibres")[...])
        entry = ws.journal.entries("labels-written")[-1]
    # MAP of the float probabilities: the class of the highest stored probability (up to a
    # tie made by rounding to 1/255)
    chosen = np.take_along_axis(probs, mapped[None].astype(np.int64), axis=0)[0]
    assert (chosen == probs.max(axis=0)).all()
    assert (mapped == probs.argmax(axis=0)).mean() > 0.99
    assert entry["method"] == "distance-watershed"
    assert fibres.max() > 1  # fibre instances
    assert ((fibres > 0) == (postprocess(probs, "map") == 1)).all()
    # errors before any work
    assert main([*again, "--postprocess", "nope"]) == 2
    assert "--postprocess 'nope': must be" in capsys.readouterr().err
    assert main([*again, "--postprocess", "map", "--no-labels"]) == 2


def test_the_card_s_recommendation_reaches_the_run(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every item a card recommends is what the run does, and what the command says it does;
    an option changes its item only."""
    from stratoseg.models import load_package, save_package
    from stratoseg.synthetic import make_composite

    net, card = load_package(tiny_model)
    advice = {"tiling": "stratified", "passes": 2, "window": 32, "halo": 8,
              "postprocess": {"kind": "watershed", "tau0": 0.6, "tau1": 0.7},
              "stack": {"kind": "split", "h": 1.0}}  # fmt: skip
    package = save_package(net, card.updated(name="advised", recommended=advice),
                           tmp_path / "advised.zip")  # fmt: skip
    image = _image(tmp_path, "c.tif", np.asarray(make_composite((4, 64, 64), seed=7).image))
    ws = tmp_path / "ws.zarr"
    assert main(["segment", image, "-o", str(ws), "--model", str(package), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "advised: tiling stratified; 2 passes; window 32; halo 8 (the card's)" in out
    assert "post-processing watershed (tau0=0.6, tau1=0.7) (the card's)" in out
    assert "slices assembled by split (h=1.0) (the card's)" in out
    assert "float16 because watershed needs" in out
    assert "note: advised is a 2-D model: each of the 4 z slices" in out
    with Workspace.open(ws) as w:
        run = w.array("predictions/advised")
        params, dtype = run.attrs["params"], run.dtype
        entry = w.journal.entries("labels-written")[-1]
    assert (params["tiling"], params["passes"]) == ("stratified", 2)
    assert (params["window"][-1], params["halo"][-1]) == (32, 8)
    assert dtype == np.float16
    assert entry["method"] == "watershed"
    assert (entry["params"]["tau0"], entry["params"]["tau1"]) == (0.6, 0.7)
    assert entry["params"]["stack"] == {"kind": "split", "h": 1.0}
    # one option: its item changes, the rest stays the card's
    again = ["segment", str(ws), "--model", str(package), "--device", "cpu", "--overwrite"]
    assert main([*again, "--tau1", "0.9", "--dtype", "uint8"]) == 0
    out = capsys.readouterr().out
    assert "(tau0=0.6, tau1=0.9) (the card's, with your changes)" in out
    assert "note: probabilities stored as uint8: watershed works on" in out
    with Workspace.open(ws) as w:
        entry = w.journal.entries("labels-written")[-1]
        assert w.array("predictions/advised").dtype == np.uint8
        assert w.array("predictions/advised").attrs["params"]["passes"] == 2
    assert (entry["params"]["tau0"], entry["params"]["tau1"]) == (0.6, 0.9)
