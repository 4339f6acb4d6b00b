"""Round trips for every format: written with the format's own library, read by open_volume.

Each case also checks laziness twice: no read happens in ``open_volume`` (a spy on the readers),
and the pixel values are those on disk at compute time (the file is rewritten after opening).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import dask.array as da
import h5py
import mrcfile
import numpy as np
import pytest
import tifffile
import zarr

from stratoseg.io import open_volume
from stratoseg.io._lazy import LazySource
from stratoseg.io._zarr import CheckedArray

Writer = Callable[[Path, np.ndarray], Path]


def _imagej(d: Path, a: np.ndarray) -> Path:
    p = d / "stack.tif"
    tifffile.imwrite(
        p,
        a,
        imagej=True,
        resolution=(1 / 0.5, 1 / 0.5),
        metadata={"axes": "ZYX", "spacing": 2.0, "unit": "um"},
    )
    return p


def _plain_tiff(d: Path, a: np.ndarray) -> Path:
    p = d / "plain.tiff"
    tifffile.imwrite(p, a)
    return p


def _bigtiff(d: Path, a: np.ndarray) -> Path:
    p = d / "big.tif"
    tifffile.imwrite(p, a, bigtiff=True, tile=(16, 16))
    return p


def _ome_tiff(d: Path, a: np.ndarray) -> Path:
    p = d / "img.ome.tif"
    tifffile.imwrite(
        p,
        a,
        ome=True,
        metadata={
            "axes": "ZYX",
            "PhysicalSizeX": 0.25,
            "PhysicalSizeY": 0.25,
            "PhysicalSizeZ": 1.5,
        },
    )
    return p


def _folder(d: Path, a: np.ndarray) -> Path:
    p = d / "slices"
    p.mkdir(exist_ok=True)
    for i, s in enumerate(a):  # natural order: s2 before s10
        tifffile.imwrite(p / f"s{i * 5}.tif", s)
    return p


def _zarr2(d: Path, a: np.ndarray) -> Path:
    p = d / "v2.zarr"
    z = zarr.create_array(
        store=str(p), shape=a.shape, dtype=a.dtype, chunks=(2, 16, 16), zarr_format=2
    )
    z[...] = a
    return p


def _zarr3(d: Path, a: np.ndarray) -> Path:
    p = d / "v3.zarr"
    z = zarr.create_array(
        store=str(p),
        shape=a.shape,
        dtype=a.dtype,
        chunks=(3, 16, 16),
        attributes={"voxel_size": [3.0, 1.0, 1.0], "unit": "nm"},
    )
    z[...] = a
    return p


def write_ngff04(p: Path, levels: list[np.ndarray], scale0: list[float]) -> Path:
    """An OME-Zarr 0.4 image (zarr v2) written by hand from the NGFF spec, x2 per level in y, x."""
    root = zarr.open_group(str(p), mode="w", zarr_format=2)
    datasets = []
    for i, lv in enumerate(levels):
        root.create_array(str(i), data=lv, chunks=(2, 16, 16))
        scale = [scale0[0], scale0[1] * 2**i, scale0[2] * 2**i]
        datasets.append(
            {"path": str(i), "coordinateTransformations": [{"type": "scale", "scale": scale}]}
        )
    root.attrs["multiscales"] = [
        {
            "version": "0.4",
            "name": "img",
            "datasets": datasets,
            "axes": [{"name": a, "type": "space", "unit": "micrometer"} for a in "zyx"],
        }
    ]
    return p


def _ome_zarr(d: Path, a: np.ndarray) -> Path:
    return write_ngff04(d / "ome.zarr", [a, a[:, ::2, ::2]], [4.0, 0.5, 0.5])


def _hdf5(d: Path, a: np.ndarray) -> Path:
    p = d / "vol.h5"
    with h5py.File(p, "w") as f:
        ds = f.create_dataset("/raw/volume", data=a, chunks=(2, 16, 16))
        ds.attrs["element_size_um"] = [2.0, 0.5, 0.5]
    return p


def _mrc(d: Path, a: np.ndarray) -> Path:
    p = d / "tomo.mrc"
    with mrcfile.new(p) as m:
        m.set_data(a.astype(np.int16))
        m.voxel_size = (7.5, 7.5, 7.5)
    return p


CASES: dict[str, tuple[Writer, str, str | None, tuple[float, ...], str | None]] = {
    # name: (writer, format, path suffix (e.g. HDF5 dataset), voxel size, unit)
    "imagej-tiff": (_imagej, "tiff", None, (2.0, 0.5, 0.5), "micrometer"),
    "plain-tiff": (_plain_tiff, "tiff", None, (1.0, 1.0, 1.0), None),
    "bigtiff-tiled": (_bigtiff, "tiff", None, (1.0, 1.0, 1.0), None),
    "ome-tiff": (_ome_tiff, "tiff", None, (1.5, 0.25, 0.25), "micrometer"),
    "tiff-folder": (_folder, "tiff-folder", None, (1.0, 1.0, 1.0), None),
    "zarr-v2": (_zarr2, "zarr", None, (1.0, 1.0, 1.0), None),
    "zarr-v3": (_zarr3, "zarr", None, (3.0, 1.0, 1.0), "nanometer"),
    "ome-zarr": (_ome_zarr, "ome-zarr", None, (4.0, 0.5, 0.5), "micrometer"),
    "hdf5": (_hdf5, "hdf5", ":/raw/volume", (2.0, 0.5, 0.5), "micrometer"),
    "mrc": (_mrc, "mrc", None, (7.5, 7.5, 7.5), "angstrom"),
}


def _expected(name: str, a: np.ndarray) -> np.ndarray:
    return a.astype(np.int16) if name == "mrc" else a


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts calls of LazySource.read (the TIFF, folder, HDF5 and MRC readers)."""
    calls: list[int] = []
    original = LazySource.__getitem__

    def spy(self: LazySource, key: tuple[slice, ...]) -> np.ndarray:
        calls.append(1)
        return original(self, key)

    monkeypatch.setattr(LazySource, "__getitem__", spy)
    return calls


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_values_and_metadata(
    name: str, tmp_path: Path, volume_u16: np.ndarray, reads: list[int]
) -> None:
    writer, fmt, suffix, voxel, unit = CASES[name]
    a = volume_u16 // 4 if name == "mrc" else volume_u16
    path = writer(tmp_path, a)
    vol = open_volume(f"{path}{suffix or ''}")
    assert isinstance(vol.data, da.Array)
    assert reads == [], "open_volume read pixel data"
    assert vol.format == fmt
    assert vol.axes == "zyx"
    assert vol.shape == a.shape
    assert vol.dtype == _expected(name, a).dtype
    assert vol.voxel_size == pytest.approx(voxel)
    assert vol.unit == unit
    np.testing.assert_array_equal(vol.data.compute(), _expected(name, a))
    # a sub-block reads only the chunks it touches and gives the same values
    reads.clear()
    part = vol.data[2:5, 3:20, 7:9]
    np.testing.assert_array_equal(part.compute(), _expected(name, a)[2:5, 3:20, 7:9])
    if fmt not in ("zarr", "ome-zarr"):  # the LazySource readers (zarr reads are zarr's own)
        assert 0 < len(reads) <= int(np.prod(part.numblocks))


