"""joined_store: no chunk is written after an interrupted store has returned."""

from __future__ import annotations

import threading
import time

import dask.array as da
import numpy as np
import pytest

from stratoseg._progress import Cancelled, dask_progress
from stratoseg._threads import joined_store


class _Recorder:
    """A store target that notes when each write lands."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape, self.dtype, self.ndim = shape, np.dtype(float), len(shape)
        self.times: list[float] = []
        self._lock = threading.Lock()

    def __setitem__(self, key: object, value: np.ndarray) -> None:
        with self._lock:
            self.times.append(time.monotonic())


def _slow(block: np.ndarray) -> np.ndarray:
    time.sleep(0.3)
    return block


@pytest.mark.parametrize("workers", ["1", "4"])
def test_an_interrupted_store_writes_nothing_after_it_returns(
    monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    monkeypatch.setenv("STRATOSEG_NUM_THREADS", workers)
    source = da.zeros(16, chunks=1).map_blocks(_slow, dtype=float)
    target = _Recorder((16,))

    def should_stop() -> bool:
        return len(target.times) > 0  # stop once the first chunk is written

    with pytest.raises(Cancelled), dask_progress(None, should_stop):
        joined_store(source, target)
    returned = time.monotonic()
    time.sleep(0.8)  # plain da.store: started tasks land their chunks now
    assert 0 < len(target.times) < 16
    assert max(target.times) <= returned


def test_a_store_completes() -> None:
    out = np.zeros((6, 6))
    joined_store([da.ones((6, 6), chunks=2)], [out])
    assert out.sum() == 36
