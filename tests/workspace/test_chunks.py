"""Whole chunks written straight to files: zarr's own bytes, zarr's own rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from zarr.codecs import BloscCodec, ZstdCodec

from stratoseg.workspace._chunks import ChunkWriter


def files(root: Path) -> dict[str, bytes]:
    """Every chunk file under an array folder, by key."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted((root / "c").rglob("*"))
        if p.is_file()
    }


def pair(tmp: Path, **kwargs: Any) -> tuple[zarr.Array, zarr.Array]:
    """Two identical arrays: one written by zarr, one by the ChunkWriter."""
    return tuple(  # type: ignore[return-value]
        zarr.create_array(store=str(tmp / name), **kwargs) for name in ("zarr", "ours")
    )


@pytest.mark.parametrize(
    ("dtype", "compressors"),
    [("uint8", ZstdCodec(level=1)), ("float16", ZstdCodec(level=0)), ("uint16", None)],
)
def test_the_files_are_zarrs_own_bytes(tmp_path: Path, dtype: str, compressors: Any) -> None:
    shape, chunks = (3, 20, 30, 25), (3, 8, 16, 16)  # edge chunks on three axes
    theirs, ours = pair(tmp_path, shape=shape, chunks=chunks, dtype=dtype, fill_value=0,
                        compressors=compressors)  # fmt: skip
    values = (np.random.default_rng(0).random(shape) * 200).astype(dtype)
    values[:, :8, :16, :16] = 0  # a chunk holding only the fill value
    for region in [(slice(None), slice(0, 16), slice(0, 30), slice(0, 25)),
                   (slice(None), slice(16, 20), slice(16, 30), slice(0, 16)),
                   (slice(None), slice(16, 20), slice(0, 16), slice(0, 25)),
                   (slice(None), slice(16, 20), slice(16, 30), slice(16, 25))]:  # fmt: skip
        theirs[region] = values[region]
        writer = ChunkWriter(ours)
        assert writer.direct
        writer.write(region, values[region])
        writer.close()
    assert files(tmp_path / "ours") == files(tmp_path / "zarr")
    assert "c/0/0/0/0" not in files(tmp_path / "ours")  # zarr does not store it either
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "ours"))[...], values)


def test_a_chunk_that_becomes_empty_is_removed(tmp_path: Path) -> None:
    array = zarr.create_array(store=str(tmp_path / "a"), shape=(8, 8), chunks=(4, 8),
                              dtype="uint8", fill_value=0)  # fmt: skip
    writer = ChunkWriter(array)
    writer.write((slice(0, 4), slice(0, 8)), np.ones((4, 8), np.uint8))
    assert array.nchunks_initialized == 1
    writer.write((slice(0, 4), slice(0, 8)), np.zeros((4, 8), np.uint8))
    assert array.nchunks_initialized == 0
    assert not list((tmp_path / "a").rglob("*.tmp"))


def test_other_layouts_go_through_zarr(tmp_path: Path) -> None:
    array = zarr.create_array(store=str(tmp_path / "b"), shape=(8, 8), chunks=(4, 4),
                              dtype="uint8", compressors=BloscCodec())  # fmt: skip
    writer = ChunkWriter(array)
    assert not writer.direct
    values = np.arange(64, dtype=np.uint8).reshape(8, 8)
    writer.write((slice(4, 8), slice(0, 8)), values[4:])
    np.testing.assert_array_equal(array[4:], values[4:])


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ((slice(2, 6), slice(0, 8)), "is not made of whole chunks"),
        ((slice(0, 4),), "must give all 2 axes"),
    ],
)
def test_regions_that_cut_chunks_are_refused(
    tmp_path: Path, region: tuple[slice, ...], message: str
) -> None:
    array = zarr.create_array(store=str(tmp_path / "c"), shape=(8, 8), chunks=(4, 4),
                              dtype="uint8")  # fmt: skip
    with pytest.raises(ValueError, match=message):
        ChunkWriter(array).write(region, np.zeros((4, 8), np.uint8))


def test_values_of_the_wrong_shape_are_refused(tmp_path: Path) -> None:
    array = zarr.create_array(store=str(tmp_path / "d"), shape=(8, 8), chunks=(4, 4),
                              dtype="uint8")  # fmt: skip
    with pytest.raises(ValueError, match=r"values of shape \(4, 4\) for a region of shape"):
        ChunkWriter(array).write((slice(0, 4), slice(0, 8)), np.zeros((4, 4), np.uint8))
