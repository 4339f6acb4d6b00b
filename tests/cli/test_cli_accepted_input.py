"""Unusual input that the commands accept must work: every dtype from bool to float64 through
import, info and export; info on NaN and Inf; models list with a damaged package. (What they
refuse is the table in ``test_cli_bad_input.py``.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
from _input_files import workspace_target as _out
from _input_files import write_file as _file
from _input_files import write_folder as _folder
from _input_files import write_h5 as _h5
from _input_files import write_tif as _tif
from _input_files import write_zarr as _zarr

from stratoseg.cli import main

DTYPES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
          "float16", "float32", "float64"]  # fmt: skip


@pytest.mark.parametrize("fmt", ["tif", "zarr", "h5"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_accepted_dtype_imports_and_exports_exactly(
    tmp_path: Path, dtype: str, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """bool to float64 (complex is refused, in the table): import, info, export give the
    values back (a copied bool image as uint8; export writes bool as uint8 and float16 as
    float32, both exactly)."""
    data = (np.random.default_rng(1).random((6, 40, 40)) * 3).astype(dtype)
    source = {"tif": _tif, "zarr": _zarr, "h5": _h5}[fmt](tmp_path, data)
    ws = _out(tmp_path)
    assert main(["import", source, "-o", ws]) == 0
    capsys.readouterr()
    assert main(["info", ws, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["shape"] == [6, 40, 40]
    copied_bool = dtype == "bool" and fmt != "zarr"  # zarr is referenced, the rest copied
    assert info["dtype"] == ("uint8" if copied_bool else dtype)
    assert main(["export", ws, "-o", str(tmp_path / "back.tif")]) == 0
    back = tifffile.imread(tmp_path / "back.tif")
    assert back.dtype == {"bool": np.uint8, "float16": np.float32}.get(dtype, np.dtype(dtype))
    np.testing.assert_array_equal(back, data)
    if np.dtype(dtype).kind in "iu":
        assert main(["evaluate", source, str(tmp_path / "back.tif"), "--metrics", "voi"]) == 0


def test_info_shows_nan_and_inf_rather_than_refusing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """info describes a file; the commands that compute on it refuse NaN and Inf (in the
    table: enhance, evaluate; segment in its own table)."""
    data = np.ones((6, 40, 40), np.float32)
    data[1, 2, 3], data[4, 5, 6] = np.nan, -np.inf
    assert main(["info", _tif(tmp_path, data), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["value_range_sampled"] == [1.0, 1.0]
    assert info["nonfinite_sampled"] is True
    assert main(["info", _tif(tmp_path, data)]) == 0
    assert "1 .. 1 (sampled), and NaN or Inf" in capsys.readouterr().out


def test_models_list_shows_a_broken_package_rather_than_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """models list takes no input to refuse; a damaged package in the folder is listed as
    unreadable (every other command that names it refuses it, in the table)."""
    monkeypatch.setenv("STRATOSEG_MODEL_DIR", str(_folder(tmp_path, "models")))
    _file(tmp_path / "models", "broken.zip", b"not a zip")
    assert main(["models", "list"]) == 0
    row = next(r for r in capsys.readouterr().out.splitlines() if r.startswith("broken"))
    assert "unreadable: " in row
