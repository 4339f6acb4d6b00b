"""Write what the shipped cards need beyond their weights: each model's training-data
fingerprint (``domain``, for the out-of-domain notice) and the settings chosen after training.

Run: ``python scripts/card_settings.py [--only NAME ...]`` (about five minutes on 2 CPU
cores; needs ``../shared/data``). For each built-in package:

- **domain** (all four): :func:`stratoseg.models.domain_of` / ``domain_from_pieces`` on the
  data the training scripts used: ISBI slices 0-24 (each slice), FIB-SEM z < 150 (slabs of 8
  slices), the 50 DSB2018 training images (each image), the six synthetic training composites
  of ``train_composite_ct.py`` (slabs);
- **em-membranes-2d**: the recommendation of ``train_em_membranes.py`` (its tuned membrane
  threshold, once ``recommended.membrane_threshold``, as the ``boundary-components``
  post-processing, each slice's cells linked across z);
- **nuclei-touching-2d** on 3-D stacks: ``stack`` ``split`` with the ``h`` that scores the best
  mean panoptic quality on synthetic tuning stacks of touching nuclei (seeds 10-12, radii 7,
  10 and 14 voxels, z steps of 1 and 3 voxels; the test stacks of
  ``benchmarks/bench_models_cli.py`` use other seeds).

The weights are not touched (the package is re-saved with the same tensors).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from _train_common import SHARED_DATA, absent

from stratoseg.models import (
    BUILTIN_DIR,
    domain_from_pieces,
    domain_of,
    domain_sample,
    load_package,
    save_package,
)

#: The synthetic stacks ``h`` is tuned on: (seed, radius, z step).
TUNING_STACKS = list(itertools.product((10, 11, 12), (7.0, 10.0, 14.0), (1, 3)))
H_GRID = (0.25, 0.5, 1.0, 2.0)


def nuclei_stack(seed: int, radius: float, z_step: int, shape: tuple[int, int, int] = (40, 128, 128)
                 ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """A stack of touching nuclei sampled every ``z_step`` slices (anisotropic when > 1)."""
    from stratoseg.synthetic import make_cells

    vol = make_cells((shape[0] * z_step, *shape[1:]), seed=seed, radius=radius)
    return np.asarray(vol.image)[::z_step], np.asarray(vol.labels)[::z_step]


def tune_stack_h(package: Path) -> float:
    """The ``split`` stack's ``h`` with the best mean PQ on :data:`TUNING_STACKS`."""
    from stratoseg.inference import predict_lazy
    from stratoseg.metrics import match_instances
    from stratoseg.models import read_card
    from stratoseg.postprocess import postprocess

    advice = dict(read_card(package).recommended["postprocess"])
    method = advice.pop("kind")
    scores = {h: [] for h in H_GRID}
    for seed, radius, step in TUNING_STACKS:
        image, truth = nuclei_stack(seed, radius, step)
        probs = np.asarray(predict_lazy(image, package, tiling="gaussian").compute())
        for h in H_GRID:
            labels = postprocess(probs, method, stack={"kind": "split", "h": h},
                                 sampling=(step, 1, 1), **advice)  # fmt: skip
            scores[h].append(match_instances(labels, truth).pq)
    for h, s in scores.items():
        print(f"  split h {h}: mean PQ {np.mean(s):.4f} over {len(s)} tuning stacks", flush=True)
    return max(H_GRID, key=lambda h: float(np.mean(scores[h])))


def domains() -> dict[str, Any]:
    """The training data of each shipped model, as the pieces its fingerprint is made of."""
    from train_nuclei_touching import split

    def isbi(card: Any) -> Any:
        image = tifffile.imread(SHARED_DATA / "isbi2012" / "train-volume.tif")[:25]
        return domain_of(image, card.input.normalisation, per_slice=True)

    def fibsem(card: Any) -> Any:
        image = tifffile.imread(SHARED_DATA / "fibsem-medulla-250" / "raw.tif")[:150]
        return domain_of(image, card.input.normalisation, per_slice=False)

    def dsb(card: Any) -> Any:
        images = (tifffile.imread(f) for f in split()["train"])
        return domain_from_pieces((domain_sample(i) for i in images), card.input.normalisation)

    def composite(card: Any) -> Any:
        from train_composite_ct import TRAINING, training_stack

        stack = training_stack()[0]  # the six volumes along z
        depth = stack.shape[0] // len(TRAINING)
        slabs = [stack[z : z + 8] for z in range(0, stack.shape[0], 8) if z % depth + 8 <= depth]
        return domain_from_pieces(slabs, card.input.normalisation)

    return {"em-membranes-2d": isbi, "em-boundaries-3d": fibsem, "nuclei-touching-2d": dsb,
            "composite-ct-3phase": composite}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="these built-in models only")
    args = parser.parse_args()
    if absent(SHARED_DATA):
        return 2
    for name, domain in domains().items():
        if args.only and name not in args.only:
            continue
        path = BUILTIN_DIR / name
        model, card = load_package(path)
        update: dict[str, Any] = {"domain": domain(card)}
        rec = dict(card.recommended)
        if name == "em-membranes-2d" and "membrane_threshold" in rec:
            from train_em_membranes import recommendation

            sampling = "stratified" if rec.get("tiling") == "stratified" else "uniform"
            update["recommended"] = recommendation(sampling, rec["membrane_threshold"])
        if name == "nuclei-touching-2d":
            h = tune_stack_h(path)
            update["recommended"] = {**rec, "stack": {"kind": "split", "h": h}}
        save_package(model, card.updated(**update), path, overwrite=True)
        shown = update.get("recommended", rec)
        print(f"{name}: domain of {update['domain'].pieces} pieces; recommended {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
