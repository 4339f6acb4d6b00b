"""TIFF export: values, metadata, several files in one pass, nothing left on failure."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest

from stratoseg.io import open_volume, write_tiff, write_tiffs


@pytest.mark.parametrize(
    "dtype",
    ["bool", "int8", "uint8", "uint16", "int32", "uint32", "int64", "uint64", "float16", "float32",
     "float64"],
)  # fmt: skip
def test_dtypes_and_voxel_size_survive(tmp_path: Path, dtype: str) -> None:
    a = (np.arange(5 * 12 * 10).reshape(5, 12, 10) % 7).astype(dtype)
    write_tiff(
        da.from_array(a, chunks=(2, 12, 10)),
        tmp_path / "a.tif",
        voxel_size=(2.0, 0.5, 0.25),
        unit="micrometer",
    )
    vol = open_volume(tmp_path / "a.tif")
    expect = a.astype(np.uint8) if dtype == "bool" else a
    np.testing.assert_array_equal(vol.data.compute(), expect)
    assert vol.voxel_size == pytest.approx((2.0, 0.5, 0.25))
    assert vol.unit == "micrometer"


def test_channels_and_2d(tmp_path: Path) -> None:
    a = np.random.default_rng(0).random((3, 4, 8, 9)).astype(np.float32)
    write_tiff(a, tmp_path / "c.tif")
    vol = open_volume(tmp_path / "c.tif")
    assert vol.axes == "czyx"
    np.testing.assert_array_equal(vol.data.compute(), a)
    write_tiff(a[0, 0], tmp_path / "p.tif")
    assert open_volume(tmp_path / "p.tif").shape == (8, 9)


def test_several_files_in_one_pass_render_each_block_once(tmp_path: Path) -> None:
    calls = []

    def render(block: np.ndarray) -> np.ndarray:
        calls.append(1)
        return np.stack([block, block % 3])

    base = da.from_array(
        np.arange(6 * 16 * 16, dtype=np.uint16).reshape(6, 16, 16), chunks=(2, 16, 16)
    )
    both = base.map_blocks(
        render, new_axis=0, chunks=((2,), *base.chunks), meta=np.empty((0, 0, 0, 0), np.uint16)
    )
    write_tiffs([both[0], both[1]], [tmp_path / "img.tif", tmp_path / "img_gt.tif"])
    assert len(calls) == 3  # three slabs, each rendered once for both files
    np.testing.assert_array_equal(
        open_volume(tmp_path / "img_gt.tif").data.compute(), base.compute() % 3
    )


def test_a_failure_leaves_no_file(tmp_path: Path) -> None:
    def boom(block: np.ndarray, block_info: dict | None = None) -> np.ndarray:
        if block_info and block_info[0]["chunk-location"][0] == 2:
            raise RuntimeError("disk on fire")
        return block

    a = da.zeros((6, 8, 8), chunks=(2, 8, 8), dtype=np.uint8).map_blocks(boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_tiffs([a, a], [tmp_path / "a.tif", tmp_path / "b.tif"])
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite_and_mismatched_shapes(tmp_path: Path) -> None:
    (tmp_path / "x.tif").write_bytes(b"old")
    with pytest.raises(FileExistsError, match="already exists"):
        write_tiff(np.zeros((4, 4), np.uint8), tmp_path / "x.tif")
    assert (tmp_path / "x.tif").read_bytes() == b"old"
    with pytest.raises(ValueError, match="one shape"):
        write_tiffs([np.zeros((4, 4)), np.zeros((4, 5))], [tmp_path / "a.tif", tmp_path / "b.tif"])
    with pytest.raises(TypeError, match="complex"):
        write_tiff(np.zeros((4, 4), np.complex64), tmp_path / "c.tif")
