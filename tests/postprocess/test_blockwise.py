"""Block-wise post-processing equals the whole-array result where objects fit in the halo."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from stratoseg.postprocess import postprocess
from stratoseg.postprocess._blockwise import postprocess_blockwise


def _balls(shape: tuple[int, ...], n: int, r: float, seed: int) -> np.ndarray:
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


def _probs(truth: np.ndarray, seed: int) -> np.ndarray:
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


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` and ``b`` are the same labelling up to renumbering (0 stays 0)."""
    if not ((a == 0) == (b == 0)).all():
        return False
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    return len(pairs.T) == len(np.unique(a)) == len(np.unique(b))


@pytest.mark.parametrize(
    ("shape", "block", "method", "params"),
    [
        ((40, 64, 64), (16, 32, 32), "threshold", {}),
        ((40, 64, 64), (16, 32, 32), "watershed", {}),
        ((40, 64, 64), (20, 24, 40), "distance-watershed", {"h": 1.0}),
        ((96, 96), (32, 40), "watershed", {}),
        ((96, 96), (32, 32), "map", {}),
        ((40, 64, 64), (16, 32, 32), "map", {"instances": True, "classes": [0, 1, 2]}),
    ],
)  # fmt: skip
def test_blockwise_equals_whole_array(
    shape: tuple[int, ...], block: tuple[int, ...], method: str, params: dict, tmp_path
) -> None:
    truth = _balls(shape, 40 if len(shape) == 3 else 25, 6.0, seed=3)
    z = _probs(truth, seed=4)
    whole = postprocess(z, method, **params)
    out = zarr.create_array(tmp_path / "out.zarr", shape=shape, chunks=block, dtype=np.int32)
    n = postprocess_blockwise(z, method, out=out, block=block, halo=14, **params)
    got = np.asarray(out[...])
    if method == "map" and not params:
        assert (got == whole).all()
        return
    assert n == len(np.unique(whole)) - 1
    assert _same_partition(got, whole)
    # objects do cross the block faces: stitching was needed
    assert len(np.unique(_pieces(got, block))) > len(np.unique(got))


def _pieces(labels: np.ndarray, block: tuple[int, ...]) -> np.ndarray:
    """Labels made unique per block (what no stitching would give)."""
    idx = np.indices(labels.shape)
    key = sum((i // b) * 1000**k for k, (i, b) in enumerate(zip(idx, block, strict=True)))
    return np.where(labels > 0, labels.astype(np.int64) * 10**9 + key, 0)


def test_a_small_halo_cuts_objects_but_stays_consistent(tmp_path) -> None:
    truth = _balls((64, 64), 12, 8.0, seed=1)
    z = _probs(truth, seed=2)
    out = np.zeros((64, 64), np.int32)
    postprocess_blockwise(z, "threshold", out=out, block=(32, 32), halo=2)
    assert out.max() >= 1
    assert set(np.unique(out)) == set(range(out.max() + 1))  # consecutive ids


def test_bad_blockwise_arguments() -> None:
    z = np.zeros((3, 8, 8), np.float32)
    with pytest.raises(ValueError, match="out has shape"):
        postprocess_blockwise(z, "map", out=np.zeros((4, 4)), block=(4, 4), halo=1)
    with pytest.raises(ValueError, match="halo must be at least 1"):
        postprocess_blockwise(z, "threshold", out=np.zeros((8, 8), int), block=(4, 4), halo=0)
    with pytest.raises(ValueError, match="method must be one of"):
        postprocess_blockwise(z, "x", out=np.zeros((8, 8)), block=(4, 4), halo=1)
