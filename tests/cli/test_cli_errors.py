"""Bad input on the command line: one ``error:`` line, exit code 2, no traceback, no output."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
import zarr

from stratoseg.cli import main


def _missing(d: Path) -> list[str]:
    return ["info", str(d / "missing.tif")]


def _unknown_ext(d: Path) -> list[str]:
    (d / "a.xyz").write_text("x")
    return ["import", str(d / "a.xyz"), "-o", str(d / "ws.zarr")]


def _corrupt_zarr(d: Path) -> list[str]:
    zarr.create_array(store=str(d / "c.zarr"), shape=(4, 4), dtype="u1")
    (d / "c.zarr" / "zarr.json").write_text("{ not json")
    return ["import", str(d / "c.zarr"), "-o", str(d / "ws.zarr")]


def _truncated_tiff(d: Path) -> list[str]:
    tifffile.imwrite(d / "f.tif", np.ones((10, 64, 64), np.uint16), compression="zlib")
    data = (d / "f.tif").read_bytes()
    (d / "t.tif").write_bytes(data[: len(data) // 2])
    return ["import", str(d / "t.tif"), "-o", str(d / "ws.zarr")]


def _h5_without_dataset(d: Path) -> list[str]:
    with h5py.File(d / "f.h5", "w") as f:
        f["a"] = np.zeros((3, 4, 4), np.uint8)
    return ["import", f"{d / 'f.h5'}:/nope", "-o", str(d / "ws.zarr")]


def _one_d(d: Path) -> list[str]:
    zarr.create_array(store=str(d / "v.zarr"), data=np.zeros(10, np.uint8))
    return ["import", str(d / "v.zarr"), "-o", str(d / "ws.zarr")]


def _five_d(d: Path) -> list[str]:
    with h5py.File(d / "f.h5", "w") as f:
        f["a"] = np.zeros((2, 2, 3, 4, 4), np.uint8)
    return ["import", str(d / "f.h5"), "-o", str(d / "ws.zarr")]


def _complex(d: Path) -> list[str]:
    zarr.create_array(store=str(d / "c.zarr"), data=np.zeros((4, 4), np.complex128))
    return ["import", str(d / "c.zarr"), "-o", str(d / "ws.zarr")]


def _object(d: Path) -> list[str]:
    with h5py.File(d / "s.h5", "w") as f:
        f.create_dataset("s", data=np.array([["a", "b"]], dtype=object), dtype=h5py.string_dtype())
    return ["info", str(d / "s.h5")]


def _bad_chunks(d: Path) -> list[str]:
    tifffile.imwrite(d / "ok.tif", np.zeros((5, 8, 8), np.uint8))
    return ["import", str(d / "ok.tif"), "-o", str(d / "ws.zarr"), "--chunks", "0"]


def _bad_synth_suffix(d: Path) -> list[str]:
    return ["synth", "composite", "-o", str(d / "out.png"), "--shape", "8", "8", "8"]


def _output_folder_missing(d: Path) -> list[str]:
    tifffile.imwrite(d / "ok.tif", np.zeros((5, 8, 8), np.uint8))
    return ["import", str(d / "ok.tif"), "-o", str(d / "no" / "ws.zarr")]


CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "missing path": (_missing, "does not exist"),
    "unknown extension": (_unknown_ext, "unknown format"),
    "corrupt zarr metadata": (_corrupt_zarr, "corrupt zarr metadata"),
    "truncated tiff": (_truncated_tiff, "truncated"),
    "hdf5 without the dataset": (_h5_without_dataset, "dataset '/nope' is not in"),
    "1-D array": (_one_d, "1-D array"),
    "5-D array": (_five_d, "5-D array"),
    "complex dtype": (_complex, "complex128"),
    "object dtype": (_object, "must be a bool, integer or float type"),
    "zero chunks": (_bad_chunks, "chunks must be positive"),
    "synth suffix": (_bad_synth_suffix, "must end in .tif, .tiff or .zarr"),
    "output folder missing": (_output_folder_missing, "output folder does not exist"),
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
    assert code == 2
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    assert expected in err[0]
    assert "Traceback" not in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing left behind


def test_workspace_locked_by_another_writer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tifffile.imwrite(tmp_path / "s.tif", np.zeros((5, 8, 8), np.uint8))
    assert main(["import", str(tmp_path / "s.tif"), "-o", str(tmp_path / "ws.zarr")]) == 0
    code = textwrap.dedent(f"""
        import sys
        from stratoseg.workspace import Workspace
        ws = Workspace.open({str(tmp_path / "ws.zarr")!r}, mode="r+")
        print("ready", flush=True)
        sys.stdin.read()
    """)
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ready"
        capsys.readouterr()
        rc = main(
            ["import", str(tmp_path / "s.tif"), "-o", str(tmp_path / "ws.zarr"), "--overwrite"]
        )
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2
        assert len(err) == 1
        assert "is open for writing by another process" in err[0]
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()  # type: ignore[union-attr]


def test_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("stratoseg")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "stratoseg.cli._main"]
    proc = subprocess.run(
        [*cmd, "info", str(tmp_path / "x.tif")], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: path does not exist: {tmp_path / 'x.tif'}"
    assert "Traceback" not in proc.stderr


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["import"])
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err
    assert main([]) == 2
