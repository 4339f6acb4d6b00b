"""Block-wise enhancement equals the whole-array result; channels land in the workspace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from stratoseg.enhance import EnhanceParams, enhance_array, enhance_volume, write_enhanced_channel
from stratoseg.synthetic import make_composite
from stratoseg.workspace import create_workspace


@pytest.fixture(scope="module")
def volume() -> np.ndarray:
    return np.asarray(make_composite((24, 48, 56), seed=3).image.compute())


@pytest.mark.parametrize("method", ["binary", "grayscale", "projected", "geodesic"])
@pytest.mark.parametrize("mode", ["2d", "3d"])
@pytest.mark.parametrize(
    ("chunks", "voxel"), [((8, 16, 16), (1.0, 1.0, 1.0)), ((12, 20, 56), (2.0, 0.5, 0.5))]
)
def test_blockwise_equals_whole(volume, method, mode, chunks, voxel) -> None:
    p = EnhanceParams(method=method, mode=mode, max_distance=3.0, levels=5, gamma=2.0)
    whole = enhance_array(volume, p, voxel_size=voxel)
    blocks = enhance_volume(volume, p, voxel_size=voxel, chunks=chunks)
    assert blocks.numblocks != (1, 1, 1)
    assert float(np.abs(blocks.compute() - whole).max()) < 1e-5


def test_blockwise_in_2d_images() -> None:
    img = np.asarray(make_composite((96, 80), seed=1).image.compute())
    p = EnhanceParams(method="geodesic", max_distance=4.0)
    np.testing.assert_allclose(
        enhance_volume(img, p, chunks=(32, 30)).compute(), enhance_array(img, p), atol=1e-5
    )


def test_unclipped_maps_are_computed_whole(volume) -> None:
    p = EnhanceParams(method="binary")
    out = enhance_volume(volume, p, chunks=8)
    np.testing.assert_allclose(out.compute(), enhance_array(volume, p), atol=1e-5)


def test_channel_written_to_the_workspace(tmp_path: Path, volume) -> None:
    tifffile.imwrite(tmp_path / "v.tif", volume, imagej=True, metadata={"axes": "ZYX"})
    p = EnhanceParams(method="binary", max_distance=5.0)
    seen: list[tuple[int, int]] = []
    with create_workspace(tmp_path / "ws.zarr", tmp_path / "v.tif", chunks=16) as ws:
        arr = write_enhanced_channel(ws, p, progress=lambda d, t: seen.append((d, t)))
        assert ws.channels() == ["binary"]
        np.testing.assert_allclose(arr[...], enhance_array(volume, p), atol=1e-5)
        assert arr.attrs["params"]["enhance"]["max_distance"] == 5.0
        assert "eqs (1), (3), (4)" in arr.attrs["params"]["equation"]
    assert seen
    assert seen[-1][0] == seen[-1][1]


def test_seed_masks_block_by_block(volume) -> None:
    seeds = np.zeros(volume.shape, bool)
    seeds[:, 20:24, 10:50] = True  # e.g. a labelled structure
    p = EnhanceParams(method="geodesic", max_distance=4.0, gamma=3.0)
    whole = enhance_array(volume, p, seeds=seeds)
    blocks = enhance_volume(volume, p, seeds=seeds, chunks=(8, 16, 16)).compute()
    assert float(np.abs(blocks - whole).max()) < 1e-5
    with pytest.raises(ValueError, match="all-zero mask"):
        enhance_volume(volume, p, seeds=np.zeros(volume.shape, bool))
    with pytest.raises(ValueError, match="for the geodesic method"):
        enhance_volume(volume, EnhanceParams(method="binary"), seeds=seeds)


def test_seeds_from_a_workspace_label_image(tmp_path: Path, volume) -> None:
    from stratoseg.cli import main

    tifffile.imwrite(tmp_path / "v.tif", volume, imagej=True, metadata={"axes": "ZYX"})
    seeds = np.zeros(volume.shape, np.uint32)
    seeds[5, 10:12, 10:12] = 3
    with create_workspace(
        tmp_path / "ws.zarr", tmp_path / "v.tif", labels=None, label_images={"marks": seeds}
    ):
        pass
    assert (
        main(
            [
                "enhance",
                str(tmp_path / "ws.zarr"),
                "--method",
                "geodesic",
                "--seeds",
                "marks",
                "--max-distance",
                "5",
            ]
        )
        == 0
    )
    from stratoseg.workspace import Workspace

    with Workspace.open(tmp_path / "ws.zarr") as ws:
        arr = ws.array("channels/geodesic")
        p = EnhanceParams(method="geodesic", max_distance=5.0)
        np.testing.assert_allclose(arr[...], enhance_array(volume, p, seeds=seeds > 0), atol=1e-5)
        assert arr.attrs["params"]["seeds"] == "labels/marks > 0"


def test_default_blocks_group_the_chunks_under_the_budget(volume) -> None:
    import dask.array as da

    from stratoseg._blocks import group_chunks
    from stratoseg.enhance import bytes_per_voxel, halo

    lazy = da.from_array(volume, chunks=(8, 16, 16))
    for method in ("binary", "geodesic"):
        p = EnhanceParams(method=method, max_distance=3.0, gamma=2.0)
        out = enhance_volume(lazy, p)
        block = group_chunks(
            volume.shape,
            (8, 16, 16),
            halo=halo(p, (1.0, 1.0, 1.0)),
            bytes_per_voxel=bytes_per_voxel(p, 3),
        )
        assert out.chunksize == block
        assert out.numblocks != lazy.numblocks  # grouped: fewer, larger blocks
        np.testing.assert_allclose(out.compute(), enhance_array(volume, p), atol=1e-5)
    # a small budget keeps the storage chunks
    small = group_chunks(
        volume.shape, (8, 16, 16), halo=(4, 4, 4), bytes_per_voxel=400.0, budget=2**20
    )
    assert small == (8, 16, 16)
