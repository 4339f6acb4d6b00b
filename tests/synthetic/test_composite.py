"""make_composite: fractions, classes, grey levels, chunk independence, laziness, validation.

Also covers what the three generators share (``_common``): the hash noise and the block-location
and halo machinery are exercised through the chunk-independence tests.
"""

from __future__ import annotations

import pickle
import time

import dask
import numpy as np
import pytest

from stratoseg.synthetic import SyntheticVolume, make_composite
from stratoseg.synthetic._common import hash_normal, stream_key, value_noise

SMALL = {"fibre_length": 30.0, "pore_radius": 3.0}


@pytest.fixture(scope="module")
def default_volume() -> tuple[np.ndarray, np.ndarray]:
    vol = make_composite((64, 128, 128), seed=0)
    image, labels = dask.compute(vol.image, vol.labels)
    return image, labels


def test_contract() -> None:
    vol = make_composite((16, 32, 48), seed=0, **SMALL)
    assert isinstance(vol, SyntheticVolume)
    assert vol.kind == "composite"
    assert vol.classes == {0: "matrix", 1: "fibre", 2: "pore"}
    assert vol.voxel_size == (1.0, 1.0, 1.0)
    assert vol.image.shape == vol.labels.shape == (16, 32, 48)
    assert vol.image.dtype == np.uint8
    assert vol.labels.dtype == np.uint8
    image, labels = dask.compute(vol.image, vol.labels)
    assert image.dtype == np.uint8
    assert labels.dtype == np.uint8
    assert image.shape == labels.shape == (16, 32, 48)


def test_default_fractions_and_classes(default_volume: tuple[np.ndarray, np.ndarray]) -> None:
    image, labels = default_volume
    fraction = np.bincount(labels.ravel(), minlength=3) / labels.size
    assert set(np.unique(labels)) == {0, 1, 2}
    assert 0.20 <= fraction[1] <= 0.50
    assert 0.01 <= fraction[2] <= 0.10
    # Fibre bright, matrix mid-grey, pore dark.
    means = [image[labels == k].mean() for k in range(3)]
    assert means[1] > means[0] + 30 > means[2] + 60


def test_default_compute_is_fast() -> None:
    vol = make_composite((64, 128, 128), seed=0)
    start = time.perf_counter()
    dask.compute(vol.image, vol.labels, scheduler="threads", num_workers=2)
    assert time.perf_counter() - start < 10.0


@pytest.mark.parametrize("fibre_fraction", [0.15, 0.5])
def test_fibre_fraction_follows_parameter(fibre_fraction: float) -> None:
    vol = make_composite((48, 96, 96), seed=2, fibre_fraction=fibre_fraction, fibre_length=40.0)
    labels = vol.labels.compute()
    assert abs((labels == 1).mean() - fibre_fraction) < 0.1


def test_chunk_independent_3d() -> None:
    a = make_composite((24, 40, 36), seed=3, **SMALL)
    b = make_composite((24, 40, 36), seed=3, chunks=(7, 13, 36), **SMALL)
    c = make_composite((24, 40, 36), seed=3, chunks=(8, 10, 12), blur_sigma=2.0, **SMALL)
    d = make_composite((24, 40, 36), seed=3, chunks=(24, 40, 36), blur_sigma=2.0, **SMALL)
    np.testing.assert_array_equal(a.image.compute(), b.image.compute())
    np.testing.assert_array_equal(a.labels.compute(), b.labels.compute())
    np.testing.assert_array_equal(c.image.compute(), d.image.compute())
    np.testing.assert_array_equal(c.labels.compute(), d.labels.compute())


def test_chunk_independent_2d() -> None:
    a = make_composite((96, 80), seed=4, **SMALL)
    b = make_composite((96, 80), seed=4, chunks=(31, 17), **SMALL)
    assert a.image.ndim == 2
    assert a.voxel_size == (1.0, 1.0)
    np.testing.assert_array_equal(a.image.compute(), b.image.compute())
    np.testing.assert_array_equal(a.labels.compute(), b.labels.compute())


def test_seeded() -> None:
    a = make_composite((16, 48, 48), seed=5, **SMALL)
    b = make_composite((16, 48, 48), seed=5, **SMALL)
    c = make_composite((16, 48, 48), seed=6, **SMALL)
    np.testing.assert_array_equal(a.image.compute(), b.image.compute())
    np.testing.assert_array_equal(a.labels.compute(), b.labels.compute())
    assert not np.array_equal(a.image.compute(), c.image.compute())
    assert not np.array_equal(a.labels.compute(), c.labels.compute())


def test_two_dimensional_is_a_slice() -> None:
    vol = make_composite((128, 128), seed=1)
    labels = vol.labels.compute()
    assert labels.shape == (128, 128)
    assert set(np.unique(labels)) == {0, 1, 2}
    assert 0.15 <= (labels == 1).mean() <= 0.55


def test_ring_artefacts_depend_on_radius_only() -> None:
    common = {"seed": 7, "noise_std": 0.0, **SMALL}
    rings = make_composite((8, 64, 64), ring_amplitude=10.0, **common).image.compute()
    plain = make_composite((8, 64, 64), ring_amplitude=0.0, **common).image.compute()
    diff = rings.astype(int) - plain.astype(int)
    assert np.abs(diff).max() >= 3  # there are rings
    assert np.abs(diff - diff[:1]).max() <= 1  # the same on every slice (up to rounding)
    # Symmetric about the centre of the (y, x) plane: a function of the radius.
    assert np.abs(diff[0] - diff[0][::-1, ::-1]).max() <= 1
    assert np.abs(diff[0] - diff[0].T).max() <= 1


