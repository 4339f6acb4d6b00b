"""Block-wise post-processing equals the whole-array result where objects fit in the halo."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from _postprocess_cases import balls, probabilities, same_partition

from stratoseg.postprocess import postprocess
from stratoseg.postprocess._blockwise import postprocess_blockwise


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
    truth = balls(shape, 40 if len(shape) == 3 else 25, 6.0, seed=3)
    z = probabilities(truth, seed=4)
    whole = postprocess(z, method, **params)
    out = zarr.create_array(tmp_path / "out.zarr", shape=shape, chunks=block, dtype=np.int32)
    n = postprocess_blockwise(z, method, out=out, block=block, halo=14, **params)
    got = np.asarray(out[...])
    if method == "map" and not params:
        assert (got == whole).all()
        return
    assert n == len(np.unique(whole)) - 1
    assert same_partition(got, whole)
    # objects do cross the block faces: stitching was needed
    assert len(np.unique(_pieces(got, block))) > len(np.unique(got))


def _pieces(labels: np.ndarray, block: tuple[int, ...]) -> np.ndarray:
    """Labels made unique per block (what no stitching would give)."""
    idx = np.indices(labels.shape)
    key = sum((i // b) * 1000**k for k, (i, b) in enumerate(zip(idx, block, strict=True)))
    return np.where(labels > 0, labels.astype(np.int64) * 10**9 + key, 0)


def test_a_small_halo_cuts_objects_but_stays_consistent(tmp_path) -> None:
    truth = balls((64, 64), 12, 8.0, seed=1)
    z = probabilities(truth, seed=2)
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
