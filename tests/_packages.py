"""Untrained model packages made in a moment, for tests of arguments and error paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from stratoseg.models import ModelCard, UNetConfig, build_model, save_package


def untrained_package(
    d: Path, name: str, norm: str = "minmax", *, classes: int = 2, **config: Any
) -> Path:
    """An untrained 1-channel package with ``classes`` classes (c0, c1, ...), 4 base filters,
    written to ``d/NAME.zip``; ``config`` sets the other :class:`UNetConfig` fields (its
    ``spatial_dims`` and ``depth`` are required)."""
    cfg = UNetConfig(in_channels=1, out_channels=classes, base_filters=4, **config)
    torch.manual_seed(0)
    card = ModelCard(
        name=name,
        architecture={"kind": "unet", "config": cfg},
        input={"channels": [{"source": "image"}], "normalisation": {"kind": norm}},
        classes=[{"name": f"c{i}"} for i in range(classes)],
        receptive_field=cfg.receptive_field,
    )
    return save_package(build_model(cfg).eval(), card, d / f"{name}.zip")
