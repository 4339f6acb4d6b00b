"""Bad input to every command, in one table: exit code 2, one ``error:`` line naming the
problem, no traceback, and not a byte changed in the folder (no partial output, the source
untouched).

Each case writes its input into an empty folder ``d`` (``make(d) -> argv``); with ``ws=True``
the folder first gets a copy of a small workspace: ``v.tif`` (6 x 40 x 40 float32) imported as
``ws.zarr``, whose label image ``segmentation`` holds classes 0..2 with slices 1 and 3
reviewed, and whose run ``predictions/m3`` comes from ``m3.zip``, an untrained 3-class 2-D
package. ``$STRATOSEG_MODEL_DIR`` is ``d/models``. Cases run in this process, except those of a
read-only folder or an unreadable file and of a full disk (``_bad_input_runner``).

segment has its own table too (tests/cli/test_cli_segment.py), so it has few cases here.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import h5py
import mrcfile
import numpy as np
import pytest
import tifffile
import zarr
from _bad_input_runner import Case, run_case, tree
from _input_files import workspace_target as _out
from _input_files import write_file as _file
from _input_files import write_folder as _folder
from _input_files import write_h5 as _h5
from _input_files import write_tif as _tif
from _input_files import write_zarr as _zarr

from _packages import untrained_package
from stratoseg.cli import main
from stratoseg.workspace import Workspace, create_workspace

# --- inputs -----------------------------------------------------------------------------------


def _ws(d: Path) -> str:
    return str(d / "ws.zarr")


def _corrupt(d: Path, array: str = "0") -> str:
    """Overwrite the first chunk file of ``ws.zarr/ARRAY`` with garbage; the array's path."""
    chunk = next(p for p in sorted((d / "ws.zarr" / array / "c").rglob("*")) if p.is_file())
    chunk.write_bytes(b"\x00garbage" * 8)
    return str(d / "ws.zarr" / array)


def _nan(d: Path) -> str:
    data = np.random.default_rng(0).random((6, 40, 40)).astype(np.float32)
    data[2, 5, 5] = np.nan
    return _tif(d, data, "nan.tif")


def _nan_workspace(d: Path) -> str:
    """A workspace of a NaN image whose labels (classes 0..2) are reviewed on slice 1."""
    with create_workspace(d / "nan.zarr", _nan(d)) as ws:
        ws.labels("segmentation")[1] = np.arange(40)[None, :] % 3
        ws.reviewed("segmentation")[1] = 1
    return str(d / "nan.zarr")


def _labels(d: Path, name: str, width: int = 40, dtype: str = "uint8") -> str:
    data = np.zeros((6, 40, width), dtype)
    data[:, :20] = 1
    return _tif(d, data, name)


def _absurd_package(d: Path) -> str:
    """m3.zip, its card asking for base_filters = 10**9 (the weights unchanged)."""
    with zipfile.ZipFile(d / "m3.zip") as z:
        card, weights = json.loads(z.read("model.json")), z.read("model.safetensors")
    card["architecture"]["config"]["base_filters"] = 10**9
    with zipfile.ZipFile(d / "absurd.zip", "w") as z:
        z.writestr("model.json", json.dumps(card))
        z.writestr("model.safetensors", weights)
    return str(d / "absurd.zip")


def _junk_zip(d: Path) -> str:
    (d / "junk.zip").write_bytes(b"not a zip")
    return str(d / "junk.zip")


def _mode(path: Path, mode: int) -> str:
    path.chmod(mode)
    return str(path)


def _truncated_mrc(d: Path) -> str:
    with mrcfile.new(d / "full.mrc") as m:
        m.set_data(np.zeros((6, 40, 40), np.float32))
    (d / "t.mrc").write_bytes((d / "full.mrc").read_bytes()[:3000])
    return str(d / "t.mrc")


def _truncated_tiff(d: Path) -> str:
    tifffile.imwrite(d / "f.tif", np.ones((10, 64, 64), np.uint16), compression="zlib")
    (d / "t.tif").write_bytes((d / "f.tif").read_bytes()[:1500])
    return str(d / "t.tif")


def _corrupt_zarr_metadata(d: Path) -> str:
    zarr.create_array(store=str(d / "c.zarr"), shape=(4, 4), dtype="u1")
    (d / "c.zarr" / "zarr.json").write_text("{ not json")
    return str(d / "c.zarr")


def _absurd_zarr(d: Path) -> str:
    zarr.create_array(store=str(d / "h.zarr"), shape=(10**12,) * 3, chunks=(64,) * 3, dtype="u1")
    return str(d / "h.zarr")


