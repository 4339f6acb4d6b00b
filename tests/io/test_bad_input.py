"""Bad input to open_volume: a clear error naming the problem, never a half-read volume."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
import zarr

from stratoseg.io import open_volume


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"does not exist: .*nothing\.tif"):
        open_volume(tmp_path / "nothing.tif")


def test_unknown_extension(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"unknown format .*notes.txt.*'\.txt'"):
        open_volume(tmp_path / "notes.txt")


def test_corrupt_zarr_metadata(tmp_path: Path) -> None:
    z = zarr.create_array(store=str(tmp_path / "c.zarr"), shape=(4, 4), dtype="u1")
    z[...] = 1
    (tmp_path / "c.zarr" / "zarr.json").write_text('{"zarr_format": 3, "node_type": ')
    with pytest.raises(ValueError, match=r"corrupt zarr metadata in zarr\.json"):
        open_volume(tmp_path / "c.zarr")


def test_zarr_metadata_valid_json_but_wrong(tmp_path: Path) -> None:
    d = tmp_path / "w.zarr"
    d.mkdir()
    (d / "zarr.json").write_text('{"zarr_format": 3, "node_type": "array", "shape": "x"}')
    with pytest.raises(ValueError, match="not a readable zarr"):
        open_volume(d)


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_tiff(tmp_path: Path, keep: float) -> None:
    a = np.random.default_rng(0).integers(0, 255, (12, 64, 64), dtype=np.uint8)
    full = tmp_path / "full.tif"
    tifffile.imwrite(full, a, compression="zlib")
    cut = tmp_path / "cut.tif"
    cut.write_bytes(full.read_bytes()[: int(full.stat().st_size * keep)])
    with pytest.raises(ValueError, match="truncated"):
        open_volume(cut)


def test_not_a_tiff_at_all(tmp_path: Path) -> None:
    (tmp_path / "fake.tif").write_bytes(b"this is not a tiff")
    with pytest.raises(ValueError, match="not a readable TIFF"):
        open_volume(tmp_path / "fake.tif")


def test_hdf5_path_without_the_dataset(tmp_path: Path) -> None:
    p = tmp_path / "f.h5"
    with h5py.File(p, "w") as f:
        f["/raw/a"] = np.zeros((3, 4, 4), np.uint8)
        f["/raw/b"] = np.zeros((3, 4, 4), np.uint8)
    with pytest.raises(ValueError, match=r"holds 2 datasets.*'/raw/a', '/raw/b'"):
        open_volume(p)
    with pytest.raises(ValueError, match="dataset '/raw/c' is not in"):
        open_volume(f"{p}:/raw/c")
    with pytest.raises(ValueError, match="is a group"):
        open_volume(f"{p}:/raw")


@pytest.mark.parametrize(
    ("fmt", "shape"),
    [
        ("zarr", (10,)),
        ("zarr", (2, 3, 4, 5, 6)),
        ("h5", (10,)),
        ("h5", (2, 3, 4, 5, 6)),
        ("tif", (2, 3, 4, 5, 6)),
    ],  # a TIFF page is at least 2-D, so no 1-D TIFF exists
)
def test_wrong_dimensionality(tmp_path: Path, shape: tuple[int, ...], fmt: str) -> None:
    a = np.zeros(shape, np.uint8)
    if fmt == "zarr":
        p = tmp_path / "a.zarr"
        zarr.create_array(store=str(p), data=a)
    elif fmt == "h5":
        p = tmp_path / "a.h5"
        with h5py.File(p, "w") as f:
            f["x"] = a
    else:
        p = tmp_path / "a.tif"
        tifffile.imwrite(p, a, imagej=True, metadata={"axes": "TZCYX"})
    with pytest.raises(ValueError, match=r"expected an image with 2 to 4 dimensions|time series"):
        open_volume(p)


@pytest.mark.parametrize("dtype", ["complex64", "object"])
def test_complex_and_object_dtypes(tmp_path: Path, dtype: str) -> None:
    p = tmp_path / "c.h5"
    with h5py.File(p, "w") as f:
        if dtype == "object":
            f.create_dataset(
                "x",
                data=np.array([["a", "b"], ["c", "d"]], dtype=object),
                dtype=h5py.string_dtype(),
            )
        else:
            f["x"] = np.zeros((4, 4), dtype)
    with pytest.raises(TypeError, match="must be a bool, integer or float type"):
        open_volume(p)


def test_complex_zarr(tmp_path: Path) -> None:
    zarr.create_array(store=str(tmp_path / "c.zarr"), data=np.zeros((4, 4), np.complex64))
    with pytest.raises(TypeError, match="complex64"):
        open_volume(tmp_path / "c.zarr")


def test_empty_folder_and_folder_of_mixed_slices(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="without TIFF slices"):
        open_volume(tmp_path / "empty")
    d = tmp_path / "mixed"
    d.mkdir()
    tifffile.imwrite(d / "a1.tif", np.zeros((4, 4), np.uint8))
    tifffile.imwrite(d / "a2.tif", np.zeros((5, 4), np.uint8))
    vol = open_volume(d)  # the header of the first slice only: still lazy
    with pytest.raises(ValueError, match=r"a2.tif has shape \(5, 4\), the stack needs \(4, 4\)"):
        vol.data.compute()


def test_conflicting_keys(tmp_path: Path) -> None:
    p = tmp_path / "f.h5"
    with h5py.File(p, "w") as f:
        f["a"] = np.zeros((3, 3), np.uint8)
    with pytest.raises(ValueError, match="conflicts"):
        open_volume(f"{p}:/a", key="/b")


def test_a_corrupt_zarr_chunk_is_named(tmp_path: Path) -> None:
    """zarr raises what its codec raises (a RuntimeError from zstd); every read through
    open_volume, the dask array and the stored array alike, names the chunk file."""
    z = zarr.create_array(store=str(tmp_path / "c.zarr"), shape=(4, 8), chunks=(2, 4), dtype="u2")
    z[...] = 5
    (tmp_path / "c.zarr" / "c" / "1" / "1").write_bytes(b"\x00garbage")
    vol = open_volume(tmp_path / "c.zarr")
    assert int(vol.data[:2].sum().compute()) == 5 * 16  # the good chunks still read
    name = r"the chunk .*c\.zarr/c/1/1 of the zarr array .*c\.zarr cannot be decoded"
    with pytest.raises(ValueError, match=name):
        vol.data.compute()
    with pytest.raises(ValueError, match=name):
        vol.array[1:3, 2:7]  # a region over four chunks: the damaged one is found
    np.testing.assert_array_equal(vol.array[:2, :4], 5)


def test_empty_and_imageless_tiffs(tmp_path: Path) -> None:
    (tmp_path / "header.tif").write_bytes(b"II*\x00\x00\x00\x00\x00")
    with pytest.raises(ValueError, match=r"header\.tif holds no image"):
        open_volume(tmp_path / "header.tif")
    with pytest.warns(UserWarning, match="zero-size"):  # tifffile writes it, and says so
        tifffile.imwrite(tmp_path / "empty.tif", np.zeros((0, 4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"empty\.tif holds an empty image: shape \(0, 4, 4\)"):
        open_volume(tmp_path / "empty.tif")


def test_an_mrc_extended_header_longer_than_the_file(tmp_path: Path) -> None:
    """mrcfile would first allocate a buffer of the declared extended header size."""
    import mrcfile

    with mrcfile.new(tmp_path / "a.mrc") as m:
        m.set_data(np.zeros((2, 4, 4), np.float32))
    data = bytearray((tmp_path / "a.mrc").read_bytes())
    data[92:96] = (2**31 - 1).to_bytes(4, "little")  # NSYMBT
    (tmp_path / "a.mrc").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"extended header of 2147483647 bytes, the file has 128"):
        open_volume(tmp_path / "a.mrc")


def test_an_hdf5_dataset_of_too_many_chunks(tmp_path: Path) -> None:
    """2**21 stored chunks along one axis (nothing written): dask would list every one."""
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f.create_dataset("x", shape=(2**21, 4, 4), chunks=(1, 4, 4), dtype="u1")
    with pytest.raises(ValueError, match=r"declares 2097152 chunks of 1 along axis 0"):
        open_volume(tmp_path / "a.h5")