@pytest.mark.parametrize("name", list(CASES))
def test_values_come_from_disk_at_compute_time(
    name: str, tmp_path: Path, volume_u16: np.ndarray
) -> None:
    """Rewrite the file between open and compute: a lazy reader sees the new values."""
    writer, _, suffix, _, _ = CASES[name]
    a = volume_u16 // 4 if name == "mrc" else volume_u16
    path = writer(tmp_path / "", a)
    vol = open_volume(f"{path}{suffix or ''}")
    b = (a[::-1] // 2).astype(a.dtype)  # same shape and dtype, other values
    other = tmp_path / "other"
    other.mkdir()
    new = writer(other, b)
    if new.is_dir():
        shutil.rmtree(path)
        shutil.copytree(new, path)
    else:
        assert new.stat().st_size == path.stat().st_size
        path.write_bytes(new.read_bytes())
    np.testing.assert_array_equal(vol.data.compute(), _expected(name, b))


def test_two_d_image_is_a_volume_of_one_slice(tmp_path: Path) -> None:
    a = np.arange(12 * 9, dtype=np.float32).reshape(12, 9)
    p = tmp_path / "img.tif"
    tifffile.imwrite(p, a, imagej=True, resolution=(2, 2))
    vol = open_volume(p)
    assert (vol.axes, vol.shape, vol.voxel_size) == ("yx", (12, 9), (0.5, 0.5))
    v3 = vol.as_3d()
    assert (v3.axes, v3.shape, v3.voxel_size) == ("zyx", (1, 12, 9), (1.0, 0.5, 0.5))
    np.testing.assert_array_equal(v3.data.compute()[0], a)


def test_channels_come_first(tmp_path: Path) -> None:
    a = np.random.default_rng(1).integers(0, 255, (4, 2, 16, 16), dtype=np.uint8)  # z c y x
    p = tmp_path / "hyper.tif"
    tifffile.imwrite(p, a, imagej=True, metadata={"axes": "ZCYX"})
    vol = open_volume(p)
    assert vol.axes == "czyx"
    np.testing.assert_array_equal(vol.data.compute(), a.transpose(1, 0, 2, 3))


def test_imagej_stack_written_without_axes_is_z(tmp_path: Path) -> None:
    a = np.zeros((20, 16, 16), np.uint8)
    tifffile.imwrite(tmp_path / "z.tif", a, imagej=True)  # tifffile calls these 20 channels
    assert open_volume(tmp_path / "z.tif").axes == "zyx"
    tifffile.imwrite(tmp_path / "c.tif", a[:3], imagej=True, metadata={"mode": "composite"})
    assert open_volume(tmp_path / "c.tif").axes == "cyx"


def test_hdf5_single_dataset_needs_no_key(tmp_path: Path, volume_u16: np.ndarray) -> None:
    p = tmp_path / "one.hdf5"
    with h5py.File(p, "w") as f:
        f["only"] = volume_u16
    vol = open_volume(p)
    assert vol.key == "/only"
    np.testing.assert_array_equal(vol.data.compute(), volume_u16)


def test_zarr_array_inside_group_by_key_and_path(tmp_path: Path, volume_u16: np.ndarray) -> None:
    g = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    g.create_array("a", data=volume_u16, chunks=(4, 16, 16))
    g.create_array("b", data=volume_u16[:2], chunks=(1, 16, 16))
    np.testing.assert_array_equal(open_volume(tmp_path / "g.zarr", key="a").data, volume_u16)
    np.testing.assert_array_equal(open_volume(tmp_path / "g.zarr" / "b").data, volume_u16[:2])
    with pytest.raises(ValueError, match="arrays are: \\['a', 'b'\\]"):
        open_volume(tmp_path / "g.zarr")


def test_ome_zarr_pyramid_levels(tmp_path: Path) -> None:
    a = np.random.default_rng(2).integers(0, 255, (8, 64, 64), dtype=np.uint8)
    write_ngff04(tmp_path / "p.zarr", [a, a[:, ::2, ::2], a[:, ::4, ::4]], [1.0, 1.0, 1.0])
    vol = open_volume(tmp_path / "p.zarr")
    assert [lv.shape for lv in vol.levels] == [(8, 64, 64), (8, 32, 32), (8, 16, 16)]
    assert vol.levels[0] is vol.data
    # a dataset of the pyramid opened directly takes its own level's scale
    level1 = open_volume(tmp_path / "p.zarr" / "1")
    assert level1.voxel_size == (1.0, 2.0, 2.0)


def test_slice_folder_in_natural_order(tmp_path: Path) -> None:
    d = tmp_path / "nat"
    d.mkdir()
    for i in (1, 2, 10):
        tifffile.imwrite(d / f"img{i}.tif", np.full((4, 4), i, np.uint8))
    vol = open_volume(d)
    assert vol.data[:, 0, 0].compute().tolist() == [1, 2, 10]


def test_reading_one_slice_reads_one_slab(tmp_path: Path, reads: list[int]) -> None:
    a = np.zeros((130, 64, 64), np.uint8)
    a[100] = 7
    tifffile.imwrite(tmp_path / "s.tif", a)
    vol = open_volume(tmp_path / "s.tif")
    assert vol.data.numblocks == (3, 1, 1)  # slabs of 64 pages
    assert int(vol.data[100].sum().compute()) == 7 * 64 * 64
    assert len(reads) == 1


def test_the_stored_array_is_given_only_when_it_is_the_data(tmp_path: Path) -> None:
    a = np.random.default_rng(3).integers(0, 255, (4, 32, 32), dtype=np.uint8)
    write_ngff04(tmp_path / "p.zarr", [a, a[:, ::2, ::2]], [1.0, 1.0, 1.0])
    zarr.open_group(str(tmp_path / "g.zarr"), mode="w").create_array("a", data=a)
    for vol in (open_volume(tmp_path / "p.zarr"), open_volume(tmp_path / "p.zarr" / "0"),
                open_volume(tmp_path / "g.zarr" / "a")):  # fmt: skip
        assert isinstance(vol.array, CheckedArray)  # reads name a corrupt chunk
        assert isinstance(vol.array.array, zarr.Array)
        np.testing.assert_array_equal(vol.array[1:3, 5:9], a[1:3, 5:9])
        assert vol.as_3d() is vol
    flat = zarr.open_group(str(tmp_path / "f.zarr"), mode="w").create_array("a", data=a[0])
    assert open_volume(tmp_path / "f.zarr" / "a").array is not None
    assert open_volume(tmp_path / "f.zarr" / "a").as_3d().array is None  # data gained an axis
    assert flat.shape == (32, 32)
    # axes stored in another order: the data is a transposed view, not the array
    yxz = zarr.open_group(str(tmp_path / "t.zarr"), mode="w", zarr_format=2)
    yxz.create_array("0", data=a.transpose(1, 2, 0))
    yxz.attrs["multiscales"] = [{"version": "0.4", "axes": [{"name": n, "type": "space"}
                                 for n in "yxz"], "datasets": [{"path": "0"}]}]  # fmt: skip
    vol = open_volume(tmp_path / "t.zarr")
    assert vol.axes == "zyx"
    assert vol.array is None
    tif = tmp_path / "a.tif"
    tifffile.imwrite(tif, a, photometric="minisblack")
    assert open_volume(tif).array is None
