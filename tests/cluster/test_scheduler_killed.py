"""The dask scheduler killed (SIGKILL) mid-run: ``stratoseg segment --scheduler`` stops with
one error line (exit 2), and the same command with ``--resume`` on a new scheduler ends
bitwise identical to a run in one process (issue 9)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import tifffile

from stratoseg.cli import main
from stratoseg.synthetic import make_composite
from stratoseg.workspace import Workspace, create_workspace

pytest.importorskip("distributed")
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def dask_cluster() -> Iterator[tuple[str, subprocess.Popen]]:
    """A scheduler and 2 workers started with dask's own commands, as on a real cluster."""
    address = f"tcp://127.0.0.1:{free_port()}"
    port = address.rsplit(":", 1)[1]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1",
                                  "--port", port, "--no-dashboard"], **quiet)  # fmt: skip
    workers = subprocess.Popen([str(BIN / "dask"), "worker", address, "--nthreads", "1",
                                "--nworkers", "2", "--no-dashboard"], **quiet)  # fmt: skip
    try:
        yield address, scheduler
    finally:
        for proc in (workers, scheduler):
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def blocks_done(ws: Path) -> int:
    meta = ws / "predictions" / "tiny-composite" / "zarr.json"
    try:
        return len(json.loads(meta.read_text())["attributes"]["blocks_done"])
    except (OSError, ValueError, KeyError):
        return 0


def test_a_killed_scheduler_stops_the_run_and_resume_finishes_it(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    volume = np.asarray(make_composite((16, 128, 128), seed=4).image.compute())
    tifffile.imwrite(tmp_path / "v.tif", volume)
    for name in ("ref", "ws"):
        create_workspace(tmp_path / f"{name}.zarr", tmp_path / "v.tif", chunks=(8, 32, 32),
                         labels=None).close()  # fmt: skip
    args = ["--model", str(tiny_model), "--device", "cpu", "--block", "8,32,32"]
    assert main(["segment", str(tmp_path / "ref.zarr"), *args]) == 0  # one process

    ws = tmp_path / "ws.zarr"
    with dask_cluster() as (address, scheduler):
        cmd = [str(BIN / "stratoseg"), "segment", str(ws), *args, "--scheduler", address]
        run = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while blocks_done(ws) < 3:  # mid-run: some blocks on disk
            assert run.poll() is None, run.communicate()[1]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(scheduler.pid, signal.SIGKILL)
        _, err = run.communicate(timeout=120)
    assert run.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: lost the connection to the dask scheduler at")
    assert "--resume" in lines[0]
    done = blocks_done(ws)
    assert 3 <= done < 32

    with dask_cluster() as (address, _):  # a new scheduler, the same command with --resume
        assert main(["segment", str(ws), *args, "--scheduler", address, "--resume"]) == 0
    with Workspace.open(ws, mode="r") as a, Workspace.open(tmp_path / "ref.zarr", mode="r") as b:
        for path in ("predictions/tiny-composite", "labels/segmentation/0"):
            assert a.array(path)[...].tobytes() == b.array(path)[...].tobytes(), path
        assert a.array("predictions/tiny-composite").attrs["complete"] is True
