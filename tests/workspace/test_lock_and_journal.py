"""One writer at a time across processes, and a journal that survives crashes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tifffile

from stratoseg.workspace import Journal, Workspace, WorkspaceLockedError, create_workspace


@pytest.fixture
def ws_path(tmp_path: Path) -> Path:
    src = tmp_path / "s.tif"
    tifffile.imwrite(src, np.zeros((5, 16, 16), np.uint8))
    create_workspace(tmp_path / "ws.zarr", src).close()
    return tmp_path / "ws.zarr"


@pytest.fixture
def other_writer(ws_path: Path) -> Iterator[subprocess.Popen]:
    """Another process holding the workspace open for writing until its stdin closes."""
    code = textwrap.dedent(f"""
        import sys
        from stratoseg.workspace import Workspace
        ws = Workspace.open({str(ws_path)!r}, mode="r+")
        print("ready", flush=True)
        sys.stdin.read()
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    yield proc
    if proc.stdin:
        proc.stdin.close()
    proc.wait(timeout=30)
    if proc.stdout:
        proc.stdout.close()


def test_second_writer_is_refused_with_a_clear_message(ws_path: Path, other_writer) -> None:
    with pytest.raises(
        WorkspaceLockedError,
        match=rf"open for writing by another process "
        rf"\(pid {other_writer.pid} on",
    ):
        Workspace.open(ws_path, mode="r+")
    with Workspace.open(ws_path, mode="r") as ro:  # readers are never refused
        assert ro.label_names() == ["segmentation"]
    with pytest.raises(WorkspaceLockedError):
        create_workspace(ws_path, ws_path.parent / "s.tif", overwrite=True)
    assert (ws_path / "0").exists()  # not replaced


def test_lock_is_released_when_the_holder_dies(ws_path: Path, other_writer) -> None:
    other_writer.kill()
    other_writer.wait(timeout=30)
    Workspace.open(ws_path, mode="r+").close()


def test_same_process_second_handle_is_refused_until_closed(ws_path: Path) -> None:
    first = Workspace.open(ws_path, mode="r+")
    with pytest.raises(WorkspaceLockedError):
        Workspace.open(ws_path, mode="r+")
    first.close()
    with Workspace.open(ws_path, mode="r+") as second:
        assert second.writable


def test_journal_appends_and_skips_a_torn_line(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    j = Journal(tmp_path, create=True)
    j.append("edit", labels="seg", voxels=12)
    j.append("run", model="unet")
    with open(j.path, "ab") as f:  # a crash in the middle of a write
        f.write(b'{"time": "2026-01-01", "kind": "ed')
    j.append("edit", labels="seg", voxels=3)
    entries = j.entries()
    assert [e["kind"] for e in entries] == ["edit", "run", "edit"]
    assert [e["voxels"] for e in j.entries("edit")] == [12, 3]
    assert all({"time", "user", "kind"} <= set(e) for e in entries)


def test_concurrent_appends_from_processes_do_not_interleave(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        from pathlib import Path
        from stratoseg.workspace import Journal
        j = Journal(Path({str(tmp_path)!r}), create=True)
        for i in range(200):
            j.append("edit", writer=__import__("os").getpid(), i=i, pad="x" * 300)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(3)]
    for p in procs:
        assert p.wait(timeout=120) == 0
    lines = Journal(tmp_path).path.read_text().splitlines()
    assert len(lines) == 600
    assert all(json.loads(line)["kind"] == "edit" for line in lines)
