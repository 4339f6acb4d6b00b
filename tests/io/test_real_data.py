"""Real images from ../shared/data (skipped with a reason when that folder is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stratoseg.io import open_volume, write_tiff
from stratoseg.workspace import create_workspace

pytestmark = pytest.mark.shared_data

CASES = [
    ("isbi2012/train-volume.tif", (30, 512, 512), "uint8"),
    ("isbi2012/train-labels.tif", (30, 512, 512), "uint8"),
    ("fibsem-medulla-250/groundtruth.tif", (250, 250, 250), "uint16"),
    ("ct-sand/sand.tif", (100, 200, 200), "uint8"),
    ("ct-fibre-slices/glass.tif", (182, 190), None),
]


@pytest.mark.parametrize(("name", "shape", "dtype"), CASES)
def test_real_files_open_lazily_with_their_shapes(
    shared_data: Path, name: str, shape: tuple[int, ...], dtype: str | None
) -> None:
    vol = open_volume(shared_data / name)
    assert vol.shape == shape
    if dtype:
        assert vol.dtype == np.dtype(dtype)
    middle = vol.data[shape[0] // 2].compute()  # one slice (or row) only
    assert middle.shape == shape[1:]


def test_real_tomogram_round_trips_through_a_workspace(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "ct-sand" / "sand.tif"
    with create_workspace(tmp_path / "sand.zarr", src, voxel_size=1.0) as ws:
        np.testing.assert_array_equal(
            ws.image().data[40:60].compute(), open_volume(src).data[40:60].compute()
        )
        assert ws.label_names() == ["segmentation"]


def test_real_instance_labels_keep_their_ids(shared_data: Path, tmp_path: Path) -> None:
    gt = open_volume(shared_data / "fibsem-medulla-250" / "groundtruth.tif")
    crop = gt.data[:64, :64, :64]
    raw = open_volume(shared_data / "fibsem-medulla-250" / "raw.tif").data[:64, :64, :64]
    write_tiff(raw, tmp_path / "raw-crop.tif")
    with create_workspace(
        tmp_path / "em.zarr",
        tmp_path / "raw-crop.tif",
        labels=None,
        label_images={"groundtruth": crop},
    ) as ws:
        stored = ws.labels("groundtruth")[...]
    np.testing.assert_array_equal(stored, crop.compute())
    assert len(np.unique(stored)) > 10
