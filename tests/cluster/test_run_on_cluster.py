"""``run_on_cluster`` stopped mid-run: it returns only once the tasks already running have
ended, so that nothing writes after the caller has cleaned up (removed a temporary output)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from stratoseg._cluster import run_on_cluster
from stratoseg._progress import Cancelled


def _write_after(folder: str, index: int, seconds: float) -> tuple[int, None]:
    """A block task: wait ``seconds``, then write ``folder/index``."""
    time.sleep(seconds)
    (Path(folder) / str(index)).write_text("done")
    return index, None


def _stop_after_first(seen: list[int]) -> Any:
    def stop() -> None:
        if seen:
            raise Cancelled("stopped")

    return stop


def test_a_stopped_run_returns_after_its_running_tasks(client: Any, tmp_path: Path) -> None:
    seen: list[int] = []
    todo = [(0, 0.0)] + [(i, 1.5) for i in range(1, 9)]  # 2 workers: stopped at the 2nd result
    results = run_on_cluster(client, _write_after, str(tmp_path), todo,
                             _stop_after_first(seen), name=f"t-{time.time_ns()}")  # fmt: skip
    with pytest.raises(Cancelled):
        seen.extend(index for index, _ in results)
    written = sorted(p.name for p in tmp_path.iterdir())
    time.sleep(2)  # longer than any task: a task still running would write now
    assert sorted(p.name for p in tmp_path.iterdir()) == written
    assert "0" in written
    assert len(written) < 9  # stopped: not every block ran
