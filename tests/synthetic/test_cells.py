"""make_cells: many touching instances, contrast, chunk independence, laziness, validation."""

from __future__ import annotations

import time

import dask
import numpy as np
import pytest

from stratoseg.synthetic import SyntheticVolume, make_cells

SHAPES = {2: (256, 256), 3: (40, 64, 64)}
RADIUS = {2: 10.0, 3: 6.0}


def touching_pairs(labels: np.ndarray) -> set[tuple[int, int]]:
    """Pairs of distinct instances that are face neighbours (4-/6-connectivity)."""
    pairs: set[tuple[int, int]] = set()
    for axis in range(labels.ndim):
        a = np.moveaxis(labels, axis, 0)[:-1].ravel()
        b = np.moveaxis(labels, axis, 0)[1:].ravel()
        keep = (a != b) & (a > 0) & (b > 0)
        low, high = np.minimum(a, b)[keep].tolist(), np.maximum(a, b)[keep].tolist()
        pairs.update(zip(low, high, strict=True))
    return pairs


@pytest.fixture(scope="module", params=[2, 3], ids=["2d", "3d"])
def computed(request: pytest.FixtureRequest) -> tuple[SyntheticVolume, np.ndarray, np.ndarray]:
    ndim = request.param
    vol = make_cells(SHAPES[ndim], seed=0, radius=RADIUS[ndim])
    image, labels = dask.compute(vol.image, vol.labels)
    return vol, image, labels


def test_contract(computed: tuple[SyntheticVolume, np.ndarray, np.ndarray]) -> None:
    vol, image, labels = computed
    assert vol.kind == "cells"
    assert vol.classes == {0: "background"}
    assert vol.voxel_size == (1.0,) * image.ndim
    assert vol.image.dtype == image.dtype == np.uint8
    assert vol.labels.dtype == labels.dtype == np.uint32
    assert image.shape == labels.shape == vol.image.shape


def test_many_touching_instances(computed: tuple[SyntheticVolume, np.ndarray, np.ndarray]) -> None:
    _, _, labels = computed
    ids = np.unique(labels)
    assert ids[0] == 0
    assert 0.2 < (labels == 0).mean() < 0.95  # background present, cells too
    assert len(ids) - 1 >= 10
    # Ids are 1..N over the cells that reach the volume: nearly all of them are visible.
    assert len(ids) - 1 >= 0.8 * ids.max()
    pairs = touching_pairs(labels)
    assert len(pairs) >= 5
    touching = {i for pair in pairs for i in pair}
    assert len(touching) >= 0.3 * (len(ids) - 1)


def test_cells_are_brighter(computed: tuple[SyntheticVolume, np.ndarray, np.ndarray]) -> None:
    _, image, labels = computed
    inside, outside = image[labels > 0].mean(), image[labels == 0].mean()
    assert inside > outside + 50


def test_contacts_are_darker() -> None:
    vol = make_cells((256, 256), seed=0, noise_std=0.0, blur_sigma=0.0)
    image, labels = (x.astype(np.int64) for x in dask.compute(vol.image, vol.labels))
    contact = np.zeros(labels.shape, dtype=bool)
    for axis in range(2):
        a, b = np.moveaxis(labels, axis, 0)[:-1], np.moveaxis(labels, axis, 0)[1:]
        edge = (a != b) & (a > 0) & (b > 0)
        np.moveaxis(contact, axis, 0)[:-1] |= edge
        np.moveaxis(contact, axis, 0)[1:] |= edge
    assert contact.any()
    assert image[contact].mean() < image[(labels > 0) & ~contact].mean() - 20


@pytest.mark.parametrize("ndim", [2, 3])
def test_chunk_independent(ndim: int) -> None:
    shape = (96, 80) if ndim == 2 else (24, 40, 36)
    chunks = (23, 41) if ndim == 2 else (7, 13, 36)
    a = make_cells(shape, seed=3, radius=6.0)
    b = make_cells(shape, seed=3, radius=6.0, chunks=chunks)
    np.testing.assert_array_equal(a.image.compute(), b.image.compute())
    np.testing.assert_array_equal(a.labels.compute(), b.labels.compute())


@pytest.mark.parametrize("ndim", [2, 3])
def test_seeded(ndim: int) -> None:
    shape = (96, 96) if ndim == 2 else (24, 40, 40)
    a = make_cells(shape, seed=5, radius=6.0)
    b = make_cells(shape, seed=5, radius=6.0)
    c = make_cells(shape, seed=6, radius=6.0)
    np.testing.assert_array_equal(a.image.compute(), b.image.compute())
    np.testing.assert_array_equal(a.labels.compute(), b.labels.compute())
    assert not np.array_equal(a.image.compute(), c.image.compute())
    assert not np.array_equal(a.labels.compute(), c.labels.compute())


def test_graph_is_lazy_for_a_huge_volume() -> None:
    start = time.perf_counter()
    vol = make_cells((1024, 1024, 1024), seed=0)
    assert time.perf_counter() - start < 2.0
    assert vol.image.shape == (1024, 1024, 1024)
    assert vol.image.numblocks == (16, 16, 16)
    block = vol.labels.blocks[8, 8, 8].compute()
    assert block.shape == (64, 64, 64)
    assert block.dtype == np.uint32


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": (5,)}, r"shape must be .*\(5,\)"),
        ({"shape": (16, -1)}, r"shape must be positive integers, got \[16, -1\]"),
        ({"shape": (16, True)}, r"shape must be positive integers"),
        ({"chunks": (0, 8)}, r"chunks must be positive integers, got \[0, 8\]"),
        ({"radius": 0.0}, r"radius must be > 0, got 0\.0"),
        ({"radius": -3}, r"radius must be > 0, got -3"),
        ({"cell_fraction": 1.0}, r"cell_fraction must be in \(0, 1\), got 1\.0"),
        ({"cell_fraction": 0}, r"cell_fraction must be in \(0, 1\), got 0"),
        ({"cluster_size": 0.5}, r"cluster_size must be >= 1, got 0\.5"),
        ({"cluster_size": -1.0}, r"cluster_size must be > 0, got -1\.0"),
        ({"blur_sigma": float("inf")}, r"blur_sigma must be finite, got inf"),
        ({"seed": "x"}, r"seed must be a non-negative integer, got 'x'"),
    ],
)
def test_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_cells(**kwargs)  # type: ignore[arg-type]
