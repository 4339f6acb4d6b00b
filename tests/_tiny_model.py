"""A tiny U-Net trained in a few seconds on a synthetic composite, for inference and GUI tests.

Training proper is issue 6's; this is the smallest loop that gives a model which has learnt
something (the tests check it beats chance), so inference is tested on a real network.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from stratoseg.models import ModelCard, UNetConfig, build_model, save_package
from stratoseg.synthetic import make_composite

CLASSES = ["matrix", "fibre", "pore"]


def train_tiny_model(
    path: Path, *, name: str = "tiny-composite", steps: int = 120, seed: int = 0
) -> Path:
    """Train a 2-D U-Net (depth 2, 8 filters) on slices of a synthetic composite; save it.

    Returns the package path (``path`` is a ``.zip`` or a folder).
    """
    torch.manual_seed(seed)
    vol = make_composite((16, 96, 96), seed=seed)
    image = np.asarray(vol.image, dtype=np.float32)
    labels = np.asarray(vol.labels).astype(np.int64)
    lo, hi = float(image.min()), float(image.max())
    image = (image - lo) / (hi - lo)
    cfg = UNetConfig(spatial_dims=2, in_channels=1, out_channels=3, depth=2, base_filters=8)
    model = build_model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(seed)
    counts = np.bincount(labels.ravel(), minlength=3).astype(np.float64)
    weight = torch.tensor(counts.sum() / (3 * np.maximum(counts, 1)), dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    model.train()
    for _ in range(steps):
        z = rng.integers(0, image.shape[0], size=8)
        y0, x0 = rng.integers(0, image.shape[1] - 48, size=2)
        x = torch.from_numpy(image[z, None, y0 : y0 + 48, x0 : x0 + 48].copy())
        t = torch.from_numpy(labels[z, y0 : y0 + 48, x0 : x0 + 48].copy())
        opt.zero_grad()
        loss = loss_fn(model(x), t)
        loss.backward()
        opt.step()
    model.eval()
    card = ModelCard(
        name=name,
        description="tiny test model: 2-D U-Net trained for seconds on a synthetic composite",
        architecture={"kind": "unet", "config": cfg},
        input={"channels": [{"source": "image"}], "normalisation": {"kind": "minmax"}},
        classes=[{"name": c} for c in CLASSES],
        receptive_field=cfg.receptive_field,
        provenance={"steps": steps, "data": "make_composite((16, 96, 96), seed)"},
    )
    return save_package(model, card, path)
