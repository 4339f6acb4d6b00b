"""Post-processing on real touching nuclei: watershed and thresholded maps against MAP.

Run: ``python benchmarks/bench_postprocess.py`` (about a minute). Rewrites the
"postprocess-nuclei" section of docs/benchmarks.md. Needs ``../shared/data/dsb2018-nuclei``.

For each of the 80 images, the ground-truth instances ``g`` become the 3-class target
background / nucleus / touching (eq 4.1, ``stratoseg.training`` ``touching`` target); a
probability map is made from it as a network would blur it: the one-hot map smoothed by a
Gaussian (``BLUR``), plus smooth Gaussian noise (``NOISE``), through a softmax
(:func:`stratoseg.synthetic.probability_map`). Then:

- **MAP**: connected components of the nucleus class, touching pixels to the nearest nucleus;
- **thresholded maps** (Algorithm 2, eq 4.4) with ``gamma1``, ``gamma2``;
- **watershed** on ``z2 - z1`` with seeds ``z0 >= tau0`` or ``z1 >= tau1`` (§4.2.4).

The thresholds are chosen on the first 40 images (sorted by name) and the scores reported on
the other 40 (mean per image of PQ, SQ, RQ and detection F1, IoU > 0.5), with the default
thresholds (0.5) beside them.
"""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from _report import machine, write_section

from stratoseg.metrics import match_instances
from stratoseg.postprocess import postprocess
from stratoseg.synthetic import probability_map
from stratoseg.training._targets import make_target

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "dsb2018-nuclei"
BLUR, NOISE, SHARPNESS = 2.0, 0.03, 4.0
GRID: dict[str, list[dict[str, Any]]] = {
    "map": [{"instances": True}],
    "threshold": [{"gamma1": a, "gamma2": b} for a, b in
                  itertools.product([0.4, 0.5, 0.6], [0.2, 0.3, 0.4, 0.5])],
    "watershed": [{"tau0": a, "tau1": b} for a, b in
                  itertools.product([0.5, 0.6, 0.7], [0.5, 0.6, 0.7, 0.8])],
}  # fmt: skip
DEFAULTS = {"map": {"instances": True}, "threshold": {}, "watershed": {}}
NAMES = {"map": "MAP", "threshold": "thresholded maps", "watershed": "watershed"}


def scores(cases: list[tuple[np.ndarray, np.ndarray]], method: str, params: dict) -> dict:
    rows = [match_instances(postprocess(z, method, **params), g) for z, g in cases]
    return {k: float(np.mean([getattr(r, k) for r in rows])) for k in ("pq", "sq", "rq", "f1")}


def main() -> int:
    if not DATA.is_dir():
        print(f"the data folder {DATA} is absent", file=sys.stderr)
        return 2
    files = sorted((DATA / "labels").glob("*.tif"))
    cases = []
    for i, f in enumerate(files):
        g = tifffile.imread(f).astype(np.int32)
        h = make_target("touching", g)
        cases.append(
            (probability_map(h, 3, blur=BLUR, noise=NOISE, sharpness=SHARPNESS, seed=i), g)
        )
    tune, test = cases[: len(cases) // 2], cases[len(cases) // 2 :]
    start = time.perf_counter()
    rows, results = [], {}
    for method, grid in GRID.items():
        best = max(grid, key=lambda p: scores(tune, method, p)["pq"])
        results[method] = (scores(test, method, DEFAULTS[method]), scores(test, method, best))
        shown = ", ".join(f"{k} {v}" for k, v in best.items() if k != "instances") or "-"
        d, b = results[method]
        rows.append(f"| {NAMES[method]} | {d['pq']:.3f} | {b['pq']:.3f} | {b['sq']:.3f} | "
                    f"{b['rq']:.3f} | {b['f1']:.3f} | {shown} |")  # fmt: skip
        print(rows[-1], flush=True)
    seconds = time.perf_counter() - start
    lines = [
        "## Post-processing of touching nuclei (`benchmarks/bench_postprocess.py`)",
        "",
        f"Machine: {machine()}. Data: the {len(cases)} images of `dsb2018-nuclei`; "
        "probability maps made from the ground truth's background / nucleus / touching "
        f"target (eq 4.1) by a Gaussian blur (sigma {BLUR}), smooth noise (amplitude "
        f"{NOISE}) and a softmax (sharpness {SHARPNESS}). Thresholds chosen on the first "
        f"{len(tune)} images, scores on the other {len(test)} (mean per image; IoU > 0.5). "
        f"{seconds:.0f} s for the search and the scores.",
        "",
        "| post-processing | PQ (defaults 0.5) | PQ (tuned) | SQ | RQ | F1 | tuned thresholds |",
        "|---|---:|---:|---:|---:|---:|---|",
        *rows,
        "",
        f"Watershed against MAP: PQ {results['watershed'][1]['pq']:.3f} vs "
        f"{results['map'][1]['pq']:.3f} "
        f"({results['watershed'][1]['pq'] - results['map'][1]['pq']:+.3f}).",
    ]
    write_section("postprocess-nuclei", lines)
    return 0 if results["watershed"][1]["pq"] > results["map"][1]["pq"] else 1


if __name__ == "__main__":
    sys.exit(main())
