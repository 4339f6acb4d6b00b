"""Train the built-in model ``nuclei-touching-2d`` on DSB2018 nuclei and measure it.

Run: ``python scripts/train_nuclei_touching.py`` (about 25 minutes on 2 CPU cores; a GPU is
used when there is one). Needs ``../shared/data/dsb2018-nuclei`` (80 fluorescence images with
instance labels, drawn by people). It reproduces
``src/stratoseg/models/builtin/nuclei-touching-2d/``:

1. **Split, fixed by image** (sorted by name, index ``i``): test ``i % 4 == 3`` (20 images,
   never seen), tuning ``i % 8 == 1`` (10 images: the post-processing thresholds are chosen
   on them), training the other 50 (the training loop holds out 10 % of them for
   validation).
2. **Input**: each image is scaled by its own 1st and 99.8th percentiles, which the card
   records as the model's normalisation (so a user's image is treated the same way). The
   training images are stacked (padded to a common size; the padding is not reviewed, so it is
   never learnt from).
3. **Target and loss**: background / nucleus / touching (eq 4.1 of Guerrero Peña's thesis, the
   ``touching`` target), a 2-D U-Net (depth 4, 16 filters), cross-entropy + Jaccard loss by
   default (``--loss``, ``--weights`` to compare others: ``ce`` with ``w3`` weights is
   chapter 4's), half the patches centred on touching pixels.
4. **Post-processing**: MAP (touching pixels to the nearest nucleus), thresholded maps
   (Algorithm 2, eq 4.4) and the watershed on z2 - z1 (§4.2.4), thresholds from a grid
   tuned on the tuning images by mean PQ.
5. **Test**: on the 20 held-out images, mean per image of PQ, SQ, RQ and detection F1
   (IoU > 0.5) for each post-processing, into the card's metrics (``test_<method>_<score>``);
   the best method and its thresholds become the card's recommended post-processing.

The package is written to ``--out`` (default: the built-in folder) with its provenance.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
import torch
from _train_common import (
    SHARED_DATA,
    absent,
    config_from,
    fresh_provenance,
    hardware,
    initial_package,
    print_validation,
    ship,
)

from stratoseg.inference import choose_scale, foreground_confidence, predict_at_scale
from stratoseg.metrics import match_instances
from stratoseg.models import (
    BUILTIN_DIR,
    NormSpec,
    UNetConfig,
    load_package,
    save_package,
)
from stratoseg.postprocess import postprocess
from stratoseg.training import train

NAME = "nuclei-touching-2d"
CLASSES = ["background", "nucleus", "touching"]
DATA = SHARED_DATA / "dsb2018-nuclei"
LOW, HIGH = 1.0, 99.8
#: Candidate scales of the prediction, and margins of the scale choice to tune
SCALES = (1.0, 0.5)
MARGINS = [0.0, 0.02, 0.04, 0.06, 0.08]
GRID: dict[str, list[dict[str, Any]]] = {
    "map": [{"instances": True}],
    "threshold": [{"gamma1": a, "gamma2": b} for a, b in
                  itertools.product([0.3, 0.4, 0.5, 0.6], [0.2, 0.3, 0.4, 0.5])],
    "watershed": [{"tau0": a, "tau1": b} for a, b in
                  itertools.product([0.4, 0.5, 0.6, 0.7], [0.5, 0.6, 0.7, 0.8, 0.9])],
}  # fmt: skip


def split() -> dict[str, list[Path]]:
    """The fixed split by image: test, tune and train (see the module docstring)."""
    files = sorted((DATA / "images").glob("*.tif"))
    if len(files) != 80:
        raise SystemExit(f"expected the 80 images of {DATA}, found {len(files)}")
    parts: dict[str, list[Path]] = {"test": [], "tune": [], "train": []}
    for i, f in enumerate(files):
        parts["test" if i % 4 == 3 else "tune" if i % 8 == 1 else "train"].append(f)
    return parts


def read(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """An image scaled by its own percentiles (``LOW`` to 0, ``HIGH`` to 1, as the card's
    percentile normalisation does at inference), and its instance labels."""
    image = tifffile.imread(path).astype(np.float32)
    lo, hi = np.percentile(image, [LOW, HIGH])
    labels = tifffile.imread(DATA / "labels" / path.name).astype(np.uint32)
    return (image - lo) / max(float(hi - lo), 1e-6), labels


def training_stack(files: list[Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The training images stacked along z, zero-padded to a common size; reviewed = real."""
    pairs = [read(f) for f in files]
    h = max(p[0].shape[0] for p in pairs)
    w = max(p[0].shape[1] for p in pairs)
    image = np.zeros((len(pairs), h, w), np.float32)
    labels = np.zeros((len(pairs), h, w), np.uint32)
    reviewed = np.zeros((len(pairs), h, w), np.uint8)
    for z, (im, lb) in enumerate(pairs):
        image[z, : im.shape[0], : im.shape[1]] = im
        labels[z, : lb.shape[0], : lb.shape[1]] = lb
        reviewed[z, : im.shape[0], : im.shape[1]] = 1
    return image, labels, reviewed


