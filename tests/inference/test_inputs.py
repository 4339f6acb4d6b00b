"""The network input of a region: normalised windows cut from a compact (raw dtype) region."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import dask.array as da
import numpy as np
import pytest

from stratoseg.inference import (
    InputReader,
    NetworkInput,
    block_bytes_per_voxel,
    plan_segment,
    read_extended,
)
from stratoseg.inference._inputs import normalisation_range
from stratoseg.models import UNetConfig

IMAGE = [SimpleNamespace(source="image")]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32, np.float64])
def test_windows_equal_the_normalised_region_bit_for_bit(dtype: type) -> None:
    rng = np.random.default_rng(0)
    volume = (rng.random((6, 20, 24)) * 200).astype(dtype)
    reader = InputReader(volume, IMAGE, SimpleNamespace(kind="minmax"), (1, 1, 1))
    region = (slice(-2, 6), slice(-3, 17), slice(5, 29))  # edge-extended on three sides
    data = reader(region)
    assert isinstance(data, NetworkInput)
    assert data.shape == (1, 8, 20, 24)
    assert data.channels[0].dtype == dtype  # held as the image's own type
    lo, hi = float(volume.min()), float(volume.max())
    whole = read_extended(volume, region).astype(np.float32)
    whole -= np.float32(lo)
    whole *= np.float32(1.0 / (hi - lo))
    window = data[(slice(None), slice(1, 5), slice(0, 16), slice(8, 24))]
    assert window.dtype == np.float32
    np.testing.assert_array_equal(window[0], whole[1:5, 0:16, 8:24])
    np.testing.assert_array_equal(np.asarray(data)[0], whole)


def test_a_uint8_region_holds_a_quarter_of_float32() -> None:
    volume = np.zeros((4, 16, 16), np.uint8)
    volume[0, 0, 0] = 9
    data = InputReader(volume, IMAGE, SimpleNamespace(kind="minmax"), (1, 1, 1))(
        (slice(0, 4), slice(0, 16), slice(0, 16))
    )
    assert data.nbytes == 4 * 16 * 16  # 1 byte per voxel
    assert np.asarray(data).nbytes == 4 * data.nbytes
    assert float(np.asarray(data)[0, 0, 0, 0]) == 1.0


def test_nan_in_a_float_region_is_refused_with_its_place() -> None:
    volume = np.zeros((4, 8, 8), np.float32)
    volume[1, 2, 3] = 1
    reader = InputReader(volume, IMAGE, SimpleNamespace(kind="fixed", low=0, high=1), (1, 1, 1))
    volume[1, 2, 3] = np.nan  # after the whole-volume range, as a block read would meet it
    with pytest.raises(ValueError, match=r"NaN or infinite values \(in region \[0:4, 0:8, 0:8\]"):
        reader((slice(0, 4), slice(0, 8), slice(0, 8)))


def test_network_input_checks_its_arguments() -> None:
    raw = np.zeros((2, 3), np.uint8)
    with pytest.raises(ValueError, match="one affine"):
        NetworkInput([raw], [])
    data = NetworkInput([raw, raw.astype(np.float32)], [(0.0, 0.5), None])
    assert data.shape == (2, 2, 3)
    with pytest.raises(IndexError, match=r"index as \[:, spatial slices"):
        data[(0, slice(None))]


def test_block_bytes_follow_what_a_block_holds() -> None:
    # crop: 2 blocks in flight x (input 1 channel x 1 byte + 3 classes + 1 label byte)
    assert block_bytes_per_voxel(3, 1, "crop", 1) == 2 * (1 + 3 + 1)
    # blending tilings add the float32 sums of K classes and the weight total
    assert block_bytes_per_voxel(3, 1, "stratified", 1) == 10 + 4 * 4
    assert block_bytes_per_voxel(2, 2, "crop", 4) == 2 * (8 + 2 + 1)


def test_a_compact_image_gets_larger_blocks() -> None:
    cfg = UNetConfig(spatial_dims=3, in_channels=1, out_channels=3, depth=3, base_filters=8)
    args = (cfg, (512, 512, 512), (64, 64, 64))
    small = plan_segment(*args, classes=3, input_itemsize=4)
    large = plan_segment(*args, classes=3, input_itemsize=1)
    blending = plan_segment(*args, classes=3, input_itemsize=1, tiling="gaussian")
    assert np.prod(large.block) > np.prod(small.block)
    assert np.prod(blending.block) < np.prod(large.block)


@pytest.mark.parametrize("kind", ["numpy", "dask", "zarr"])
@pytest.mark.parametrize(
    "region",
    [
        (slice(-3, 5), slice(2, 30), slice(-40, 50)),  # beyond both ends of an axis
        (slice(6, 12), slice(-9, 3), slice(19, 26)),  # mostly outside, one voxel inside in x
        (slice(0, 8), slice(0, 24), slice(0, 20)),  # the whole volume, no margin
    ],
)
def test_read_extended_is_numpy_edge_padding(tmp_path: Any, kind: str, region: tuple) -> None:
    import dask.array as da
    import zarr

    rng = np.random.default_rng(1)
    volume = rng.integers(0, 255, (2, 8, 24, 20), dtype=np.uint8)  # a channel axis first
    source: Any = volume
    if kind == "dask":
        source = da.from_array(volume, chunks=(1, 3, 7, 6))
    elif kind == "zarr":
        source = zarr.create_array(tmp_path / "v.zarr", shape=volume.shape, dtype=volume.dtype,
                                   chunks=(1, 4, 8, 8))  # fmt: skip
        source[...] = volume
    got = read_extended(source, region)
    pad = [(0, 0)]
    inside = [slice(None)]
    for s, n in zip(region, volume.shape[1:], strict=True):
        lo, hi = min(max(s.start, 0), n - 1), max(min(s.stop, n), 1)
        lo = min(lo, hi - 1)
        inside.append(slice(lo, hi))
        pad.append((lo - s.start, s.stop - hi))
    expected = np.pad(volume[tuple(inside)], pad, mode="edge")
    assert got.dtype == volume.dtype
    np.testing.assert_array_equal(got, expected)


def test_large_buffers_are_mapped_and_behave_like_numpy() -> None:
    import mmap

    from stratoseg._memory import MAPPED_BYTES, empty

    small, large = empty((4, 4), np.float32), empty((MAPPED_BYTES // 2, 2), np.uint16)
    assert small.base is None  # an ordinary numpy buffer
    assert isinstance(large.base.base.obj, mmap.mmap)  # type: ignore[union-attr]
    large[...] = 7
    assert large.sum(dtype=np.int64) == 7 * MAPPED_BYTES
    assert large.flags.writeable
    assert large.flags.c_contiguous


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.bool_])
def test_percentiles_of_small_integers_are_numpys_exactly(dtype: type) -> None:
    rng = np.random.default_rng(3)
    info = np.iinfo(np.uint8 if dtype is np.bool_ else dtype)
    volume = rng.integers(info.min, int(info.max) + 1, (9, 30, 26)).astype(dtype)
    volume[0, 0, :3] = (info.min, info.max, 0)  # both extremes present
    lazy = da.from_array(volume, chunks=(4, 16, 10))  # uneven chunks
    spec = SimpleNamespace(kind="percentile", low=0.5, high=99.5)
    want = np.percentile(volume.astype(np.float64), [0.5, 99.5])
    assert normalisation_range(lazy, spec) == pytest.approx(tuple(want), abs=1e-9)


def test_percentiles_of_floats_within_one_bin_of_numpys() -> None:
    rng = np.random.default_rng(4)
    volume = rng.normal(10.0, 3.0, (6, 40, 50)).astype(np.float32)
    lazy = da.from_array(volume, chunks=(4, 16, 25))
    spec = SimpleNamespace(kind="percentile", low=1, high=99)
    got = normalisation_range(lazy, spec)
    ranked = np.sort(volume, axis=None).astype(np.float64)
    width = (ranked[-1] - ranked[0]) / 65536  # one histogram bin
    for value, q in zip(got, (1, 99), strict=True):
        rank = q / 100 * (ranked.size - 1)  # between its neighbouring values, to a bin
        lo, hi = ranked[int(np.floor(rank)) - 1], ranked[int(np.ceil(rank)) + 1]
        assert lo - width <= value <= hi + width