def test_graph_is_lazy_for_a_huge_volume() -> None:
    start = time.perf_counter()
    vol = make_composite((1024, 1024, 1024), seed=0)
    assert time.perf_counter() - start < 2.0  # only the object list is drawn
    assert vol.image.shape == vol.labels.shape == (1024, 1024, 1024)
    assert vol.image.dtype == np.uint8
    assert vol.image.numblocks == (16, 16, 16)
    block = vol.image.blocks[0, 0, 0].compute()
    assert block.shape == (64, 64, 64)
    assert block.dtype == np.uint8
    labels = vol.labels.blocks[15, 15, 15].compute()
    assert labels.shape == (64, 64, 64)
    assert 1 in labels


def test_graph_pickles() -> None:
    vol = make_composite((16, 32, 32), seed=8, chunks=16, **SMALL)
    image = pickle.loads(pickle.dumps(vol.image))
    np.testing.assert_array_equal(image.compute(), vol.image.compute())


def test_noise_is_a_function_of_position() -> None:
    key = stream_key(1, 0)
    whole = hash_normal(key, (0, 0, 0), (6, 7, 8))
    part = hash_normal(key, (2, 3, 1), (5, 7, 8))
    np.testing.assert_array_equal(whole[2:5, 3:7, 1:8], part)
    assert abs(whole.mean()) < 0.3
    assert not np.array_equal(whole, hash_normal(stream_key(2, 0), (0, 0, 0), (6, 7, 8)))
    big = hash_normal(key, (0, 0), (200, 200))
    assert abs(big.mean()) < 0.02
    assert abs(big.std() - 1.0) < 0.02
    texture = value_noise(key, (0, 0), (40, 50), scale=4.0)
    part = value_noise(key, (10, 13), (40, 50), scale=4.0)
    np.testing.assert_array_equal(texture[10:, 13:], part)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": (64,)}, r"shape must be .*\(64,\)"),
        ({"shape": (2, 3, 4, 5)}, r"shape must be .*\(2, 3, 4, 5\)"),
        ({"shape": 64}, r"shape must be .*64"),
        ({"shape": "abc"}, r"shape must be .*'abc'"),
        ({"shape": (0, 16, 16)}, r"shape must be positive integers, got \[0, 16, 16\]"),
        ({"shape": (8.5, 16, 16)}, r"shape must be positive integers, got \[8\.5, 16, 16\]"),
        ({"chunks": 0}, r"chunks must be positive integers, got \[0, 0, 0\]"),
        ({"chunks": (8, 8)}, r"chunks must have 1 or 3 values"),
        ({"seed": -1}, r"seed must be a non-negative integer, got -1"),
        ({"seed": 1.5}, r"seed must be a non-negative integer, got 1\.5"),
        ({"fibre_fraction": 0.0}, r"fibre_fraction must be in \(0, 1\), got 0\.0"),
        ({"fibre_fraction": 1.2}, r"fibre_fraction must be in \(0, 1\), got 1\.2"),
        ({"fibre_fraction": "a"}, r"fibre_fraction must be a real number, got 'a'"),
        ({"pore_fraction": -0.1}, r"pore_fraction must be in \(0, 1\), got -0\.1"),
        ({"pore_fraction": float("nan")}, r"pore_fraction must be finite, got nan"),
        ({"fibre_fraction": 0.7, "pore_fraction": 0.3}, r"fibre_fraction \+ pore_fraction"),
        ({"fibre_radius": 0}, r"fibre_radius must be > 0, got 0"),
        ({"fibre_radius": -2.0}, r"fibre_radius must be > 0, got -2\.0"),
        ({"fibre_length": 0.0}, r"fibre_length must be > 0, got 0\.0"),
        ({"pore_radius": -1}, r"pore_radius must be > 0, got -1"),
        ({"fibre_spread": -0.1}, r"fibre_spread must be >= 0, got -0\.1"),
        ({"blur_sigma": -1.0}, r"blur_sigma must be >= 0, got -1\.0"),
        ({"noise_std": -1.0}, r"noise_std must be >= 0, got -1\.0"),
        ({"ring_amplitude": -1.0}, r"ring_amplitude must be >= 0, got -1\.0"),
    ],
)
def test_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_composite(**kwargs)  # type: ignore[arg-type]


def test_grey_levels_set_each_phase() -> None:
    kw = {"seed": 2, "noise_std": 0.0, "blur_sigma": 0.0, "ring_amplitude": 0.0}
    low = make_composite((8, 64, 64), levels=(120, 160, 60), **kw)
    image, labels = np.asarray(low.image, np.float64), np.asarray(low.labels)
    assert image[labels == 1].mean() == pytest.approx(160, abs=0.5)
    assert image[labels == 2].mean() == pytest.approx(60, abs=0.5)
    assert abs(image[labels == 0].mean() - 120) < 3  # the matrix texture averages out
    np.testing.assert_array_equal(labels, np.asarray(make_composite((8, 64, 64), **kw).labels))
    with pytest.raises(ValueError, match=r"levels must be 3 grey levels in \[0, 255\]"):
        make_composite((8, 16, 16), levels=(0, 300, 10))
