"""The npe2 reader and the layer data it shares with the widgets (no viewer needed)."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import tifffile
import zarr

from stratoseg.io import open_volume
from stratoseg.napari import get_reader, volume_layer_data, workspace_layer_data
from stratoseg.napari._layers import LIMITS_SAMPLE, _limit_sample, contrast_limits
from stratoseg.workspace import Workspace, create_workspace


def _imagej_tiff(path: Path, data: np.ndarray, *, z: float = 1.5, xy: float = 0.5) -> Path:
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(1 / xy, 1 / xy),
        metadata={"spacing": z, "unit": "um", "axes": "ZYX"},
    )
    return path


@pytest.fixture
def small_tiff(tmp_path: Path) -> Path:
    data = np.arange(20 * 32 * 32, dtype=np.uint32).reshape(20, 32, 32) % 200 + 10
    return _imagej_tiff(tmp_path / "small.tif", data.astype(np.uint8))


@pytest.fixture(scope="module")
def pyramid_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a 3-level pyramid, a channel and an empty label image."""
    folder = tmp_path_factory.mktemp("pyramid")
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (70, 600, 600), dtype=np.uint8)
    src = _imagej_tiff(folder / "big.tif", data, z=1.0, xy=1.0)
    with create_workspace(folder / "big.zarr", src) as ws:
        ws.write_channel("distance", np.ones(ws.spatial_shape, np.float32), sigma=1.0)
    return folder / "big.zarr"


@pytest.mark.parametrize("name", ["missing.tif", "notes.txt", "empty-folder", "broken.tif"])
def test_get_reader_declines_what_it_cannot_read(tmp_path: Path, name: str) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty-folder").mkdir()
    (tmp_path / "broken.tif").write_bytes(b"II*\x00 not really a tiff")
    assert get_reader(str(tmp_path / name)) is None


def test_get_reader_declines_several_paths(small_tiff: Path) -> None:
    assert get_reader([str(small_tiff), str(small_tiff)]) is None


