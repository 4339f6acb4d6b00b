"""Drawing helpers shared by the figure scripts: grey panels, class colours, a titled sheet."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

#: Colours of classes 0, 1, 2, ... (background dark, then saturated hues).
CLASS_COLOURS = np.array(
    [[20, 20, 20], [80, 160, 255], [255, 190, 40], [240, 70, 70], [120, 220, 120]], np.uint8
)


def grey(a: np.ndarray, size: int, *, low: float = 1, high: float = 99) -> Image.Image:
    """``a`` scaled between its ``low`` and ``high`` percentiles, as a ``size`` x ``size``
    grey image (nearest-neighbour, so pixels stay visible)."""
    a = np.asarray(a, np.float64)
    lo, hi = np.percentile(a, [low, high])
    scaled = np.clip((a - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    return Image.fromarray((scaled * 255).astype(np.uint8)).resize((size, size), Image.NEAREST)


def heat(a: np.ndarray, size: int) -> Image.Image:
    """``a`` from its minimum (dark blue) to its maximum (yellow), ``size`` x ``size``."""
    a = np.asarray(a, np.float64)
    lo, hi = float(a.min()), float(a.max())
    t = np.clip((a - lo) / (hi - lo if hi > lo else 1.0), 0, 1)[..., None]
    low, mid, top = np.array([30, 30, 110]), np.array([200, 60, 90]), np.array([255, 230, 80])
    rgb = np.where(t < 0.5, low + (mid - low) * 2 * t, mid + (top - mid) * (2 * t - 1))
    image = Image.fromarray(rgb.astype(np.uint8), "RGB")
    return image.resize((size, size), Image.NEAREST)


def classes(labels: np.ndarray, size: int) -> Image.Image:
    """A class map in :data:`CLASS_COLOURS`, ``size`` x ``size``."""
    rgb = CLASS_COLOURS[np.asarray(labels) % len(CLASS_COLOURS)]
    return Image.fromarray(rgb, "RGB").resize((size, size), Image.NEAREST)


def instances(labels: np.ndarray, size: int, seed: int = 1) -> Image.Image:
    """Objects in random colours, background black, ``size`` x ``size``."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    lut = rng.integers(60, 255, (int(labels.max()) + 1, 3)).astype(np.uint8)
    lut[0] = 0
    return Image.fromarray(lut[labels], "RGB").resize((size, size), Image.NEAREST)


def sheet(panels: list[tuple[str, Image.Image]], cols: int, *, pad: int = 8,
          title: int = 16) -> Image.Image:  # fmt: skip
    """The panels in rows of ``cols``, each under its title, on white."""
    w, h = panels[0][1].size
    rows = -(-len(panels) // cols)
    out = Image.new("RGB", (cols * (w + pad) + pad, rows * (h + title + pad) + pad), "white")
    draw = ImageDraw.Draw(out)
    for k, (name, panel) in enumerate(panels):
        x = pad + (k % cols) * (w + pad)
        y = pad + (k // cols) * (h + title + pad)
        draw.text((x, y), name, fill="black")
        out.paste(panel.convert("RGB"), (x, y + title))
    return out
