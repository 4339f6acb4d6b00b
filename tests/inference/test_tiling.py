"""Window tilings and block prediction, with a numpy stand-in network of known receptive field."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest
from scipy import ndimage as ndi

from stratoseg.inference import Axis, gaussian_weights, plan_block, predict_block, read_extended

RF = 7  # the stand-in network's receptive field: a 7-voxel box filter with zero padding


def box_network(tiles: np.ndarray, context_axes: tuple[int, ...] = ()) -> np.ndarray:
    """(B, 1, *window) -> (B, 2, *out): a box mean with zeros beyond each window's edges,
    squashed to two class probabilities. Context axes are averaged to their central slice."""
    out = []
    for tile in tiles[:, 0]:
        for ax in context_axes:
            tile = tile.mean(axis=ax, keepdims=True)
        size = tuple(1 if ax in context_axes else RF for ax in range(tile.ndim))
        f = ndi.uniform_filter(tile.astype(np.float64), size=size, mode="constant")
        p = 1 / (1 + np.exp(-(f - 0.5) * 6))
        out.append(np.stack([1 - p, p]))
    return np.asarray(out, np.float32)


def whole_reference(volume: np.ndarray, axes: list[Axis]) -> np.ndarray:
    """The network on the whole volume, extended by its edges as far as the windows reach."""
    pad = [(a.halo, a.halo + a.window) for a in axes]
    big = np.pad(volume, pad, mode="edge")
    probs = box_network(big[None, None])[0]
    crop = tuple(slice(a.halo, a.halo + n) for a, n in zip(axes, volume.shape, strict=True))
    return probs[(slice(None), *crop)]


def blocks_of(shape: tuple[int, ...], block: tuple[int, ...]) -> list[tuple[slice, ...]]:
    ranges = [range(0, n, b) for n, b in zip(shape, block, strict=True)]
    return [
        tuple(slice(s, min(s + b, n)) for s, b, n in zip(start, block, shape, strict=True))
        for start in product(*ranges)
    ]


def assemble(volume, axes, block, **kwargs) -> np.ndarray:
    out = np.zeros((2, *volume.shape), np.float32)
    for b in blocks_of(volume.shape, block):
        out[(slice(None), *b)] = predict_block(
            b,
            axes,
            lambda region: read_extended(volume[None], region),
            box_network,
            **kwargs,
        )
    return out


RNG = np.random.default_rng(0)
VOL_2D = ndi.gaussian_filter(RNG.random((45, 53)), 2)
VOL_3D = ndi.gaussian_filter(RNG.random((20, 27, 30)), 1.5)


def test_read_extended_equals_edge_padding() -> None:
    pad = 9
    big = np.pad(VOL_2D, pad, mode="edge")
    for lo_y, lo_x, hy, hx in [(-9, -9, 10, 12), (40, 50, 54, 62), (-3, 20, 50, 30), (5, 5, 6, 6)]:
        got = read_extended(VOL_2D, [slice(lo_y, hy), slice(lo_x, hx)])
        np.testing.assert_array_equal(got, big[lo_y + pad : hy + pad, lo_x + pad : hx + pad])
    assert read_extended(VOL_2D[None], [slice(-2, 3), slice(0, 4)]).shape == (1, 5, 4)


@pytest.mark.parametrize(
    ("shape", "axes"),
    [
        ((45, 53), [Axis(16, 4, 8), Axis(16, 4, 8)]),
        ((20, 27, 30), [Axis(3, 1, context=True), Axis(32, 8, 8), Axis(32, 12, 4)]),
    ],
)
def test_crop_windows_tile_the_block_on_the_pooling_grid(shape, axes) -> None:
    for b in blocks_of(
        shape, tuple(8 * (1 + i) if not a.context else 4 for i, a in enumerate(axes))
    ):
        windows = plan_block(b, axes)
        seen = np.zeros(shape, int)
        for w in windows:
            assert w.keep is not None
            seen[w.keep] += 1
            for o, k, a in zip(w.origin, w.keep, axes, strict=True):
                assert o + a.halo == k.start  # kept part starts halo voxels into the window
                assert k.stop - k.start <= a.stride
                assert a.context or (o + a.halo) % a.divisor == 0
        assert np.all(seen[b] == 1)  # every voxel of the block exactly once
        assert seen.sum() == np.prod([s.stop - s.start for s in b])


@pytest.mark.parametrize("block", [(16, 16), (8, 24), (48, 56)])
def test_crop_equals_one_whole_pass_when_the_halo_covers_the_receptive_field(block) -> None:
    axes = [Axis(16, 4, 4), Axis(24, 4, 4)]  # halo 4 >= RF // 2 = 3
    got = assemble(VOL_2D, axes, block, batch_size=3)
    np.testing.assert_allclose(got, whole_reference(VOL_2D, axes), atol=1e-6)


def test_crop_differs_when_the_halo_is_too_small() -> None:
    axes = [Axis(16, 2, 4), Axis(16, 2, 4)]  # halo 2 < RF // 2
    got = assemble(VOL_2D, axes, (16, 16))
    assert np.abs(got - whole_reference(VOL_2D, axes)).max() > 1e-3


def test_crop_in_3d_with_a_context_axis() -> None:
    """A 2.5D network: z windows of 3 slices, each predicting its central slice."""
    axes = [Axis(3, 1, context=True), Axis(16, 4, 4), Axis(16, 4, 4)]

    def net(tiles: np.ndarray) -> np.ndarray:
        return box_network(tiles, context_axes=(0,))

    out = np.zeros((2, *VOL_3D.shape), np.float32)
    for b in blocks_of(VOL_3D.shape, (7, 16, 16)):
        out[(slice(None), *b)] = predict_block(
            b, axes, lambda r: read_extended(VOL_3D[None], r), net
        )
    # reference: each slice averaged with its neighbours (edge-extended in z), then the box
    zavg = ndi.uniform_filter1d(VOL_3D, 3, axis=0, mode="nearest")
    for z in (0, 9, 19):
        ref = whole_reference(zavg[z], axes[1:])
        np.testing.assert_allclose(out[:, z], ref, atol=1e-6)


def test_gaussian_blend_is_a_weighted_average() -> None:
    axes = [Axis(16, 4, 4), Axis(16, 4, 4)]
    got = assemble(VOL_2D, axes, (24, 24), tiling="gaussian")
    np.testing.assert_allclose(got.sum(axis=0), 1.0, atol=1e-5)  # probabilities stay so
    whole = whole_reference(VOL_2D, axes)
    assert np.abs(got - whole).max() < 0.2  # close to, not equal to, the whole pass
    w = gaussian_weights(axes)
    assert w.shape == (16, 16)
    assert w.max() == 1.0
    assert w[0, 0] < w[8, 8]


def test_stratified_is_seeded_and_averages_passes() -> None:
    axes = [Axis(16, 0, 4), Axis(16, 0, 4)]
    a = assemble(VOL_2D, axes, (24, 24), tiling="stratified", passes=4, seed=5)
    b = assemble(VOL_2D, axes, (24, 24), tiling="stratified", passes=4, seed=5)
    c = assemble(VOL_2D, axes, (24, 24), tiling="stratified", passes=4, seed=6)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(a.sum(axis=0), 1.0, atol=1e-5)


def test_stratified_origins_follow_eq_13() -> None:
    axis = Axis(16, 0, 4)
    step = 8
    windows = plan_block([slice(32, 64)], [axis], "stratified", passes=1, step=[step], seed=1)
    origins = sorted(w.origin[0] for w in windows)
    base = 32 - axis.window
    # each origin is (k + 1/2) s' + U(-s', s') from the grid start, so within 3 s' / 2 of a
    # grid point (k + 1/2) s'
    for o in origins:
        k = round((o - base) / step - 0.5)
        assert abs(o - (base + (k + 0.5) * step)) <= 1.5 * step
    assert len(origins) >= (64 - 32) // step


def test_bad_tilings_name_the_problem() -> None:
    with pytest.raises(ValueError, match="multiple of the network's divisor 8"):
        Axis(20, 2, 8)
    with pytest.raises(
        ValueError, match="window - 2 halo = 12 must be a multiple of the divisor 8"
    ):
        Axis(16, 2, 8)
    with pytest.raises(ValueError, match="leaves nothing"):
        Axis(16, 8, 8)
    with pytest.raises(ValueError, match="block start 4 must be a multiple"):
        plan_block([slice(4, 20)], [Axis(16, 4, 8)])
    with pytest.raises(ValueError, match="passes must be >= 1, got 0"):
        plan_block([slice(0, 8)], [Axis(16, 4, 8)], "stratified", passes=0)
    with pytest.raises(ValueError, match="tiling must be"):
        plan_block([slice(0, 8)], [Axis(16, 4, 8)], "mosaic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        predict_block([slice(0, 8)], [Axis(16, 4, 8)], lambda r: r, box_network, batch_size=0)
