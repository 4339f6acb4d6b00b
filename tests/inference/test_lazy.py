"""``predict_lazy``: the same blocks as the batch run, computed only where looked at."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import tifffile

import stratoseg.inference._lazy as lazy_module
from stratoseg.inference import predict_lazy, segment_workspace
from stratoseg.synthetic import make_composite
from stratoseg.workspace import Workspace, create_workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    volume = np.asarray(make_composite((8, 72, 64), seed=3).image)
    tifffile.imwrite(tmp_path / "v.tif", volume)
    return create_workspace(tmp_path / "ws.zarr", tmp_path / "v.tif", chunks=(4, 32, 32))


@pytest.mark.parametrize("tiling", ["crop", "stratified"])
def test_lazy_equals_the_batch_run(workspace: Workspace, tiny_model: Path, tiling: str) -> None:
    kwargs = {"tiling": tiling, "block": (4, 32, 32), "window": 32, "halo": 8, "device": "cpu"}
    with workspace as ws:
        probs = predict_lazy(ws, tiny_model, **kwargs)
        assert isinstance(probs, da.Array)
        assert probs.shape == (3, 8, 72, 64)
        assert probs.dtype == np.float32
        assert probs.chunks[1:] == ((4, 4), (32, 32, 8), (32, 32))
        lazy = probs.compute()
        segment_workspace(ws, tiny_model, run="batch", labels="seg", **kwargs)
        stored = np.asarray(ws.array("predictions/batch")[...])
        np.testing.assert_array_equal(np.round(np.clip(lazy, 0, 1) * 255).astype(np.uint8), stored)
        np.testing.assert_array_equal(np.asarray(ws.labels("seg")[...]), lazy.argmax(0))
        np.testing.assert_allclose(lazy.sum(0), 1.0, atol=1e-5)


def test_a_slice_computes_only_the_blocks_under_it(
    workspace: Workspace, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    regions: list[tuple[slice, ...]] = []
    real = lazy_module.predict_block

    def counting(region: tuple[slice, ...], *args: object, **kwargs: object) -> np.ndarray:
        regions.append(region)
        return real(region, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lazy_module, "predict_block", counting)
    with workspace as ws:
        probs = predict_lazy(ws, tiny_model, block=(4, 32, 32), device="cpu")
        assert regions == []  # nothing runs before a compute
        labels = probs[:, 5].argmax(axis=0).compute()
    assert labels.shape == (72, 64)
    assert len(regions) == 6  # the 3 x 2 blocks of z 4-8, not the 12 of the volume
    assert all(r[0] == slice(4, 8) for r in regions)


def test_an_array_source_and_a_small_image_pad(tiny_model: Path) -> None:
    """A 2-D image smaller than one window is edge-extended, not refused."""
    image = np.asarray(make_composite((1, 20, 24), seed=4).image)[0]
    probs = predict_lazy(image, tiny_model, device="cpu")
    assert probs.shape == (3, 20, 24)
    out = probs.compute()
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out.sum(0), 1.0, atol=1e-5)
