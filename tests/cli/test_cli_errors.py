"""The error contract of the command line beyond its bad-input table (test_cli_bad_input.py):
a locked workspace, the installed command, usage errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tifffile

from stratoseg.cli import main


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
