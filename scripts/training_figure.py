"""Draw docs/images/training.png: one image of touching cells, the training targets made from
its instances, the weight maps of each, and where each loss pushes an imperfect prediction.

Run: python scripts/training_figure.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from _figures import classes, grey, heat, instances, sheet
from scipy import ndimage as ndi

from stratoseg.synthetic import make_cells
from stratoseg.training import augment_touching, make_loss, make_target, make_weights

OUT = Path(__file__).resolve().parents[1] / "docs" / "images" / "training.png"
SIZE = 200


def prediction(h: np.ndarray, seed: int = 0) -> torch.Tensor:
    """Logits of a plausible but imperfect network: the one-hot target blurred, shifted by a
    voxel and noised (so every loss has something to say)."""
    rng = np.random.default_rng(seed)
    onehot = np.stack([(h == k).astype(np.float64) for k in range(int(h.max()) + 1)])
    smooth = np.stack([ndi.gaussian_filter(np.roll(c, 1, axis=1), 1.5) for c in onehot])
    logits = 4 * smooth + rng.normal(0, 0.6, smooth.shape)
    return torch.tensor(logits[None], dtype=torch.float64)


def pull(name: str, h: np.ndarray, logits: torch.Tensor) -> tuple[float, np.ndarray]:
    """The loss value and the size of its gradient at every pixel."""
    x = logits.clone().requires_grad_(True)
    target = torch.from_numpy(h.astype(np.int64))[None]
    mask = torch.ones_like(target, dtype=torch.float64)
    value = make_loss(name)(x, target, mask, None)
    value.backward()
    assert x.grad is not None
    return float(value.detach()), x.grad[0].norm(dim=0).numpy()


def main() -> None:
    cells = make_cells((96, 96), seed=4, radius=9.0, cell_fraction=0.45)
    image, g = np.asarray(cells.image), np.asarray(cells.labels).astype(np.int32)
    touching = make_target("touching", g, k=1)
    gap = make_target("touching-gap", g, k=1, radius=3)
    # Algorithm 1 takes a binary mask in which touching objects are one pixel apart
    apart = (g > 0) & ~(ndi.grey_dilation(g, size=3) > g)
    algorithm1 = augment_touching(apart.astype(np.uint8))
    boundary = make_target("boundary", g)
    panels = [
        ("image", grey(image, SIZE)),
        ("instances g", instances(g, SIZE)),
        ("touching (eq 4.1, k=1)", classes(touching, SIZE)),
        ("touching + gap (5.2.1)", classes(gap, SIZE)),
        ("Algorithm 1 (mask, 1-px gaps)", classes(algorithm1, SIZE)),
        ("boundary (EM)", classes(boundary, SIZE)),
    ]
    for name, label, extra in (
        ("balance", "class balance N / n_l", {}),
        ("unet", "U-Net (eq 2.7)", {"instances": g}),
        ("dwm", "DWM (eq 3.2)", {"beta": 10.0}),
        ("saw", "SAW (eqs 3.3-3.4)", {}),
        ("w3", "W3 (eq 4.3)", {"beta": 10.0}),
    ):
        w = make_weights(name, touching, **extra)
        panels.append((f"{label}, max {w.max():.1f}", heat(np.log1p(w), SIZE)))
    panels.append(("prediction (MAP)", classes(prediction(touching)[0].argmax(0).numpy(), SIZE)))
    logits = prediction(touching)
    for name in ("ce", "focal", "jaccard", "jaccard2", "dice", "ce-youden"):
        value, grad = pull(name, touching, logits)
        panels.append((f"|grad| {name} = {value:.3f}", heat(grad, SIZE)))
    out = sheet(panels, cols=6)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    out.save(OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
