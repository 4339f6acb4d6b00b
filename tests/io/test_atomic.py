"""``atomic_output``: an interrupted output leaves nothing behind, even zarr's late writes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import zarr  # noqa: F401  (starts nothing by itself; the loop below is zarr's own)
from zarr.core.sync import _get_loop

from stratoseg.io import atomic_output


def test_a_zarr_write_still_running_when_the_caller_is_interrupted_is_removed_too(
    tmp_path: Path,
) -> None:
    # zarr runs store operations on its own I/O thread; an interrupted caller stops waiting
    # but the coroutine goes on. Here it lands 0.3 s after the interruption.
    async def late_write(folder: Path) -> None:
        await asyncio.sleep(0.3)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "zarr.json").write_text("{}")

    def interrupted(target: Path) -> None:
        with atomic_output(target) as tmp:
            asyncio.run_coroutine_threadsafe(late_write(tmp / "labels"), _get_loop())
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted(tmp_path / "out.zarr")
    time.sleep(0.6)  # long after the late write would have landed
    assert list(tmp_path.iterdir()) == []


def test_success_renames_and_failure_removes(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"

    def failing() -> None:
        with atomic_output(target) as tmp:
            tmp.write_text("half")
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        failing()
    assert list(tmp_path.iterdir()) == []
    with atomic_output(target) as tmp:
        tmp.write_text("done")
    assert target.read_text() == "done"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
