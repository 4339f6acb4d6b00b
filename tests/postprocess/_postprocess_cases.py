"""Test cases shared by the post-processing tests: touching balls and their probabilities."""

from __future__ import annotations

import numpy as np


def balls(shape: tuple[int, ...], n: int, r: float, seed: int) -> np.ndarray:
    """Touching balls: each voxel within ``r`` of a centre goes to the nearest centre."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 1, (n, len(shape))) * np.array(shape)
    grid = np.indices(shape).reshape(len(shape), -1).T.astype(np.float32)
    best = np.full(len(grid), np.inf, np.float32)
    owner = np.zeros(len(grid), np.int32)
    for i, c in enumerate(centres, start=1):
        d = ((grid - c) ** 2).sum(axis=1)
        closer = d < best
        best[closer], owner[closer] = d[closer], i
    return np.where(best <= r * r, owner, 0).reshape(shape)


def probabilities(truth: np.ndarray, seed: int) -> np.ndarray:
    """background / object / touching probabilities: touching where two objects meet."""
    from scipy import ndimage as ndi

    grown = ndi.grey_dilation(truth, size=3)
    shrunk = -ndi.grey_dilation(-np.where(truth > 0, truth, truth.max() + 1), size=3)
    touching = (truth > 0) & (grown != shrunk)
    h = (truth > 0).astype(np.int64) + touching
    rng = np.random.default_rng(seed)
    z = np.stack([(h == c).astype(np.float32) for c in range(3)]) * 0.8 + 0.1
    z += rng.normal(0, 0.05, z.shape).astype(np.float32)
    return (z / z.sum(axis=0)).clip(0, 1)


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` and ``b`` are the same labelling up to renumbering (0 stays 0)."""
    if not ((a == 0) == (b == 0)).all():
        return False
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(pairs.T) == len(np.unique(a)) == len(np.unique(b))
