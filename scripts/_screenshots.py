"""Shared steps of the ``screenshot_*.py`` scripts that draw the napari pictures of the docs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from napari._qt.dialogs.qt_notification import NapariQtNotification
from qtpy.QtWidgets import QApplication


def process_events(n: int = 10) -> None:
    """Let Qt draw and deliver what is queued (``n`` rounds)."""
    for _ in range(n):
        QApplication.processEvents()


def save_window(viewer: Any, out: Path, *, keep: bool = False) -> Path:
    """Close the notifications, fit the view, save the whole window to ``out``, close it
    (``keep``: leave the view as it is and the window open)."""
    process_events()
    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()  # e.g. napari's start-up notice, a run's info messages
    if not keep:
        viewer.reset_view()
    process_events()
    out.parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(str(out), canvas_only=False, flash=False)
    print(f"saved {out}")
    if not keep:
        viewer.close()
    return out


def canvas(viewer: Any) -> Any:
    """The canvas as an RGBA array, after Qt has drawn what is queued."""
    process_events()
    return viewer.screenshot(canvas_only=True, flash=False)


def save_panels(panels: list[tuple[str, Any]], out: Path, *, width: int = 520) -> Path:
    """Put captioned canvas pictures side by side in ``out``: each trimmed of the black
    around the image and scaled to ``width`` pixels."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=18)
    images = []
    for caption, rgba in panels:
        rgb = np.asarray(rgba)[..., :3]
        rows, cols = np.nonzero(rgb.any(axis=(1, 2)))[0], np.nonzero(rgb.any(axis=(0, 2)))[0]
        if len(rows) and len(cols):  # trim the black outside the image
            rgb = rgb[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        image = Image.fromarray(np.ascontiguousarray(rgb))
        image = image.resize((width, round(image.height * width / image.width)))
        framed = Image.new("RGB", (width, image.height + 32), "white")
        framed.paste(image, (0, 32))
        ImageDraw.Draw(framed).text((6, 6), caption, fill="black", font=font)
        images.append(framed)
    gap = 8
    sheet = Image.new("RGB", (sum(i.width for i in images) + gap * (len(images) - 1),
                              max(i.height for i in images)), "white")  # fmt: skip
    x = 0
    for image in images:
        sheet.paste(image, (x, 0))
        x += image.width + gap
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)
    print(f"saved {out}")
    return out


def segment_volume(widget: Any, viewer: Any) -> Any:
    """Click *Segment volume* of a Segment widget (in this thread), say how it ended, and
    return the ``segmentation`` labels layer; exit when it failed."""
    if not widget.segment_volume_blocking():
        raise SystemExit(f"segmenting failed: {widget.status.value}")
    process_events()
    print(f"status: {widget.status.value}")
    return viewer.layers["segmentation"]
