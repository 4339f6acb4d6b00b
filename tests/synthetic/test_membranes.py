"""make_membranes: membrane share, connected cells, contrast, chunk independence, validation."""

from __future__ import annotations

import time

import dask
import numpy as np
import pytest
from scipy import ndimage

from stratoseg.synthetic import SyntheticVolume, make_membranes

# In 3-D a band of constant width around the cell faces is a larger share of the volume than
# around the edges in 2-D, so the 3-D case uses thinner membranes for the same 3-30 % range.
CASES = {2: ((256, 256), {}), 3: ((32, 64, 64), {"membrane_width": 1.5})}


@pytest.fixture(scope="module", params=[2, 3], ids=["2d", "3d"])
def computed(request: pytest.FixtureRequest) -> tuple[SyntheticVolume, np.ndarray, np.ndarray]:
    shape, kwargs = CASES[request.param]
    vol = make_membranes(shape, seed=0, **kwargs)
    image, labels = dask.compute(vol.image, vol.labels)
    return vol, image, labels


def test_contract(computed: tuple[SyntheticVolume, np.ndarray, np.ndarray]) -> None:
    vol, image, labels = computed
    assert vol.kind == "membranes"
    assert vol.classes == {0: "membrane"}
    assert vol.voxel_size == (1.0,) * image.ndim
    assert vol.image.dtype == image.dtype == np.uint8
    assert vol.labels.dtype == labels.dtype == np.uint32
    assert image.shape == labels.shape == vol.image.shape


def test_membrane_share(computed: tuple[SyntheticVolume, np.ndarray, np.ndarray]) -> None:
    _, _, labels = computed
    assert 0.03 <= (labels == 0).mean() <= 0.30
    assert len(np.unique(labels)) - 1 >= 20


def test_cells_are_connected(computed: tuple[SyntheticVolume, np.ndarray, np.ndarray]) -> None:
    _, _, labels = computed
    ids = np.unique(labels)[1:]
    objects = ndimage.find_objects(labels)
    single, in_largest, total = 0, 0, 0
    for i in ids:
        box = objects[i - 1]
        assert box is not None
        parts, n = ndimage.label(labels[box] == i)  # face connectivity
        sizes = np.bincount(parts.ravel())[1:]
        single += n == 1
        in_largest += sizes.max()
        total += sizes.sum()
    assert single >= 0.9 * len(ids)
    assert in_largest >= 0.99 * total


def test_membranes_are_darker(computed: tuple[SyntheticVolume, np.ndarray, np.ndarray]) -> None:
    _, image, labels = computed
    assert image[labels == 0].mean() < image[labels > 0].mean() - 30


def test_width_controls_share() -> None:
    thin = make_membranes((128, 128), seed=1, membrane_width=1.0).labels.compute()
    thick = make_membranes((128, 128), seed=1, membrane_width=4.0).labels.compute()
    assert (thin == 0).mean() < (thick == 0).mean()


@pytest.mark.parametrize("ndim", [2, 3])
def test_chunk_independent(ndim: int) -> None:
    shape = (96, 80) if ndim == 2 else (20, 40, 36)
    chunks = (23, 41) if ndim == 2 else (7, 13, 36)
    a = make_membranes(shape, seed=3, cell_size=12.0)
    b = make_membranes(shape, seed=3, cell_size=12.0, chunks=chunks)
    np.testing.assert_array_equal(a.image.compute(), b.image.compute())
    np.testing.assert_array_equal(a.labels.compute(), b.labels.compute())


@pytest.mark.parametrize("ndim", [2, 3])
def test_seeded(ndim: int) -> None:
    shape = (96, 96) if ndim == 2 else (16, 40, 40)
    a = make_membranes(shape, seed=5, cell_size=12.0)
    b = make_membranes(shape, seed=5, cell_size=12.0)
    c = make_membranes(shape, seed=6, cell_size=12.0)
    np.testing.assert_array_equal(a.image.compute(), b.image.compute())
    np.testing.assert_array_equal(a.labels.compute(), b.labels.compute())
    assert not np.array_equal(a.image.compute(), c.image.compute())
    assert not np.array_equal(a.labels.compute(), c.labels.compute())


def test_graph_is_lazy_for_a_huge_volume() -> None:
    start = time.perf_counter()
    vol = make_membranes((1024, 1024, 1024), seed=0, chunks=32)
    assert time.perf_counter() - start < 2.0
    assert vol.image.shape == (1024, 1024, 1024)
    assert vol.image.numblocks == (32, 32, 32)
    block = vol.image.blocks[31, 0, 17].compute()
    assert block.shape == (32, 32, 32)
    assert block.dtype == np.uint8


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": [8, 8, 8, 8]}, r"shape must be .*\[8, 8, 8, 8\]"),
        ({"shape": None}, r"shape must be .*None"),
        ({"chunks": 2.5}, r"chunks must be positive integers"),
        ({"cell_size": 0.0}, r"cell_size must be > 0, got 0\.0"),
        ({"membrane_width": 0}, r"membrane_width must be > 0, got 0"),
        ({"membrane_width": 30.0}, r"membrane_width must be < cell_size \(24\.0\), got 30\.0"),
        ({"warp": -0.1}, r"warp must be >= 0, got -0\.1"),
        ({"warp": 0.7}, r"warp must be in \[0, 0\.5\), got 0\.7"),
        ({"noise_std": -5}, r"noise_std must be >= 0, got -5"),
    ],
)
def test_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_membranes(**kwargs)  # type: ignore[arg-type]
