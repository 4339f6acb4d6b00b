"""Draw docs/images/enhance.png: a slice of the synthetic composite, its distance maps and the
enhanced images of each method, side by side.

Run: python scripts/enhance_figure.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _figures import grey, sheet

from stratoseg.enhance import EnhanceParams, enhance_array
from stratoseg.synthetic import make_composite

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "enhance.png"
SIZE = 200


def main() -> None:
    image = np.asarray(make_composite((1, 128, 128), seed=2).image.compute())[0]
    panels: list[tuple[str, np.ndarray]] = [("image I", image)]
    _, dt, dtc = enhance_array(image, EnhanceParams(method="binary"), return_maps=True)
    panels += [("binary DT (eq 1)", dt), ("binary DT_c (eq 3)", dtc)]
    for method, extra in (
        ("binary", {}),
        ("grayscale", {"levels": 8}),
        ("projected", {"gamma": 4.0}),
        ("geodesic", {"gamma": 4.0}),
    ):
        p = EnhanceParams(method=method, max_distance=12.0, **extra)
        panels.append((f"I_e {method}", enhance_array(image, p)))
    out = sheet([(name, grey(arr, SIZE)) for name, arr in panels], cols=4)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    out.save(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
