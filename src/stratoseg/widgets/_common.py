"""Qt plumbing shared by the dock widgets: progress from worker threads, closing, progress bars."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from qtpy.QtCore import QEvent, QObject, Signal

__all__ = [
    "CloseWatcher",
    "Connections",
    "JobBookkeeping",
    "ProgressRelay",
    "advance",
    "watch_lifetime",
]


class ProgressRelay(QObject):
    """Carries ``progress(done, total)`` calls from a worker thread to the GUI thread."""

    progressed = Signal(int, int)


def advance(pbar: Any, done: int, total: int) -> int | None:
    """Move a napari ``progress`` bar to ``done`` of ``total``; return the percentage.

    The total may change between calls (each dask computation of a job has its own task count);
    the bar follows it. Returns None (and leaves the bar alone) without a bar or a total.
    """
    if pbar is None or total <= 0:
        return None
    if pbar.total != total:
        pbar.total = total
    pbar.update(done - pbar.n)
    return 100 * done // total


class CloseWatcher(QObject):
    """Calls ``on_close`` when the watched widget gets a close event or loses its parent.

    napari's dock-widget close button reparents the inner widget to None rather than closing
    it; both ways end the widget's use, so both release what it holds.
    """

    def __init__(self, widget: QObject, on_close: Callable[[], None]) -> None:
        super().__init__(widget)
        self._on_close = on_close
        self._had_parent = False
        widget.installEventFilter(self)

    def eventFilter(self, obj: QObject | None, event: QEvent | None) -> bool:
        if obj is None or event is None:
            return False
        kind = event.type()
        if kind == QEvent.Type.Close:
            self._on_close()
        elif kind == QEvent.Type.ParentChange:
            if obj.parent() is not None:
                self._had_parent = True
            elif self._had_parent:
                self._had_parent = False
                self._on_close()
        return False


class Connections:
    """napari event connections that a widget makes and must undo when it closes.

    A separate object so that cleanup at Qt destruction, when the widget's Python side may be
    half gone, needs nothing from the widget itself.

    Examples
    --------
    >>> from napari.utils.events import EventEmitter
    >>> emitter, seen = EventEmitter(type_name="x"), []
    >>> links = Connections()
    >>> links.connect(emitter, seen.append)
    >>> links.disconnect_all()
    >>> _ = emitter()
    >>> seen
    []
    """

    def __init__(self) -> None:
        self._links: list[tuple[Any, Callable[..., Any]]] = []

    def connect(self, emitter: Any, callback: Callable[..., Any]) -> None:
        """``emitter.connect(callback)``, remembered for :meth:`disconnect_all`."""
        emitter.connect(callback)
        self._links.append((emitter, callback))

    def disconnect_all(self) -> None:
        """Undo every connection (idempotent)."""
        links, self._links = self._links, []
        for emitter, callback in links:
            emitter.disconnect(callback)

    def __bool__(self) -> bool:
        return bool(self._links)


def watch_lifetime(
    native: Any,
    on_close: Callable[[], None],
    links: Connections,
    stop: threading.Event,
    closed: threading.Event,
) -> CloseWatcher:
    """Tie a background-job widget's resources to its Qt widget ``native``.

    Closing (or napari's un-docking) calls ``on_close``. Destruction, when the widget's Python
    side may be half gone, uses only the three objects given: it sets ``closed`` and ``stop``
    (a running job ends at its next step) and undoes ``links``. Keep the returned watcher
    referenced for as long as the widget lives.
    """
    watcher = CloseWatcher(native, on_close)

    def on_destroyed(*_: object) -> None:
        closed.set()
        stop.set()
        links.disconnect_all()

    native.destroyed.connect(on_destroyed)
    return watcher


class JobBookkeeping:
    """What a widget running one background job at a time keeps: busy, progress bar, closed.

    Mixed into the dock widgets; they set ``_busy`` and ``_pbar`` when a job starts.
    """

    _busy: bool
    _pbar: Any
    _closed: threading.Event

    def _release_job(self) -> bool:
        """Mark the job over and close its progress bar; False when the widget has closed,
        so that the caller leaves its (possibly deleted) controls alone."""
        self._busy = False
        if self._pbar is not None:
            self._pbar.close()
            self._pbar = None
        return not self._closed.is_set()
