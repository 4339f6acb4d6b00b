"""Progress and cancellation for long work, the contract of ``docs/architecture.md``.

Long functions take ``progress(done, total)`` and ``should_stop() -> bool`` callbacks. When they
run dask graphs, :func:`dask_progress` forwards the graph's task counts to ``progress`` and
raises :class:`Cancelled` as soon as ``should_stop`` says so. The CLI passes a tqdm bar, the
widgets a napari progress bar and a cancel button.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from dask.callbacks import Callback

__all__ = ["Cancelled", "ProgressFn", "StopFn", "dask_progress"]

ProgressFn = Callable[[int, int], None]
StopFn = Callable[[], bool]


class Cancelled(Exception):
    """Raised inside long work when ``should_stop()`` returned True."""


class _Forward(Callback):
    def __init__(self, progress: ProgressFn | None, should_stop: StopFn | None) -> None:
        super().__init__()
        self._progress, self._stop = progress, should_stop
        self.total = 0
        self.done = 0

    def _start_state(self, dsk: Any, state: Any) -> None:
        self.total = sum(len(state[k]) for k in ("ready", "waiting", "running", "finished"))
        self.done = 0

    def _pretask(self, key: Any, dsk: Any, state: Any) -> None:
        if self._stop is not None and self._stop():
            raise Cancelled("stopped on request")

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, id: Any) -> None:
        self.done += 1
        if self._progress is not None:
            self._progress(min(self.done, self.total), self.total)


@contextmanager
def dask_progress(
    progress: ProgressFn | None = None, should_stop: StopFn | None = None
) -> Iterator[_Forward]:
    """Forward the progress of every dask computation inside the ``with`` block.

    Examples
    --------
    >>> import dask.array as da
    >>> seen = []
    >>> with dask_progress(lambda d, t: seen.append((d, t))):
    ...     _ = da.ones(10, chunks=5).sum().compute()
    >>> seen[-1][0] == seen[-1][1]
    True
    """
    cb = _Forward(progress, should_stop)
    with cb:
        yield cb
