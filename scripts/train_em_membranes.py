"""Train ``em-membranes-2d`` on ISBI 2012 and measure Table 2 of Hammoumi et al. (2021).

Run: ``python scripts/train_em_membranes.py`` (two trainings of ``--minutes`` each, then the
four predictions; about an hour on 2 CPU cores, minutes on a GPU). Needs
``../shared/data/isbi2012`` (30 ssTEM slices of 512 x 512 with membranes drawn by people).

1. **Split**: train on slices 0-24 (the loop holds out 10 % of them for validation), test on
   25-29, never seen.
2. **Two networks**, the paper's patch-wise U-Net: a 2-D U-Net (depth 3, 16 filters) trained
   on 48 x 48 patches (§3.2), target cell / membrane, cross-entropy + Jaccard, elastic and
   intensity augmentation:

   - ``original``: the image alone;
   - ``enhanced``: the image plus the geodesic channel of §4.1 (eq 2 distances from the dark
     voxels, below Otsu's threshold, and from the others, within each slice, clipped at
     ``MAX_DISTANCE`` pixels; eq 4 ``I_e = I + DT - DT_c``), computed on the fly from the
     card's parameters, so a user's image gets the same channel.

3. **Two samplings at prediction** (§4.2): ``uniform``, abutting 48 x 48 windows on a grid
   (eq 12, ``crop`` tiling without halo), and ``stratified``, ``PASSES`` random samplings
   (eqs 13-14, ``stratified`` tiling).
4. **Score**: V_Rand (α = 0.5, foreground-restricted, thinned boundaries: the challenge's
   definition, :func:`stratoseg.metrics.v_rand` of :func:`segments_from_boundaries`) per test
   slice of the membrane probability map, mean ± standard deviation over the five slices, at
   three membrane thresholds: 0.5; the one that scores best on the *training* slices (the
   shipped setting, chosen without the test); and the best for the test slices themselves
   (the challenge ranked entries that way; optimistic).

The combination with the best shipped-setting score is written to ``--out`` (default: the
built-in folder) with the table in its card's metrics, the sampling as its recommended tiling
and the tuned threshold in its recommended post-processing (``boundary-components``, each
slice's cells linked across z): what ``stratoseg segment`` applies.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from _train_common import SHARED_DATA, absent, fresh_provenance, hardware, initial_package, ship
from scipy import ndimage as ndi

from stratoseg.inference import predict_lazy
from stratoseg.metrics import segments_from_boundaries, v_rand
from stratoseg.models import (
    BUILTIN_DIR,
    UNetConfig,
    load_package,
)
from stratoseg.training import TrainConfig, train

NAME = "em-membranes-2d"
CLASSES = ["cell", "membrane"]
DATA = SHARED_DATA / "isbi2012"
TRAIN, TEST = slice(0, 25), slice(25, 30)
PATCH, MAX_DISTANCE, PASSES = 48, 10.0, 4
GEODESIC = {"method": "geodesic", "gamma": 4.0, "max_distance": MAX_DISTANCE, "mode": "2d"}
SAMPLINGS = {
    "uniform": {"tiling": "crop", "halo": 0, "window": PATCH},
    "stratified": {"tiling": "stratified", "passes": PASSES, "window": PATCH},
}
THRESHOLDS = [0.02, 0.05] + [round(0.1 * k, 1) for k in range(1, 10)]


def new_network(folder: Path, data: str, seed: int) -> Path:
    """A new network for ``data`` (``original`` or ``enhanced``) as a package to train from:
    its card names its input channels (the image, and the geodesic channel when enhanced)."""
    channels: list[dict[str, Any]] = [{"source": "image"}]
    if data == "enhanced":
        channels.append({"source": "enhance", "params": GEODESIC})
    config = UNetConfig(spatial_dims=2, in_channels=len(channels), out_channels=2, depth=3,
                        base_filters=16)  # fmt: skip
    return initial_package(folder / f"initial-{data}", NAME, config, CLASSES,
                           channels=channels, seed=seed)  # fmt: skip


def ground_truth(labels: np.ndarray) -> list[np.ndarray]:
    """Each slice's cells (4-connected regions between the drawn membranes)."""
    four = ndi.generate_binary_structure(2, 1)
    return [ndi.label(plane != 0, structure=four)[0] for plane in labels]


def v_rand_table(membrane: np.ndarray, truth: list[np.ndarray]) -> np.ndarray:
    """V_Rand (thinned) of each slice (columns) at each of ``THRESHOLDS`` (rows)."""
    return np.array([[v_rand(segments_from_boundaries(m, threshold=t, thin=True), g).score
                      for m, g in zip(membrane, truth, strict=True)]
                     for t in THRESHOLDS])  # fmt: skip


