"""Draw docs/images/postprocess.png: the post-processing methods on real touching nuclei and
on an open membrane.

Top row: a crop of a dsb2018 nuclei image (``../shared/data``; a synthetic cell image when it
is absent), the probability map made from its ground truth as a network would blur it
(:func:`stratoseg.synthetic.probability_map`, blue background, orange nucleus, red touching),
MAP instances, thresholded maps (Algorithm 2) and the watershed on ``z2 - z1`` (tau1 0.8); each
title gives the PQ against the ground truth. Bottom row: a synthetic membrane probability with
a gap, plain thresholding (one cell), the boundary watershed (two cells), and the distance
watershed splitting a mask of touching disks.

Run: python scripts/postprocess_figure.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from _figures import grey, heat, instances, sheet
from PIL import Image
from scipy import ndimage as ndi

from stratoseg.metrics import match_instances
from stratoseg.postprocess import boundary_watershed, distance_watershed, postprocess
from stratoseg.synthetic import make_cells, probability_map
from stratoseg.training import make_target

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images" / "postprocess.png"
DATA = ROOT.parent / "shared" / "data" / "dsb2018-nuclei"
SIZE = 200


def nuclei() -> tuple[np.ndarray, np.ndarray]:
    """An image crop with many touching nuclei and its instances."""
    name = "693bc6458127.tif"
    if (DATA / "images" / name).is_file():
        image = tifffile.imread(DATA / "images" / name)
        g = tifffile.imread(DATA / "labels" / name).astype(np.int32)
        return image[:160, :160], g[:160, :160]
    cells = make_cells((160, 160), seed=3)
    return np.asarray(cells.image), np.asarray(cells.labels).astype(np.int32)


def rgb_probs(z: np.ndarray) -> Image.Image:
    colours = np.array([[40, 60, 160], [255, 170, 40], [230, 40, 40]], np.float64)
    rgb = np.tensordot(z.transpose(1, 2, 0), colours, axes=1).clip(0, 255).astype(np.uint8)
    return Image.fromarray(rgb, "RGB").resize((SIZE, SIZE), Image.NEAREST)


def main() -> Path:
    image, g = nuclei()
    z = probability_map(make_target("touching", g), 3, blur=2.0, noise=0.03, seed=0)
    found = {
        "MAP": postprocess(z, "map", instances=True),
        "thresholded maps": postprocess(z, "threshold"),
        "watershed z2 - z1": postprocess(z, "watershed", tau1=0.8),
    }
    top = [("image", grey(image, SIZE)), ("probabilities", rgb_probs(z))]
    top += [
        (f"{k}: PQ {match_instances(v, g).pq:.2f}", instances(v, SIZE)) for k, v in found.items()
    ]

    x = np.arange(120)
    b = np.tile(0.9 * np.exp(-((x - 60) ** 2) / (2 * 1.5**2)), (120, 1)).astype(np.float32)
    b[50:66] *= 0.45  # the membrane fades: an open boundary
    plain, _ = ndi.label(b < 0.5)
    yy, xx = np.indices((120, 120))
    disks = ((yy - 60) ** 2 + (xx - 42) ** 2 < 24**2) | ((yy - 60) ** 2 + (xx - 80) ** 2 < 20**2)
    bottom = [
        ("membrane probability (gap)", heat(b, SIZE)),
        ("threshold 0.5: one cell", instances(plain, SIZE)),
        ("boundary watershed: two", instances(boundary_watershed(b), SIZE)),
        ("mask of touching disks", grey(disks.astype(np.uint8), SIZE)),
        ("distance watershed", instances(distance_watershed(disks), SIZE)),
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    sheet(top + bottom, cols=5).save(OUT)
    print(f"saved {OUT}")
    return OUT


if __name__ == "__main__":
    main()
