"""A small live line plot for training curves (plain Qt painting: no plotting library)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from qtpy.QtCore import QPointF, Qt
from qtpy.QtGui import QColor, QPainter, QPen, QPolygonF
from qtpy.QtWidgets import QSizePolicy, QWidget

__all__ = ["LinePlot"]

#: Line colours, in the order series are added (napari's dark theme friendly).
COLOURS = ["#4fc3f7", "#ffb74d", "#81c784", "#e57373", "#ba68c8"]


class LinePlot(QWidget):
    """Curves ``name -> (steps, values)`` against the step, each scaled to its own range
    (shown in the legend), so a loss and a score in [0, 1] share one small plot.

    Attributes
    ----------
    series : dict of str to (list of float, list of float)
        The curves, in the order they were first set.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.series: dict[str, tuple[list[float], list[float]]] = {}
        self.setMinimumHeight(140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_series(self, name: str, xs: Sequence[float], ys: Sequence[float]) -> None:
        """Set (or replace) the curve ``name`` and repaint."""
        pairs = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True) if math.isfinite(y)]
        self.series[name] = ([x for x, _ in pairs], [y for _, y in pairs])
        self.update()

    def clear(self) -> None:
        """Remove every curve."""
        self.series = {}
        self.update()

    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        try:
            self._paint(painter)
        finally:
            painter.end()

    def _paint(self, painter: QPainter) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        left, right, top, bottom = 8.0, 8.0, 8.0 + 14 * len(self.series), 18.0
        painter.fillRect(0, 0, w, h, QColor("#262930"))
        painter.setPen(QPen(QColor("#5a626c")))
        painter.drawRect(int(left), int(top), int(w - left - right), int(h - top - bottom))
        xs_all = [x for xs, _ in self.series.values() for x in xs]
        if not xs_all:
            painter.setPen(QPen(QColor("#a0a8b0")))
            painter.drawText(int(left) + 6, int(top) + 18, "the curves appear as training runs")
            return
        x0, x1 = min(xs_all), max(xs_all)
        x1 = x1 if x1 > x0 else x0 + 1
        painter.setPen(QPen(QColor("#a0a8b0")))
        painter.drawText(int(left), h - 4, f"step {int(x0)}")
        text = f"step {int(x1)}"
        painter.drawText(int(w - right - painter.fontMetrics().horizontalAdvance(text)), h - 4,
                         text)  # fmt: skip
        for i, (name, (xs, ys)) in enumerate(self.series.items()):
            colour = QColor(COLOURS[i % len(COLOURS)])
            if not ys:
                continue
            y0, y1 = min(ys), max(ys)
            span = y1 - y0 if y1 > y0 else 1.0
            points = QPolygonF(
                [
                    QPointF(
                        left + (x - x0) / (x1 - x0) * (w - left - right),
                        h - bottom - (y - y0) / span * (h - top - bottom - 4) - 2,
                    )
                    for x, y in zip(xs, ys, strict=True)
                ]
            )
            pen = QPen(colour)
            pen.setWidthF(1.6)
            painter.setPen(pen)
            painter.drawPolyline(points)
            if len(xs) == 1:
                painter.drawEllipse(points[0], 2.5, 2.5)
            painter.drawText(int(left), int(12 + 14 * i),
                             f"{name}: {ys[-1]:.3f}  (range {y0:.3f} to {y1:.3f})")  # fmt: skip
        painter.setPen(Qt.PenStyle.NoPen)
