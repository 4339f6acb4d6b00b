"""Hand-checked values of the distance maps and enhanced images (Hammoumi et al. 2021, §4.1)."""

from __future__ import annotations

import numpy as np
import pytest

from stratoseg.enhance import (
    EnhanceParams,
    distance_to,
    enhance_array,
    geodesic_distance,
    level_set_distances,
)

# A 1 x 6 binary image: background 0 0, foreground 1 1 1 1
ROW = np.array([[0, 0, 1, 1, 1, 1]], bool)


def test_eq1_and_eq3_binary_distance_maps() -> None:
    _, dt, dtc = enhance_array(ROW, EnhanceParams(method="binary"), return_maps=True)
    # eq (1): distance of each voxel to the nearest I = 0 voxel (0 on the background)
    assert dt.tolist() == [[0, 0, 1, 2, 3, 4]]
    # eq (3): distance to the nearest I = max(I) voxel (0 on the foreground)
    assert dtc.tolist() == [[2, 1, 0, 0, 0, 0]]


def test_eq4_enhanced_image_with_alpha_beta_and_anisotropy() -> None:
    p = EnhanceParams(method="binary", alpha=0.5, beta=2.0)
    # I_e = I + 0.5 DT - 2 DT_c, with x voxels 2 units long: distances double
    out = enhance_array(ROW, p, voxel_size=(1.0, 2.0))
    assert out.tolist() == [
        [0 - 2 * 4, 0 - 2 * 2, 1 + 0.5 * 2, 1 + 0.5 * 4, 1 + 0.5 * 6, 1 + 0.5 * 8]
    ]


def test_euclidean_distance_in_2d() -> None:
    feat = np.zeros((3, 3), bool)
    feat[0, 0] = True
    np.testing.assert_allclose(distance_to(feat)[2, 1], np.sqrt(5))


def test_eq5_and_eq6_summed_level_sets() -> None:
    img = np.array([[0, 1, 2, 3]])
    dt, dtc = level_set_distances(img, [1, 2, 3])
    # eq (5): sum over i of d(x, {I >= i}); x = 0: 1 + 2 + 3; x = 1: 0 + 1 + 2; ...
    assert dt.tolist() == [[6, 3, 1, 0]]
    # eq (6): sum over i of d(x, {I < i}); x = 3: 3 + 2 + 1
    assert dtc.tolist() == [[0, 1, 3, 6]]


def test_grayscale_method_is_exact_when_the_levels_cover_an_integer_image() -> None:
    img = np.array([[0, 1, 2, 3]], np.uint8)
    _, dt, dtc = enhance_array(img, EnhanceParams(method="grayscale", levels=3), return_maps=True)
    np.testing.assert_allclose(dt, [[2, 1, 1 / 3, 0]], rtol=1e-6)  # eq (5) / K
    np.testing.assert_allclose(dtc, [[0, 1 / 3, 1, 2]], rtol=1e-6)


def test_eq2_straight_line_through_a_constant_image() -> None:
    img = np.full((5, 9), 0.7)
    seeds = np.zeros_like(img, bool)
    seeds[2, 0] = True
    d = geodesic_distance(img, seeds, gamma=5.0)  # no gradient: gamma changes nothing
    np.testing.assert_allclose(d[2], np.arange(9))
    np.testing.assert_allclose(d[0, 2], 2 * np.sqrt(2))  # two diagonal steps


def test_eq2_step_edge_with_gamma() -> None:
    img = np.zeros((1, 6))
    img[0, 3:] = 0.5  # a step of height 0.5 between x = 2 and x = 3
    seeds = np.zeros_like(img, bool)
    seeds[0, 0] = True
    for gamma in (0.0, 1.0, 4.0):
        d = geodesic_distance(img, seeds, gamma=gamma)
        crossing = np.sqrt(1 + (gamma * 0.5) ** 2)  # the integral of eq (2) across the step
        np.testing.assert_allclose(d[0], [0, 1, 2, 2 + crossing, 3 + crossing, 4 + crossing])


def test_max_distance_clips_and_scales() -> None:
    p = EnhanceParams(method="binary", max_distance=2.0)
    _, dt, dtc = enhance_array(ROW, p, return_maps=True)
    assert dt.tolist() == [[0, 0, 0.5, 1, 1, 1]]
    assert dtc.tolist() == [[1, 0.5, 0, 0, 0, 0]]


def test_2d_mode_ignores_z() -> None:
    vol = np.zeros((3, 1, 4), bool)
    vol[0, 0, :] = True  # a foreground slice above two background slices
    _, _dt, dtc = enhance_array(vol, EnhanceParams(method="binary", mode="2d"), return_maps=True)
    # no foreground in that 1 x 4 slice: the slice's diagonal, sqrt(1 + 16), finite
    np.testing.assert_allclose(dtc[1], np.sqrt(17))
    _, _dt3, dtc3 = enhance_array(vol, EnhanceParams(method="binary", mode="3d"), return_maps=True)
    assert dtc3[1].tolist() == [[1, 1, 1, 1]]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": -1}, "alpha"),
        ({"gamma": -0.1}, "gamma"),
        ({"levels": 0}, "levels"),
        ({"max_distance": 0}, "max_distance"),
        ({"method": "fancy"}, "method"),
    ],
)
def test_bad_parameters_name_themselves(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        EnhanceParams(**kwargs)


def test_constant_images_stay_finite() -> None:
    for method in ("binary", "grayscale", "projected", "geodesic"):
        out = enhance_array(np.full((6, 7), 3.0), EnhanceParams(method=method))
        assert np.isfinite(out).all(), method


@pytest.mark.parametrize("field", ["alpha", "gamma", "max_distance"])
def test_infinite_parameters_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        EnhanceParams(**{field: float("inf")})


def test_bad_arrays() -> None:
    with pytest.raises(ValueError, match="2-D or 3-D"):
        enhance_array(np.zeros((2, 2, 2, 2)), EnhanceParams())
    with pytest.raises(TypeError, match="complex"):
        enhance_array(np.zeros((4, 4), np.complex64), EnhanceParams())
    with pytest.raises(ValueError, match="all-zero mask"):
        enhance_array(
            np.zeros((4, 4)), EnhanceParams(method="geodesic"), seeds=np.zeros((4, 4), bool)
        )


def test_default_threshold_is_otsu_of_the_volume() -> None:
    from skimage.filters import threshold_otsu

    from stratoseg.enhance import global_values

    img = np.random.default_rng(0).normal(100, 20, (10, 30, 30)).astype(np.float32)
    img[:, :15] += 80
    g = global_values(img, EnhanceParams())
    assert g.lo + g.threshold * (g.hi - g.lo) == pytest.approx(threshold_otsu(img), rel=0.01)


@pytest.mark.parametrize(("shape", "worst"), [((41, 41), 0.083), ((21, 21, 21), 0.129)])
def test_gamma_zero_is_the_chamfer_euclidean_distance(shape, worst: float) -> None:
    seeds = np.zeros(shape, bool)
    centre = tuple(s // 2 for s in shape)
    seeds[centre] = True
    d = geodesic_distance(np.zeros(shape), seeds, gamma=0.0)
    euclid = np.sqrt(sum((i - c) ** 2 for i, c in zip(np.indices(shape), centre, strict=True)))
    far = euclid > 3
    ratio = d[far] / euclid[far]
    assert ratio.min() >= 1 - 1e-12  # never shorter than the straight line
    assert ratio.max() - 1 < worst  # documented bound, 8.2 % in 2-D and 12.8 % in 3-D
