"""Draw docs/images/synthetic.png: a slice of each synthetic generator beside its ground truth.

Run: python scripts/synthetic_figure.py  (needs only the package; Pillow comes with napari)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from stratoseg.synthetic import make_cells, make_composite, make_membranes

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "synthetic.png"
SIZE = 256


def colour(labels: np.ndarray, semantic: bool) -> np.ndarray:
    """Labels to RGB: fixed colours for classes, pseudo-random ones for instances, 0 black."""
    if semantic:
        table = np.array([[60, 60, 60], [240, 200, 40], [40, 120, 240]], np.uint8)
        return table[labels]
    rng = np.random.default_rng(7)
    table = rng.integers(60, 255, (int(labels.max()) + 1, 3), dtype=np.uint8)
    table[0] = 0
    return table[labels]


def main() -> None:
    rows = [
        ("composite (z slice)", make_composite((64, SIZE, SIZE), seed=0), 32, True),
        ("cells", make_cells((SIZE, SIZE), seed=0, radius=9.0), None, False),
        ("membranes", make_membranes((SIZE, SIZE), seed=0), None, False),
    ]
    pad, title = 8, 18
    sheet = Image.new("RGB", (2 * SIZE + 3 * pad, len(rows) * (SIZE + title + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (name, vol, z, semantic) in enumerate(rows):
        img = np.asarray(vol.image.compute())
        lab = np.asarray(vol.labels.compute())
        if z is not None:
            img, lab = img[z], lab[z]
        top = pad + r * (SIZE + title + pad)
        draw.text((pad, top), f"{name}: image", fill="black")
        draw.text((2 * pad + SIZE, top), "ground truth", fill="black")
        sheet.paste(Image.fromarray(img).convert("RGB"), (pad, top + title))
        sheet.paste(Image.fromarray(colour(lab, semantic)), (2 * pad + SIZE, top + title))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
