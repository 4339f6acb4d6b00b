"""Probability maps as a network would give them, made from known classes."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

__all__ = ["probability_map"]


def probability_map(
    classes: Any,
    n_classes: int,
    *,
    blur: float = 2.0,
    noise: float = 0.2,
    noise_scale: float = 2.0,
    sharpness: float = 4.0,
    seed: int = 0,
) -> np.ndarray:
    """Class probabilities ``(n_classes, *shape)`` that blur and perturb a known class map.

    Each class's indicator is smoothed by a Gaussian of sigma ``blur`` (a network's soft
    borders; thin classes such as a touching band grow dim), smooth Gaussian noise (sigma
    ``noise_scale``, standard deviation about ``noise``) is added to each, and a softmax with
    ``sharpness`` makes them probabilities. Used to test post-processing on real ground truth
    without a network.

    Examples
    --------
    >>> z = probability_map(np.array([[0, 0, 1, 1]]), 2, blur=0.5, noise=0.0)
    >>> z.shape, bool(np.allclose(z.sum(axis=0), 1)), z.argmax(axis=0).tolist()
    ((2, 1, 4), True, [[0, 0, 1, 1]])
    """
    h = np.asarray(classes)
    if not np.issubdtype(h.dtype, np.integer) or h.ndim not in (2, 3):
        raise ValueError(f"classes must be a 2-D or 3-D integer array, got {h.dtype} {h.shape}")
    if int(n_classes) < 2 or (h.size and (h.min() < 0 or h.max() >= n_classes)):
        raise ValueError(f"n_classes must be >= 2 and cover the classes, got {n_classes}")
    rng = np.random.default_rng(seed)
    z = np.stack([ndi.gaussian_filter((h == c).astype(np.float32), blur)
                  for c in range(int(n_classes))])  # fmt: skip
    if noise > 0:
        for c in range(len(z)):
            smooth = ndi.gaussian_filter(rng.normal(0, 1, h.shape).astype(np.float32), noise_scale)
            # smoothing shrinks the noise by about (2 sqrt(pi) sigma)^(d/2): undo it
            z[c] += noise * smooth * (2 * np.sqrt(np.pi) * noise_scale) ** (h.ndim / 2)
    z = np.exp(sharpness * (z - z.max(axis=0)))
    return z / z.sum(axis=0)
