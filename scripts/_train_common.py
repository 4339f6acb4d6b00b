"""Shared steps of the scripts that train and measure the built-in models."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import torch

from stratoseg.training import TrainConfig

#: ``../shared/data``: the real images with ground truth.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def hardware() -> str:
    """What trained the model, for the card's provenance: the GPU's name, or the CPU cores."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU, {len(os.sched_getaffinity(0))} cores, torch {torch.__version__}"


def absent(folder: Path) -> bool:
    """Say so on stderr when the data ``folder`` is absent (the script then exits 2)."""
    if folder.is_dir():
        return False
    print(f"the data folder {folder} is absent", file=sys.stderr)
    return True


def config_from(args: argparse.Namespace, name: str, **fields: Any) -> TrainConfig:
    """The training settings the 2-D scripts share (128² patches, 8 a step, AdamW at 2e-3,
    10 % held out for validation every 250 steps, no early stop), the run's budget, loss,
    weights, rare share and seed from ``args``, and ``fields`` on top."""
    settings: dict[str, Any] = {
        "name": name, "patch": 128, "batch_size": 8, "lr": 2e-3, "val_fraction": 0.1,
        "val_every": 250, "patience": None, "steps": args.steps, "minutes": args.minutes,
        "loss": args.loss, "weights": args.weights, "rare_share": args.rare_share,
        "seed": args.seed,
    }  # fmt: skip
    return TrainConfig(**{**settings, **fields})


def print_validation(progress: Any) -> None:
    """A training progress callback: one line per validation."""
    if progress.validation:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in progress.validation.items())
        print(f"step {progress.step} ({progress.seconds:.0f} s): loss {progress.loss:.4f}, "
              f"{shown}", flush=True)  # fmt: skip


def ship(model: Any, card: Any, out: Path) -> Path:
    """Write the package to ``out``, replacing what is there, and say where and how big."""
    from stratoseg.models import read_card, save_package

    if out.exists():
        shutil.rmtree(out)
    save_package(model, card, out)
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {out} ({size / 1e6:.1f} MB); card: {read_card(out).name}")
    return out


def fresh_provenance(card: Any, **extra: Any) -> dict[str, Any]:
    """The card's provenance for a network trained from a new initial package: without the
    ``parent`` that :func:`stratoseg.training.train` records for a base model (here a
    temporary file of the script), with ``extra`` added."""
    kept = {k: v for k, v in card.provenance.items() if k != "parent"}
    return {**kept, "initialised": "a new network (seeded), not fine-tuned", **extra}


def initial_package(
    out: Path, name: str, config: Any, classes: list[str], *,
    channels: list[dict[str, Any]] | None = None,
    normalisation: dict[str, Any] | None = None, seed: int = 0,
) -> Path:  # fmt: skip
    """A seeded new network saved at ``out`` with the card a script needs (its input channels
    and normalisation; default the image alone, percentile), to train from as a base model:
    ``train()`` builds new networks with the image as the only channel and percentiles."""
    from stratoseg.models import ModelCard, build_model, save_package

    card = ModelCard.model_validate({
        "name": name, "architecture": {"kind": "unet", "config": config},
        "input": {"channels": channels or [{"source": "image"}],
                  "normalisation": normalisation or {"kind": "percentile"}},
        "classes": [{"name": n} for n in classes], "receptive_field": config.receptive_field,
    })  # fmt: skip
    torch.manual_seed(seed)
    return save_package(build_model(config), card, out)
