"""Shared steps of the ``screenshot_*.py`` scripts that draw the napari pictures of the docs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from napari._qt.dialogs.qt_notification import NapariQtNotification
from qtpy.QtWidgets import QApplication


def process_events(n: int = 10) -> None:
    """Let Qt draw and deliver what is queued (``n`` rounds)."""
    for _ in range(n):
        QApplication.processEvents()


def save_window(viewer: Any, out: Path) -> Path:
    """Close the notifications, fit the view, save the whole window to ``out``, close it."""
    process_events()
    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()  # e.g. napari's start-up notice, a run's info messages
    viewer.reset_view()
    process_events()
    out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(out), canvas_only=False, flash=False)
    print(f"saved {out}")
    viewer.close()
    return out
