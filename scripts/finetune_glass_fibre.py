"""Fine-tune ``composite-ct-3phase`` on the scribbles of a real glass-fibre CT slice.

Run: ``python scripts/finetune_glass_fibre.py`` (a few minutes on 2 CPU cores). Needs
``../shared/data/ct-fibre-slices`` (``glass.tif``, 182 x 190, and ``glass_labels.tif``: about
670 scribbled pixels, 1 = matrix, 2 = fibre, 0 = not labelled; drawn by people).

1. **Held-out pixels**: a random third of the scribbled pixels (seed ``--seed``) is kept for
   evaluation; fine-tuning sees only the other two thirds, as a user's corrections.
2. **Before**: the built-in model segments the slice (the slice repeated three times, the
   2.5D model's three-slice context of a single slice); accuracy = the share of held-out
   pixels whose predicted class is their scribble's (matrix or fibre; "pore" counts as wrong).
3. **Fine-tune**: :func:`stratoseg.training.train` from the built-in model, semantic target
   (scribble 1 = matrix, 2 = fibre; the pore class is kept, nothing teaches it away), the
   default loss (cross-entropy + Jaccard), only the scribbled pixels counted.
4. **After**: the same accuracy with the fine-tuned model. Both numbers are printed and
   written to ``docs/models.md`` by hand (the "Fine-tuning on real glass-fibre scribbles"
   table).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
from _train_common import SHARED_DATA, absent

from stratoseg.inference import predict_lazy
from stratoseg.models import BUILTIN_DIR
from stratoseg.training import TrainConfig, train

DATA = SHARED_DATA / "ct-fibre-slices"
BASE = "composite-ct-3phase"


def held_out(scribbles: np.ndarray, seed: int) -> np.ndarray:
    """A random third of the scribbled pixels (a boolean mask)."""
    where = np.flatnonzero(scribbles > 0)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(where, size=len(where) // 3, replace=False)
    mask = np.zeros(scribbles.size, bool)
    mask[chosen] = True
    return mask.reshape(scribbles.shape)


def accuracy(model: str | Path, image: np.ndarray, classes: np.ndarray, mask: np.ndarray) -> float:
    """The share of ``mask`` pixels whose predicted class (MAP) is ``classes``'."""
    stack = np.stack([image] * 3)  # one slice as the 2.5D model's three-slice context
    probs = predict_lazy(stack, model, tiling="gaussian").compute()
    predicted = np.asarray(probs).argmax(axis=0)[1]
    return float((predicted[mask] == classes[mask]).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if absent(DATA):
        return 2
    image = tifffile.imread(DATA / "glass.tif")
    scribbles = tifffile.imread(DATA / "glass_labels.tif")
    classes = np.where(scribbles == 2, 1, 0).astype(np.uint8)  # 1 matrix -> 0, 2 fibre -> 1
    test = held_out(scribbles, args.seed)
    teach = (scribbles > 0) & ~test
    print(f"{int((scribbles > 0).sum())} scribbled pixels: {int(teach.sum())} to fine-tune "
          f"from, {int(test.sum())} held out", flush=True)  # fmt: skip
    before = accuracy(BASE, image, classes, test)
    print(f"before: held-out accuracy {before:.4f} ({BASE})", flush=True)
    config = TrainConfig(
        name="glass-fibre-ft", target="semantic", steps=args.steps, patch=96, batch_size=8,
        lr=5e-4, val_fraction=0.0, val_every=args.steps, seed=args.seed,
    )  # fmt: skip
    stack = np.stack([image] * 3)
    labels = np.stack([classes] * 3)
    reviewed = np.stack([teach] * 3).astype(np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = train(stack, labels, reviewed, out=Path(tmp) / "glass-fibre-ft", config=config,
                       base_model=BUILTIN_DIR / BASE, class_names=["matrix", "fibre", "pore"],
                       register=False)  # fmt: skip
        seconds = time.perf_counter() - start
        after = accuracy(result.path, image, classes, test)
    print(f"after: held-out accuracy {after:.4f} ({result.steps} steps, {seconds:.0f} s)")
    print(f"change: {after - before:+.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