def _object_h5(d: Path) -> str:
    with h5py.File(d / "s.h5", "w") as f:
        f.create_dataset("s", data=np.array([["a", "b"]], dtype=object), dtype=h5py.string_dtype())
    return str(d / "s.h5")


def _train(d: Path, *extra: str, labels: str = "segmentation") -> list[str]:
    return ["train", _ws(d), "-o", str(d / "new.zip"), "--labels", labels, *extra]


def _post(
    d: Path, *extra: str, run: str = "m3", method: str = "map", labels: str = "x", ws: str = ""
) -> list[str]:
    ws = ws or _ws(d)
    return ["postprocess", ws, "--predictions", run, "--method", method, "--labels", labels, *extra]


def _synth(d: Path, kind: str, out: str, *extra: str) -> list[str]:
    return ["synth", kind, "-o", str(d / out), *extra]


def _eval(d: Path, *extra: str) -> list[str]:
    return ["evaluate", _labels(d, "a.tif"), _labels(d, "b.tif"), *extra]


def _empty(d: Path, name: str) -> str:
    return _zarr(d, np.zeros((0, 4, 4), "u1"), name)


def _corrupt_ws(d: Path) -> str:
    _corrupt(d)
    return _ws(d)


def _models_folder_is_a_file(d: Path) -> list[str]:
    (d / "models").write_text("not a folder")
    return ["models", "list"]


def _models_folder_unreadable(d: Path) -> list[str]:
    _folder(d, "models", 0)
    return ["models", "list"]


