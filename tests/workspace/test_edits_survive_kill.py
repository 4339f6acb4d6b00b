"""No lost edits: a process editing labels is killed (SIGKILL) at random moments; every edit,
undo and redo whose call had returned is on disk, and the undo history is rebuilt (issue 9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tifffile

from stratoseg.workspace import EditLog, Workspace, create_workspace

SLABS = 40  # edit i fills z-slab i with i + 1 (disjoint boxes)

#: The editing process: edits, with an undo and a redo after every third, each printed once
#: its call has returned.
CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from stratoseg.workspace import EditLog, Workspace
    ws = Workspace.open(sys.argv[1], mode="r+")
    log = EditLog(ws, "seg")
    for i in range(int(sys.argv[2])):
        log.apply((slice(i, i + 1), slice(None), slice(None)),
                  np.full((1, 8, 8), i + 1, np.uint32), kind="fill")
        print("edit", flush=True)
        if i % 3 == 2:
            log.undo()
            print("undo", flush=True)
            if i % 6 == 5:
                log.redo()
                print("redo", flush=True)
    print("end", flush=True)
""")


def operations() -> list[str]:
    ops = []
    for i in range(SLABS):
        ops.append("edit")
        if i % 3 == 2:
            ops.append("undo")
            if i % 6 == 5:
                ops.append("redo")
    return ops


def state(k: int) -> tuple[list[int], list[int]]:
    """The undo and redo stacks (edit numbers, from 1) after the first ``k`` operations."""
    done: list[int] = []
    undone: list[int] = []
    seq = 0
    for op in operations()[:k]:
        if op == "edit":
            seq += 1
            done.append(seq)
            undone.clear()
        elif op == "undo":
            undone.append(done.pop())
        else:
            done.append(undone.pop())
    return done, undone


def content(done: list[int]) -> np.ndarray:
    out = np.zeros((SLABS, 8, 8), np.uint32)
    for seq in done:
        out[seq - 1] = seq
    return out


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_edits_whose_call_returned_survive_a_kill(tmp_path: Path, seed: int) -> None:
    tifffile.imwrite(tmp_path / "s.tif", np.zeros((SLABS, 8, 8), np.uint8))
    with create_workspace(tmp_path / "ws.zarr", tmp_path / "s.tif", labels=None) as ws:
        ws.create_labels("seg")
    stop_after = int(np.random.default_rng(seed).integers(3, len(operations()) - 2))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "ws.zarr"), str(SLABS)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    returned = 0
    for line in child.stdout:
        assert line.strip() != "end", "the child finished before the kill"
        returned += 1
        if returned == stop_after:
            os.kill(child.pid, signal.SIGKILL)  # the next operation is in flight
            break
    child.wait(timeout=30)
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    with Workspace.open(tmp_path / "ws.zarr", mode="r+") as ws:
        log = EditLog(ws, "seg")
        labels = np.asarray(ws.labels("seg")[...])
        after_kill = (log.done, log.undone)
        # what had returned is there; the operation in flight is there whole or not at all
        assert after_kill in (state(returned), state(returned + 1))
        journal_content = content(after_kill[0])
        in_flight = content(state(returned + 1)[0])
        assert np.array_equal(labels, journal_content) or np.array_equal(labels, in_flight)
        # and the history still works: the last edit is undone from the rebuilt stacks
        last = log.done[-1]
        log.undo()
        assert not np.asarray(ws.labels("seg")[last - 1]).any()
    # a record being saved when the kill came is removed when the log is opened for writing
    assert list((tmp_path / "ws.zarr").rglob("*.tmp*")) == []


def test_a_half_saved_record_is_removed_when_the_log_is_opened_for_writing(
    tmp_path: Path,
) -> None:
    tifffile.imwrite(tmp_path / "s.tif", np.zeros((5, 8, 8), np.uint8))
    with create_workspace(tmp_path / "ws.zarr", tmp_path / "s.tif", labels=None) as ws:
        ws.create_labels("seg")
        EditLog(ws, "seg").apply((slice(0, 1),) * 3, np.ones((1, 1, 1), np.uint32), kind="fill")
    half = tmp_path / "ws.zarr" / "journal" / "edits" / "seg" / ".00000002.tmp.npz"
    half.write_bytes(b"PK half")
    with Workspace.open(tmp_path / "ws.zarr", mode="r") as ws:
        assert EditLog(ws, "seg").done == [1]
    assert half.exists()  # a reader never deletes
    with Workspace.open(tmp_path / "ws.zarr", mode="r+") as ws:
        assert EditLog(ws, "seg").done == [1]
    assert not half.exists()
    assert (half.parent / "00000001.npz").exists()
