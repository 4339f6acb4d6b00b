"""Outputs that must never cost the user data: overwrite, self-import, interrupts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from stratoseg.cli import main
from stratoseg.io import open_volume
from stratoseg.workspace import Workspace


@pytest.fixture
def tif(tmp_path: Path) -> Path:
    p = tmp_path / "a.tif"
    tifffile.imwrite(p, np.arange(5 * 16 * 16, dtype=np.uint16).reshape(5, 16, 16))
    return p


def test_overwrite_replaces_only_workspaces(tmp_path: Path, tif: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    assert main(["import", str(tif), "-o", str(precious), "--overwrite"]) == 2
    assert (precious / "thesis.txt").read_text() == "years of work"
    assert main(["import", str(tif), "-o", str(tmp_path / "ws.zarr")]) == 0
    assert main(["import", str(tif), "-o", str(tmp_path / "ws.zarr"), "--overwrite"]) == 0


def test_export_never_replaces_a_folder_with_a_file(tmp_path: Path, tif: Path) -> None:
    (tmp_path / "out.tif").mkdir()
    (tmp_path / "out.tif" / "keep").write_text("x")
    assert main(["export", str(tif), "-o", str(tmp_path / "out.tif"), "--overwrite"]) == 2
    assert (tmp_path / "out.tif" / "keep").exists()


def test_workspace_named_like_an_image_is_refused(tmp_path: Path, tif: Path) -> None:
    assert main(["import", str(tif), "-o", str(tmp_path / "out.tif")]) == 2
    assert not (tmp_path / "out.tif").exists()


def test_importing_a_zarr_onto_itself_keeps_the_source(tmp_path: Path) -> None:
    src = tmp_path / "self.zarr"
    assert main(["synth", "cells", "--shape", "32", "32", "-o", str(src)]) == 0
    before = sorted(p.relative_to(src) for p in src.rglob("*"))
    assert main(["import", str(src), "-o", str(src), "--overwrite"]) == 2
    assert sorted(p.relative_to(src) for p in src.rglob("*")) == before
    assert main(["import", str(src), "-o", str(src / "inside.zarr")]) == 2


def test_reference_workspaces_work_with_info_and_export(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "c.zarr"
    assert main(["synth", "membranes", "--shape", "8", "40", "40", "-o", str(src)]) == 0
    ws = tmp_path / "ref.zarr"
    assert main(["import", str(src), "-o", str(ws), "--voxel-size", "2", "1", "1"]) == 0
    capsys.readouterr()
    assert main(["info", str(ws)]) == 0
    out = capsys.readouterr().out
    assert "8 x 40 x 40" in out
    assert "reference" in out
    assert "2 x 1 x 1" in out
    assert main(["export", str(ws), "-o", str(tmp_path / "raw.tif")]) == 0
    source_values = open_volume(src).data.compute()
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "raw.tif"), source_values)
    with Workspace.open(ws) as w:
        assert w.is_reference
        np.testing.assert_array_equal(w.image().data.compute(), source_values)


def test_a_bad_labels_name_leaves_nothing(tmp_path: Path, tif: Path) -> None:
    assert main(["import", str(tif), "-o", str(tmp_path / "ws.zarr"), "--labels", "../x"]) == 2
    assert not (tmp_path / "ws.zarr").exists()
    assert main(["import", str(tif), "-o", str(tmp_path / "ws.zarr")]) == 0


@pytest.mark.parametrize("suffix", [".zarr", ".tif"])
def test_sigterm_leaves_no_partial_output(tmp_path: Path, suffix: str) -> None:
    exe = Path(sys.executable).with_name("stratoseg")
    out = tmp_path / f"big{suffix}"
    proc = subprocess.Popen(
        [str(exe), "synth", "composite", "--shape", "1024", "1024", "1024", "-o", str(out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".big") for p in tmp_path.iterdir()):  # writing started
        assert time.monotonic() < deadline
        assert proc.poll() is None
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "nothing was left behind" in err
    assert list(tmp_path.iterdir()) == []