CASES: dict[str, Case] = {
    "info: missing path": Case(lambda d: ["info", str(d / "missing.tif")], "does not exist"),
    "info: object dtype": Case(lambda d: ["info", _object_h5(d)],
        "must be a bool, integer or float type"),
    "info: unreadable file (mode 000)": Case(lambda d: ["info", _mode(Path(_tif(d)), 0)],
        "permission denied", run="unprivileged"),
    "info: a folder where a file is expected": Case(lambda d: ["info", str(_folder(d, "dir.tif"))],
        "is a folder without TIFF slices"),
    "info: truncated MRC": Case(lambda d: ["info", _truncated_mrc(d)],
        "t.mrc is not a readable MRC file"),
    "info: HDF5 of random bytes": Case(lambda d: ["info", _file(d, "r.h5", bytes(range(256)) * 8)],
        "r.h5 is not a readable HDF5 file"),
    "info: a TIFF header and nothing else": Case(
        lambda d: ["info", _file(d, "e.tif", b"II*\x00\x00\x00\x00\x00")],
        "e.tif holds no image"),
    "info: absurd shape in zarr.json": Case(lambda d: ["info", _absurd_zarr(d)],
        "more than any storage holds"),
    "info: corrupt chunk": Case(lambda d: ["info", _corrupt(d)],
        "0/c/0/0/0 of the zarr array", ws=True),
    "import: unknown extension": Case(lambda d: ["import", _file(d, "a.xyz", b"x"), "-o", _out(d)],
        "unknown format"),
    "import: corrupt zarr metadata": Case(
        lambda d: ["import", _corrupt_zarr_metadata(d), "-o", _out(d)],
        "corrupt zarr metadata"),
    "import: truncated TIFF": Case(lambda d: ["import", _truncated_tiff(d), "-o", _out(d)],
        "truncated"),
    "import: HDF5 without the dataset": Case(
        lambda d: ["import", _h5(d, np.zeros((3, 4, 4), "u1")) + ":/nope", "-o", _out(d)],
        "dataset '/nope' is not in"),
    "import: 1-D array": Case(lambda d: ["import", _zarr(d, np.zeros(10, "u1")), "-o", _out(d)],
        "1-D array"),
    "import: 5-D array": Case(
        lambda d: ["import", _h5(d, np.zeros((2, 2, 3, 4, 4), "u1")), "-o", _out(d)],
        "5-D array"),
    "import: complex dtype": Case(
        lambda d: ["import", _zarr(d, np.zeros((4, 4), "c16")), "-o", _out(d)],
        "complex128"),
    "import: empty array (a zero-length axis)": Case(
        lambda d: ["import", _zarr(d, np.zeros((0, 40, 40), "u1")), "-o", _out(d)],
        "is empty: shape (0, 40, 40)"),
    "import: zero chunks": Case(lambda d: ["import", _tif(d), "-o", _out(d), "--chunks", "0"],
        "chunks must be positive"),
    "import: NaN voxel size": Case(
        lambda d: ["import", _tif(d), "-o", _out(d), "--voxel-size", "nan"],
        "voxel_size must be 3 positive numbers"),
    "import: output folder missing": Case(
        lambda d: ["import", _tif(d), "-o", str(d / "no" / "ws.zarr")],
        "output folder does not exist"),
    "import: output named like an image": Case(
        lambda d: ["import", _tif(d), "-o", str(d / "ws.tif")],
        "named like an image file"),
    "import: overwrite a folder that is no workspace": Case(
        lambda d: ["import", _tif(d), "-o", str(_folder(d, "mine.zarr")), "--overwrite"],
        "is not a StratoSeg workspace"),
    "import: output inside its source": Case(
        lambda d: ["import", _ws(d), "-o", _ws(d) + "/inner.zarr", "--copy"],
        "would overwrite or sit inside its source", ws=True),
    "import: corrupt chunk, copied": Case(
        lambda d: ["import", _corrupt(d), "-o", _out(d), "--copy"],
        "cannot be decoded", ws=True),
    "import: read-only output folder": Case(
        lambda d: ["import", _tif(d), "-o", str(_folder(d, "ro", 0o555) / "ws.zarr")],
        "permission denied", run="unprivileged"),
    "import: full disk": Case(
        lambda d: ["import", _tif(d), "-o", str(_folder(d, "full") / "ws.zarr")],
        "No space left on device", run="full-disk"),
    "export: corrupt chunk": Case(lambda d: ["export", _corrupt(d), "-o", str(d / "o.tif")],
        "0/c/0/0/0 of the zarr array", ws=True),
    "export: unknown workspace array": Case(
        lambda d: ["export", _ws(d) + "/labels/nosuch/0", "-o", str(d / "o.tif")],
        "does not exist", ws=True),
    "export: empty array": Case(
        lambda d: ["export", _zarr(d, np.zeros((0, 4, 4), "u1")), "-o", str(d / "o.tif")],
        "a TIFF cannot hold an empty array"),
    "export: output exists": Case(lambda d: ["export", _tif(d), "-o", _tif(d, name="o.tif")],
        "already exists"),
    "export: complex source": Case(
        lambda d: ["export", _h5(d, np.zeros((3, 4, 4), "c8")), "-o", str(d / "o.tif")],
        "complex64"),
    "synth: output suffix": Case(
        lambda d: ["synth", "composite", "-o", str(d / "o.png"), "--shape", "8", "8", "8"],
        "must end in .tif, .tiff or .zarr"),
    "synth: zero shape": Case(
        lambda d: ["synth", "composite", "-o", str(d / "o.tif"), "--shape", "0", "0", "0"],
        "shape must be positive integers"),
    "synth: 4-D shape": Case(
        lambda d: ["synth", "cells", "-o", str(d / "o.tif"), "--shape", "2", "3", "8", "8"],
        "2 or 3 positive integers"),
    "synth: a petabyte shape": Case(
        lambda d: _synth(d, "composite", "o.tif", "--shape", "100000", "100000", "100000"),
        "GiB free"),
    "synth: zero chunks": Case(
        lambda d: _synth(d, "membranes", "o.zarr", "--shape", "8", "8", "--chunks", "0"),
        "chunks must be positive integers"),
    "synth: output exists": Case(
        lambda d: ["synth", "cells", "-o", _tif(d, name="o.tif"), "--shape", "8", "8"],
        "already exists"),
    "enhance: alpha NaN": Case(lambda d: ["enhance", _ws(d), "--alpha", "nan"],
        "--alpha input should be a finite number", ws=True),
    "enhance: threshold above 1": Case(lambda d: ["enhance", _ws(d), "--threshold", "2"],
        "--threshold input should be less than or equal to 1", ws=True),
    "enhance: zero levels": Case(
        lambda d: ["enhance", _ws(d), "--method", "grayscale", "--levels", "0"],
        "--levels input should be greater than or equal to 1", ws=True),
    "enhance: unknown seed labels": Case(
        lambda d: ["enhance", _ws(d), "--method", "geodesic", "--seeds", "nosuch"],
        "labels 'nosuch' not in workspace", ws=True),
    "enhance: a channel name with a path": Case(lambda d: ["enhance", _ws(d), "--name", "../x"],
        "--name must start with a letter or digit", ws=True),
    "enhance: an image without -o": Case(lambda d: ["enhance", _tif(d)],
        "is not a workspace: give -o"),
    "enhance: NaN in the image": Case(lambda d: ["enhance", _nan(d), "-o", _out(d)],
        "NaN or infinite values"),
    "segment: absurd network in the card": Case(
        lambda d: ["segment", _ws(d), "--model", _absurd_package(d)],
        "base_filters=1000000000", ws=True),
    "segment: zero batch size": Case(
        lambda d: ["segment", _ws(d), "--model", str(d / "m3.zip"), "--batch-size", "0"],
        "--batch-size 0: must be at least 1", ws=True),
    "segment: an option of another method": Case(
        lambda d: ["segment", _ws(d), "--model", str(d / "m3.zip"), "--merge", "0.5"],
        "--merge 0.5: unknown parameters for the map method: ['merge']", ws=True),
    "segment: a post-processing threshold above 1": Case(
        lambda d: ["segment", _ws(d), "--model", str(d / "m3.zip"), "--postprocess",
                   "boundary-components", "--threshold", "3"],
        "--threshold 3.0: threshold must be between 0 and 1, got 3.0",
        ws=True),
    "segment: a window off the network's grid": Case(
        lambda d: ["segment", _ws(d), "--model", str(d / "m3.zip"), "--window", "30"],
        "--window 30: must be a multiple of", ws=True),
    "segment: corrupt chunk": Case(
        lambda d: ["segment", _corrupt_ws(d), "--model", str(d / "m3.zip"), "--device", "cpu"],
        "cannot be decoded", ws=True),
    "postprocess: unknown run": Case(lambda d: _post(d, run="nosuch"),
        "run 'nosuch' not in the predictions", ws=True),
    "postprocess: tau0 above 1": Case(lambda d: _post(d, "--tau0", "2", method="watershed"),
        "tau0 must be between 0 and 1, got 2.0", ws=True),
    "postprocess: gamma1 NaN": Case(lambda d: _post(d, "--gamma1", "nan", method="threshold"),
        "gamma1 must be between 0 and 1, got nan", ws=True),
    "postprocess: zero block": Case(lambda d: _post(d, "--block", "0"),
        "need 3 positive entries", ws=True),
    "postprocess: negative halo": Case(lambda d: _post(d, "--halo", "-1"),
        "halo must be 3 whole numbers >= 1", ws=True),
    "postprocess: object class out of range": Case(  # threshold's own check: unit tests
        lambda d: _post(d, "--instances", "--object-class", "7"),
        "object_class must be a class of the map (0..2), got 7", ws=True),
    "postprocess: labels name with a path": Case(lambda d: _post(d, labels="../x"),
        "labels name must start", ws=True),
    "postprocess: corrupt predictions chunk": Case(
        lambda d: _post(d, ws=_corrupt(d, "predictions/m3").removesuffix("/predictions/m3")),
        "cannot be decoded (corrupt or truncated)", ws=True),
    "postprocess: missing workspace": Case(lambda d: _post(d, ws=_out(d)),
        "workspace does not exist"),
    "postprocess: an image, not a workspace": Case(lambda d: _post(d, ws=_tif(d)),
        "not a StratoSeg workspace"),
    "train: negative steps": Case(lambda d: _train(d, "--steps", "-1"),
        "--steps input should be greater than or equal to 1", ws=True),
    "train: patch of 1": Case(lambda d: _train(d, "--patch", "1"),
        "--patch input should be greater than or equal to 8, got 1", ws=True),
    "train: learning rate NaN": Case(lambda d: _train(d, "--lr", "nan"),
        "--lr input should be less than or equal to 1, got nan", ws=True),
    "train: validation share above 1": Case(lambda d: _train(d, "--val-fraction", "1.5"),
        "--val-fraction input should be less than or equal to 0.9, got 1.5", ws=True),
    "train: absurd network": Case(lambda d: _train(d, "--filters", str(10**9)),
        "more than the 1,073,741,824 allowed", ws=True),
    "train: NaN in the image": Case(
        lambda d: ["train", _nan_workspace(d), "-o", str(d / "new.zip"), "--labels", "segmentation",
                   "--patch", "32", "--depth", "2"],
        "NaN or infinite values"),
    "train: unknown labels": Case(lambda d: _train(d, labels="nosuch"),
        "labels 'nosuch' not in workspace", ws=True),
    "train: unknown image": Case(lambda d: _train(d, "--image", "channels/nosuch"),
        "'channels/nosuch' is not an array in workspace", ws=True),
    "evaluate: shapes differ": Case(
        lambda d: ["evaluate", _labels(d, "a.tif"), _labels(d, "b.tif", 30)],
        "pred and gt must have the same shape"),
    "evaluate: unknown metric": Case(lambda d: _eval(d, "--metrics", "bogus"),
        "metrics must be some of"),
    "evaluate: alpha NaN": Case(lambda d: _eval(d, "--alpha", "nan"),
        "alpha must be in [0, 1], got nan"),
    "evaluate: negative tolerance": Case(
        lambda d: _eval(d, "--metrics", "bf1", "--tolerance", "-1"),
        "tolerance must be finite and >= 0"),
    "evaluate: float labels": Case(
        lambda d: ["evaluate", _labels(d, "a.tif", dtype="float32"), _labels(d, "b.tif")],
        "pred must be an integer label image"),
    "evaluate: NaN in an image metric": Case(
        lambda d: ["evaluate", _nan(d), _tif(d), "--metrics", "psnr"],
        "pred must be finite, got 1 NaN"),
    "evaluate: empty images": Case(lambda d: ["evaluate", _empty(d, "p.zarr"), _empty(d, "g.zarr")],
        "pred and gt are empty"),
    "evaluate: corrupt chunk": Case(
        lambda d: ["evaluate", *[_corrupt(d, "labels/segmentation/0")] * 2],
        "cannot be decoded", ws=True),
    "models list: the model folder is a file": Case(_models_folder_is_a_file,
        "is a file, not a folder"),
    "models list: unreadable model folder": Case(_models_folder_unreadable,
        "permission denied", run="unprivileged"),
    "models show: unknown name": Case(lambda d: ["models", "show", "nosuch"],
        "unknown model 'nosuch'"),
    "models show: not a package": Case(lambda d: ["models", "show", _junk_zip(d)],
        "is not a model package"),
    "models show: absurd network in the card": Case(
        lambda d: ["models", "show", _absurd_package(d)],
        "base_filters=1000000000", ws=True),
    "models export: output not a zip": Case(
        lambda d: ["models", "export", str(d / "m3.zip"), str(d / "m.tar")],
        "out must be a .zip file", ws=True),
    "models export: output folder missing": Case(
        lambda d: ["models", "export", str(d / "m3.zip"), str(d / "no" / "m.zip")],
        "model package folder does not exist", ws=True),
    "models import: not a package": Case(lambda d: ["models", "import", _junk_zip(d)],
        "is not a model package"),
    "models import: a name with a path": Case(
        lambda d: ["models", "import", str(d / "m3.zip"), "--name", "../evil"],
        "model name must be letters", ws=True),
    "models import: absurd network in the card": Case(
        lambda d: ["models", "import", _absurd_package(d)],
        "more than the 1,073,741,824 allowed", ws=True),
}  # fmt: skip