def test_get_reader_reads_no_pixels(small_tiff: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stratoseg.io import _tiff

    def no_read(self: object, key: object) -> np.ndarray:
        raise AssertionError("get_reader read pixel data")

    monkeypatch.setattr(_tiff._TiffPages, "read", no_read)
    assert callable(get_reader(str(small_tiff)))


def test_tiff_gives_one_lazy_image_at_its_voxel_size(small_tiff: Path) -> None:
    reader = get_reader(str(small_tiff))
    assert reader is not None
    layers = reader(str(small_tiff))
    assert len(layers) == 1
    data, kwargs, kind = layers[0]
    assert kind == "image"
    assert isinstance(data, da.Array)
    assert kwargs["scale"] == pytest.approx((1.5, 0.5, 0.5))
    assert kwargs["units"] == ("micrometer",) * 3
    assert kwargs["multiscale"] is False
    assert kwargs["name"] == "small"
    assert kwargs["contrast_limits"] == [10.0, 209.0]
    assert kwargs["metadata"]["stratoseg"]["source"] == str(small_tiff)


def test_single_path_in_a_list_is_accepted(small_tiff: Path) -> None:
    assert get_reader([str(small_tiff)]) is not None


def test_channel_axis_gives_one_layer_per_channel(tmp_path: Path) -> None:
    data = np.stack(
        [np.full((4, 8, 8), 3, np.uint16), np.arange(256, dtype=np.uint16).reshape(4, 8, 8)]
    )
    zarr.save_array(str(tmp_path / "c.zarr"), data)
    vol = open_volume(tmp_path / "c.zarr")
    assert vol.axes == "czyx"
    _, kwargs, _ = volume_layer_data(vol, name="c")
    assert kwargs["channel_axis"] == 0
    assert kwargs["name"] == ["c [0]", "c [1]"]
    assert kwargs["contrast_limits"] == [[3.0, 4.0], [0.0, 255.0]]
    assert kwargs["scale"] == (1.0, 1.0, 1.0)


def test_contrast_limits_sample_a_large_single_level_cheaply() -> None:
    big = da.zeros((400, 4096, 4096), dtype=np.uint16, chunks=(64, 512, 512))
    sample = _limit_sample(big, 3)
    assert sample.size <= LIMITS_SAMPLE
    assert sample.shape[0] == 1


def test_workspace_is_multiscale_with_read_only_labels(pyramid_workspace: Path) -> None:
    reader = get_reader(str(pyramid_workspace))
    assert reader is not None
    layers = reader(str(pyramid_workspace))
    kinds = [(kwargs["name"], kind) for _, kwargs, kind in layers]
    assert kinds == [("big", "image"), ("distance", "image"), ("segmentation", "labels")]

    image, kwargs, _ = layers[0]
    assert kwargs["multiscale"] is True
    assert isinstance(image, list)
    assert len(image) == 3
    assert all(isinstance(level, da.Array) for level in image)
    assert image[0].shape == (70, 600, 600)
    assert image[-1].shape[1:] == (150, 150)
    assert kwargs["scale"] == (1.0, 1.0, 1.0)
    assert kwargs["metadata"]["stratoseg"]["workspace"] == str(pyramid_workspace)

    _, ckwargs, _ = layers[1]
    assert ckwargs["visible"] is False
    assert ckwargs["metadata"]["stratoseg"]["array"] == "channels/distance"

    labels, lkwargs, _ = layers[2]
    assert lkwargs["metadata"]["stratoseg"] == {
        "workspace": str(pyramid_workspace),
        "array": "labels/segmentation/0",
        "role": "labels",
        "name": "segmentation",
    }
    assert lkwargs["multiscale"] is True
    assert [level.shape for level in labels] == [level.shape for level in image]
    assert all(isinstance(level, da.Array) for level in labels)


def test_reader_labels_cannot_be_painted(pyramid_workspace: Path, small_tiff: Path) -> None:
    from napari.layers import Labels

    with create_workspace(small_tiff.with_suffix(".zarr"), small_tiff) as ws:
        ws.labels("segmentation")[5, 3:6, 3:6] = 9  # one level: labels get a halved level
    for path in (pyramid_workspace, small_tiff.with_suffix(".zarr")):
        reader = get_reader(str(path))
        assert reader is not None
        data, kwargs, _ = reader(str(path))[-1]
        layer = Labels(data, **kwargs)
        assert layer.editable is False
        assert tuple(layer.level_shapes[0]) == tuple(data[0].shape)
    assert int(np.asarray(data[0][5, 4, 4])) == 9
    assert data[1].shape == (20, 16, 16)
    # the reader took no lock: a writer may still open the workspace
    with Workspace.open(pyramid_workspace, mode="r+") as ws:
        assert ws.writable


def test_editable_layers_need_a_writable_workspace(pyramid_workspace: Path) -> None:
    ws = Workspace.open(pyramid_workspace, mode="r")
    with pytest.raises(PermissionError, match="mode='r\\+'"):
        workspace_layer_data(ws, editable=True)
    with Workspace.open(pyramid_workspace, mode="r+") as ws:
        data, kwargs, _ = workspace_layer_data(ws, editable=True)[-1]
        assert isinstance(data, zarr.Array)
        assert kwargs["multiscale"] is False


def test_contrast_limits_of_constant_and_float_volumes(tmp_path: Path) -> None:
    const = np.full((3, 8, 8), 7, np.uint8)
    floats = np.linspace(-1, 1, 3 * 8 * 8, dtype=np.float32).reshape(3, 8, 8)
    floats[0, 0, 0] = np.nan
    assert contrast_limits(open_volume(_imagej_tiff(tmp_path / "c.tif", const))) == [7.0, 8.0]
    lo, hi = contrast_limits(open_volume(_imagej_tiff(tmp_path / "f.tif", floats)))
    assert lo > -1
    assert hi == pytest.approx(1.0)
