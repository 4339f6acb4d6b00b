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
    path: Path,
    *,
    name: str = "tiny-composite",
    steps: int = 120,
    seed: int = 0,
    config: UNetConfig | None = None,
    patch: int = 48,
    batch: int = 8,
) -> Path:
    """Train a U-Net on patches of a synthetic composite (3 classes); save its package.

    The default ``config`` is the tests' 2-D network (depth 2, 8 filters); a 3-D ``config``
    trains on cubes of ``patch`` voxels, a 2.5D one on ``context`` slices stacked as channels
    (predicting the central one). Returns the package path (``path``: a ``.zip`` or a folder).
    """
    torch.manual_seed(seed)
    cfg = config or UNetConfig(
        spatial_dims=2, in_channels=1, out_channels=3, depth=2, base_filters=8
    )
    depth = patch if cfg.spatial_dims == 3 else cfg.context
    vol = make_composite((max(16, depth + 8), 2 * patch, 2 * patch), seed=seed)
    image = np.asarray(vol.image, dtype=np.float32)
    labels = np.asarray(vol.labels).astype(np.int64)
    lo, hi = float(image.min()), float(image.max())
    image = (image - lo) / (hi - lo)
    model = build_model(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(seed)
    counts = np.bincount(labels.ravel(), minlength=3).astype(np.float64)
    weight = torch.tensor(counts.sum() / (3 * np.maximum(counts, 1)), dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    model.train()
    for _ in range(steps):
        if cfg.spatial_dims == 2 and cfg.context == 1:  # slices, one window place per batch
            z = rng.integers(0, image.shape[0], size=batch)
            y0, x0 = rng.integers(0, image.shape[1] - patch, size=2)
            x = torch.from_numpy(image[z, None, y0 : y0 + patch, x0 : x0 + patch].copy())
            t = torch.from_numpy(labels[z, y0 : y0 + patch, x0 : x0 + patch].copy())
        else:  # cubes (3-D) or slabs of `context` slices (2.5D), each placed at random
            xs, ts = [], []
            for _ in range(batch):
                z = int(rng.integers(0, image.shape[0] - depth + 1))
                y0, x0 = (int(v) for v in rng.integers(0, image.shape[1] - patch, size=2))
                crop = (slice(z, z + depth), slice(y0, y0 + patch), slice(x0, x0 + patch))
                xs.append(image[crop])
                ts.append(labels[crop] if cfg.spatial_dims == 3 else labels[crop][depth // 2])
            x = torch.from_numpy(np.stack(xs))
            x = x[:, None] if cfg.spatial_dims == 3 else x
            t = torch.from_numpy(np.stack(ts))
        opt.zero_grad()
        loss = loss_fn(model(x), t)
        loss.backward()
        opt.step()
    model.eval()
    card = ModelCard(
        name=name,
        description=f"tiny test model: {cfg.spatial_dims}-D U-Net trained for seconds on a "
        "synthetic composite",
        architecture={"kind": "unet", "config": cfg},
        input={"channels": [{"source": "image"}], "normalisation": {"kind": "minmax"}},
        classes=[{"name": c} for c in CLASSES],
        receptive_field=cfg.receptive_field,
        provenance={"steps": steps, "data": f"make_composite(seed={seed}), patches of {patch}"},
    )
    return save_package(model, card, path)