# --- the checks -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every ``ws=True`` case starts from (see the module docstring)."""
    d = tmp_path_factory.mktemp("template")
    image = np.random.default_rng(0).random((6, 40, 40)).astype(np.float32)
    tifffile.imwrite(d / "v.tif", image, photometric="minisblack")
    untrained_package(d, "m3", classes=3, spatial_dims=2, depth=2)
    assert main(["import", str(d / "v.tif"), "-o", _ws(d)]) == 0
    with Workspace.open(_ws(d), mode="r+") as ws:
        ws.labels("segmentation")[...] = np.digitize(image, [0.33, 0.66]).astype(np.uint32)
        ws.reviewed("segmentation")[[1, 3]] = 1
    argv = ["segment", _ws(d), "--model", str(d / "m3.zip"), "--device", "cpu", "--no-labels"]
    assert main(argv) == 0
    return d


def test_the_table_covers_every_command() -> None:
    commands = {name.split(":")[0] for name in CASES}
    assert commands == {"info", "import", "export", "synth", "enhance", "segment", "postprocess",
                        "train", "evaluate", "models list", "models show", "models export",
                        "models import"}  # fmt: skip
    assert len(CASES) >= 45


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(
    name: str,
    tmp_path: Path,
    template: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = CASES[name]
    monkeypatch.setenv("STRATOSEG_MODEL_DIR", str(tmp_path / "models"))
    if case.ws:
        shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    argv = case.make(tmp_path)
    before = tree(tmp_path)
    code, err, out = run_case(case, argv, tmp_path, capsys)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err  # one line: no traceback, no warning
    assert lines[0].startswith("error: "), err
    assert case.expected in lines[0], err
    assert "Traceback" not in err
    assert tree(tmp_path) == before  # nothing written, nothing changed, the source untouched
    if case.run == "full-disk":
        assert "LEFT:\n" in out, out  # nothing at all left on the full disk