def probabilities(package: Path, files: list[Path]) -> list[dict[float, tuple[np.ndarray, float]]]:
    """Each image's class probabilities and foreground confidence at each of ``SCALES``,
    predicted as a user would (:func:`stratoseg.inference.predict_at_scale`)."""
    out = []
    for f in files:
        raw = tifffile.imread(f)
        by_scale = {}
        for s in SCALES:
            probs = predict_at_scale(raw, package, s, tiling="gaussian")
            by_scale[s] = (probs, foreground_confidence(probs))
        out.append(by_scale)
    return out


def truths(files: list[Path]) -> list[np.ndarray]:
    return [tifffile.imread(DATA / "labels" / f.name).astype(np.uint32) for f in files]


def chosen_scales(cases: list[dict[float, tuple[np.ndarray, float]]], margin: float) -> list:
    """The scale :func:`stratoseg.inference.predict_scaled` takes for each image."""
    return [choose_scale({s: c for s, (_, c) in by_scale.items()}, margin) for by_scale in cases]


def score_table(cases: list, gts: list[np.ndarray]) -> dict[tuple, list]:
    """PQ, SQ, RQ and F1 of every image at every scale for every method and parameters."""
    table: dict[tuple, list] = {}
    for method, grid in GRID.items():
        for k, params in enumerate(grid):
            for s in SCALES:
                rows = [match_instances(postprocess(c[s][0], method, **params), g)
                        for c, g in zip(cases, gts, strict=True)]  # fmt: skip
                table[method, k, s] = [{m: getattr(r, m) for m in ("pq", "sq", "rq", "f1")}
                                       for r in rows]  # fmt: skip
    return table


def mean_scores(table: dict, method: str, k: int, picks: list[float]) -> dict[str, float]:
    rows = [table[method, k, s][i] for i, s in enumerate(picks)]
    return {m: float(np.mean([r[m] for r in rows])) for m in ("pq", "sq", "rq", "f1")}