def evaluate(
    package: Path, sampling: str, image: np.ndarray, truth: list[np.ndarray],
    train_image: np.ndarray, train_truth: list[np.ndarray],
) -> dict[str, float]:  # fmt: skip
    """V_Rand on the test slices, mean and std over them: at 0.5, at the threshold chosen on
    the training slices (the shipped setting: the test never chooses anything), and at the
    best threshold for the test itself (the challenge's ranking, optimistic)."""
    opts = SAMPLINGS[sampling]
    tuned = v_rand_table(np.asarray(predict_lazy(train_image, package, **opts).compute())[1],
                         train_truth).mean(axis=1)  # fmt: skip
    table = v_rand_table(np.asarray(predict_lazy(image, package, **opts).compute())[1], truth)
    pick = {"half": THRESHOLDS.index(0.5), "tuned": int(np.argmax(tuned)),
            "best": int(np.argmax(table.mean(axis=1)))}  # fmt: skip
    out: dict[str, float] = {}
    for name, row in pick.items():
        out[f"v_rand_{name}"] = float(table[row].mean())
        out[f"v_rand_{name}_std"] = float(table[row].std())
        out[f"threshold_{name}"] = THRESHOLDS[row]
    return out


def recommendation(sampling: str, threshold: float) -> dict[str, Any]:
    """The card's recommendation: the sampling's tiling, cells as the components of the
    membrane map under the tuned threshold with the membranes given to them (dense, as
    ``stratoseg segment`` writes them), each slice on its own with its cells linked across
    z (the test scores each slice)."""
    return {**SAMPLINGS[sampling],
            "postprocess": {"kind": "boundary-components", "threshold": threshold,
                            "assign_boundaries": True},
            "stack": {"kind": "link", "min_overlap": 0.5}}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=BUILTIN_DIR / NAME)
    parser.add_argument("--minutes", type=float, default=25.0)
    parser.add_argument("--steps", type=int, default=100000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if absent(DATA):
        return 2
    image = tifffile.imread(DATA / "train-volume.tif")
    labels = tifffile.imread(DATA / "train-labels.tif")
    membrane = (labels == 0).astype(np.uint8)  # the challenge's convention: 0 = membrane
    truth, train_truth = ground_truth(labels[TEST]), ground_truth(labels[TRAIN])
    results: dict[tuple[str, str], dict[str, float]] = {}
    packages: dict[str, Path] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for data in ("original", "enhanced"):
            config = TrainConfig(
                name=NAME, target="semantic", patch=PATCH, batch_size=32, steps=args.steps,
                minutes=args.minutes, lr=2e-3, val_fraction=0.1, val_every=500,
                rare_share=0.0, seed=args.seed,
            )  # fmt: skip
            print(f"training {data} on slices 0-24 for {args.minutes} min", flush=True)
            result = train(
                image[TRAIN], membrane[TRAIN], np.ones_like(membrane[TRAIN]),
                out=folder / data, config=config, register=False,
                base_model=new_network(folder, data, args.seed),
                data={"isbi2012": "train-volume slices 0-24 (scripts/train_em_membranes.py)"},
            )  # fmt: skip
            print(f"  {result.steps} steps in {result.seconds:.0f} s", flush=True)
            packages[data] = result.path
            for sampling in SAMPLINGS:
                s = evaluate(result.path, sampling, image[TEST], truth, image[TRAIN],
                             train_truth)  # fmt: skip
                results[data, sampling] = s
                print(
                    f"  {data} / {sampling}: V_Rand "
                    + ", ".join(
                        f"{s[f'v_rand_{k}']:.4f} ± {s[f'v_rand_{k}_std']:.4f} ({k}, "
                        f"{s[f'threshold_{k}']})"
                        for k in ("half", "tuned", "best")
                    ),
                    flush=True,
                )
        data, sampling = max(results, key=lambda k: results[k]["v_rand_tuned"])
        model, card = load_package(packages[data])
        metrics = {f"test_{d}_{s}_{k}": v for (d, s), r in results.items() for k, v in r.items()}
        card = card.model_copy(update={
            "description": "Neuronal membranes in serial-section TEM (2-D): cell / membrane. The "
            f"patch-wise U-Net of Hammoumi et al. (2021), {data} input, trained on ISBI 2012 "
            "slices 0-24 (scripts/train_em_membranes.py).",
            "metrics": {**card.metrics, **metrics},
            "recommended": recommendation(sampling, results[data, sampling]["threshold_tuned"]),
            "provenance": fresh_provenance(card, hardware=hardware(), minutes=args.minutes),
        })  # fmt: skip
        ship(model, card, args.out)
    print(f"shipped {data} / {sampling}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
