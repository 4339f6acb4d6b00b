"""The fine-tuning scenario of ``benchmarks/bench_finetune.py``, smaller: a model trained on one
composite does poorly on a visibly different one; corrections on 5 slices fix it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stratoseg.inference import segment_workspace
from stratoseg.io import Volume
from stratoseg.metrics import semantic_scores
from stratoseg.models import UNetConfig
from stratoseg.synthetic import make_composite
from stratoseg.training import TrainConfig, train, train_workspace
from stratoseg.workspace import Workspace, create_workspace

ARCH = UNetConfig(spatial_dims=2, in_channels=1, out_channels=3, depth=2, base_filters=8)
OTHER_SCAN = {"seed": 20, "fibre_radius": 3.0, "levels": (110, 150, 60), "noise_std": 12.0,
              "ring_amplitude": 25.0}  # fmt: skip
REVIEWED = [2, 6, 10, 14, 18]


def held_out_jaccard(ws: Workspace, model: Path, truth: np.ndarray, run: str) -> float:
    segment_workspace(ws, model, run=run, labels=run, overwrite=True, device="cpu")
    pred = np.asarray(ws.labels(run)[...])
    held = [z for z in range(truth.shape[0]) if z not in REVIEWED]
    return semantic_scores(pred[held], truth[held], n_classes=3).mean_jaccard


def test_corrections_on_five_slices_make_a_better_model(tmp_path: Path) -> None:
    base_scan = make_composite((16, 96, 96), seed=10)
    config = TrainConfig(name="base", architecture=ARCH, steps=150, patch=64, weights="balance",
                         val_fraction=0.0, lr=3e-3)  # fmt: skip
    base = train(np.asarray(base_scan.image), np.asarray(base_scan.labels),
                 np.ones((16, 96, 96), np.uint8), out=tmp_path / "base", config=config,
                 register=False).path  # fmt: skip
    other = make_composite((20, 96, 96), **OTHER_SCAN)
    truth = np.asarray(other.labels)
    vol = Volume(other.image, "zyx", (1.0, 1.0, 1.0), None, Path("scan"), "synthetic")
    with create_workspace(tmp_path / "scan.zarr", vol, labels=None) as ws:
        before = held_out_jaccard(ws, base, truth, "before")
        corrected = ws.create_labels("corrected", dtype=np.uint8)
        for z in REVIEWED:
            corrected[z] = truth[z]
            ws.reviewed("corrected")[z] = 1
        tuned = train_workspace(ws, "corrected", out=tmp_path / "tuned", base_model=base,
                                register=False, config=TrainConfig(
                                    name="tuned", steps=150, patch=64, val_every=25))  # fmt: skip
        after = held_out_jaccard(ws, tuned.path, truth, "after")
    print(f"held-out mean Jaccard {before:.3f} -> {after:.3f}")
    assert before < 0.75  # the other scan defeats the base model
    assert after >= before + 0.10
