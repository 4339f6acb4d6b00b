"""How far each real data set is from each shipped model's training data: the out-of-domain
notice's calibration.

Run: ``python benchmarks/bench_domain.py`` (about a minute; needs ``../shared/data``). For
every built-in model and every data set of ``../shared/data`` (and the synthetic composite),
the distance that :func:`stratoseg.jobs.domain_notice` compares with
:data:`stratoseg.models.OUT_OF_DOMAIN`: the largest number of training spreads by which the
image's fingerprint (:func:`stratoseg.models.image_features` of
:func:`stratoseg.models.domain_sample`, what ``stratoseg segment`` reads) differs from the
card's. Python route: the same functions ``stratoseg segment`` calls before a run, without the
run. Rewrites the section between the ``bench_domain`` markers of ``docs/models.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from stratoseg.models import OUT_OF_DOMAIN, domain_sample, image_features, read_card, resolve_model

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
MODELS = ["em-membranes-2d", "em-boundaries-3d", "nuclei-touching-2d", "composite-ct-3phase"]
#: Each model's own held-out data (in its domain by construction).
OWN = {
    "em-membranes-2d": "ISBI slices 25-29",
    "em-boundaries-3d": "FIB-SEM z >= 175",
    "nuclei-touching-2d": "DSB2018 test images",
    "composite-ct-3phase": "composite, seed 0",
}


def datasets() -> dict[str, list[Any]]:
    from stratoseg.synthetic import make_composite

    files = sorted((DATA / "dsb2018-nuclei" / "images").glob("*.tif"))
    fibre = DATA / "ct-fibre-slices"
    return {
        "ISBI slices 25-29": [tifffile.imread(DATA / "isbi2012" / "train-volume.tif")[25:]],
        "FIB-SEM z >= 175": [tifffile.imread(DATA / "fibsem-medulla-250" / "raw.tif")[175:]],
        "DSB2018 test images": [tifffile.imread(f) for i, f in enumerate(files) if i % 4 == 3],
        "composite, seed 0": [np.asarray(make_composite((64, 128, 128), seed=0).image)],
        "glass-fibre CT slice": [tifffile.imread(fibre / "glass.tif")],
        "carbon-fibre CT slice": [tifffile.imread(fibre / "carbon.tif")],
        "sand CT": [tifffile.imread(DATA / "ct-sand" / "sand.tif")],
    }


def main() -> int:
    from _report import machine
    from bench_models_cli import write

    if not DATA.is_dir():
        print(f"the data folder {DATA} is absent", file=sys.stderr)
        return 2
    data = datasets()
    cards = {m: read_card(resolve_model(m)) for m in MODELS}
    lines = [f"Measured by `python benchmarks/bench_domain.py` on {machine()} (Python route: "
             "the check `stratoseg segment` makes before a run). Spreads from each model's "
             f"training data, the largest over the features; a notice above {OUT_OF_DOMAIN}. "
             "For several images (DSB2018), the largest and the median.", "",
             "| data | " + " | ".join(f"`{m}`" for m in MODELS) + " |",
             "|---|" + "---:|" * len(MODELS)]  # fmt: skip
    for name, images in data.items():
        cells = []
        for model, card in cards.items():
            assert card.domain is not None, f"{model} has no domain in its card"
            far = [card.domain.distance(image_features(domain_sample(i),
                                                       card.input.normalisation))[0]
                   for i in images]  # fmt: skip
            text = f"{max(far):.1f}" + (f" (median {np.median(far):.1f})" if len(far) > 1 else "")
            mark = " notice" if max(far) > OUT_OF_DOMAIN else ""
            own = " (own test data)" if OWN[model] == name else ""
            cells.append(f"{text}{mark}{own}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    write(lines, key="bench_domain")
    return 0


if __name__ == "__main__":
    sys.exit(main())