def tune_and_test(package: Path, parts: dict[str, list[Path]]) -> tuple[dict, dict, float]:
    """The margin of the scale choice and each method's thresholds chosen on the tuning
    images by mean PQ; every method's scores on the test images, at scale 1 and with the
    scale choice."""
    tune, test = probabilities(package, parts["tune"]), probabilities(package, parts["test"])
    tune_t = score_table(tune, truths(parts["tune"]))
    test_t = score_table(test, truths(parts["test"]))
    # the margin: the middle of those that give the best tuning PQ (their choices agree)
    best_pq = {m: max(mean_scores(tune_t, meth, k, chosen_scales(tune, m))["pq"]
                      for meth, grid in GRID.items() for k in range(len(grid)))
               for m in MARGINS}  # fmt: skip
    top = [m for m in MARGINS if best_pq[m] >= max(best_pq.values()) - 1e-9]
    margin = top[len(top) // 2]
    picks = {"scaled": (chosen_scales(tune, margin), chosen_scales(test, margin)),
             "scale1": ([1.0] * len(tune), [1.0] * len(test))}  # fmt: skip
    print(
        f"scale margin {margin} (tuning PQ by margin: {best_pq}); test images at 0.5: "
        f"{sum(s != 1.0 for s in picks['scaled'][1])} of {len(test)}",
        flush=True,
    )
    metrics: dict[str, float] = {"scale_margin": margin}
    #: the scale choice is recommended only when it takes another scale for a tuning image
    metrics["scale_choice_used"] = float(any(s != 1.0 for s in picks["scaled"][0]))
    best: dict[str, Any] = {}
    for mode, (tune_picks, test_picks) in picks.items():
        prefix = "test_" if mode == "scaled" else "test_scale1_"
        for method, grid in GRID.items():
            k = max(
                range(len(grid)), key=lambda k: mean_scores(tune_t, method, k, tune_picks)["pq"]
            )
            s = mean_scores(test_t, method, k, test_picks)
            print(f"{mode} {method} {grid[k]}: test PQ {s['pq']:.4f} SQ {s['sq']:.4f} RQ "
                  f"{s['rq']:.4f} F1 {s['f1']:.4f}", flush=True)  # fmt: skip
            metrics.update({f"{prefix}{method}_{m}": v for m, v in s.items()})
            tuned = mean_scores(tune_t, method, k, tune_picks)["pq"]
            if mode == "scaled" and (not best or tuned > best["pq"]):
                best = {"pq": tuned, "kind": method, **grid[k]}  # chosen on the tuning images
    best.pop("pq")
    return metrics, best, margin


def trained(args: argparse.Namespace, parts: dict[str, list[Path]], folder: Path) -> Path:
    """A new network trained on the training images; its card normalises by percentiles."""
    image, labels, reviewed = training_stack(parts["train"])
    arch = UNetConfig(
        spatial_dims=2, in_channels=1, out_channels=3, depth=4, base_filters=args.filters
    )
    config = config_from(args, NAME, target="touching")
    print(f"training on {len(parts['train'])} images, stack {image.shape}", flush=True)
    result = train(
        image, labels, reviewed, out=folder / NAME, config=config,
        base_model=initial_package(
            folder / "initial", NAME, arch, CLASSES, seed=args.seed,
            # the stack is normalised image by image already: the card reads it as it is
            normalisation={"kind": "fixed", "low": 0.0, "high": 1.0}),
        register=False,
        progress=print_validation,
        data={"dsb2018-nuclei": f"{len(parts['train'])} training images "
              "(scripts/train_nuclei_touching.py split)", "shape": list(image.shape)},
    )  # fmt: skip
    print(f"trained: {result.steps} steps in {result.seconds:.0f} s", flush=True)
    model, card = load_package(result.path)
    card = card.model_copy(update={"input": card.input.model_copy(update={
        "normalisation": NormSpec(kind="percentile", low=LOW, high=HIGH)})})  # fmt: skip
    save_package(model, card, result.path, overwrite=True)
    return result.path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=BUILTIN_DIR / NAME)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--minutes", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loss", default="ce-jaccard")
    parser.add_argument("--weights", default="none")
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument("--rare-share", type=float, default=0.5)
    parser.add_argument("--package", type=Path, help="measure this package, do not train")
    args = parser.parse_args()
    if absent(DATA):
        return 2
    torch.manual_seed(args.seed)
    parts = split()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        package = args.package or trained(args, parts, folder)
        model, card = load_package(package)
        start = time.perf_counter()
        metrics, best, margin = tune_and_test(package, parts)
        print(f"tuned and tested in {time.perf_counter() - start:.0f} s; recommended {best}")
        card = card.model_copy(
            update={
                "description": "Touching nuclei in fluorescence microscopy (2-D): background, "
                "nucleus, touching (eq 4.1). A 2-D U-Net trained on 50 DSB2018 images "
                "(scripts/train_nuclei_touching.py); instances by the recommended "
                "post-processing.",
                "metrics": {**card.metrics, **metrics},
                "recommended": {
                    **{k: v for k, v in card.recommended.items()
                       if k not in ("scales", "scale_margin")},
                    "tiling": "gaussian", "postprocess": best,
                    **({"scales": list(SCALES), "scale_margin": margin}
                       if metrics["scale_choice_used"] else {})},
                "provenance": card.provenance if args.package else
                fresh_provenance(card, hardware=hardware()),
            }
        )  # fmt: skip
        ship(model, card, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
