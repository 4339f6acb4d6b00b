"""Weight maps against hand-computed values at a few pixels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stratoseg.training import (
    class_balance,
    distance_weight_map,
    make_weights,
    shape_aware_weight_map,
    triplex_weight_map,
    unet_weight_map,
)


def _bar() -> np.ndarray:
    """A 3 x 9 bar in a 5 x 11 image: 27 object pixels, 28 background; its skeleton (Lee) is
    the middle row, (2, 1) to (2, 9), so contour pixels are 1 from it except the two ends."""
    h = np.zeros((5, 11), dtype=np.uint8)
    h[1:4, 1:10] = 1
    return h


def test_class_balance_is_n_over_the_class_count_and_respects_the_mask() -> None:
    h = np.array([[0, 0, 0, 1], [0, 1, 2, 2]])
    w = class_balance(h)
    assert w[0, 0] == pytest.approx(8 / 4)
    assert w[0, 3] == pytest.approx(8 / 2)
    assert w[1, 2] == pytest.approx(8 / 2)
    mask = np.array([[1, 1, 0, 0], [0, 1, 1, 1]], bool)  # counted: 0, 0, 1, 2, 2
    wm = class_balance(h, mask=mask)
    assert wm[0, 0] == pytest.approx(5 / 2)
    assert wm[1, 1] == pytest.approx(5 / 1)
    balanced = make_weights("balance", h)  # every class the same total: mean = 3 N / N
    assert balanced[0, 0] == pytest.approx(2 / 3)
    assert float(balanced.mean()) == pytest.approx(1.0)
    assert float(make_weights("balance", h, mask=mask)[mask].mean()) == pytest.approx(1.0)


def test_unet_border_weight_between_two_objects() -> None:
    h = np.array([[1, 0, 0, 1]])
    w = unet_weight_map(h, nu=10, sigma=5)
    # background (0, 1): phi_1 = 1 to the left object, phi_2 = 2 to the right one; N / n_0 = 2
    assert w[0, 1] == pytest.approx(2 + 10 * math.exp(-(3**2) / (2 * 25)), rel=1e-6)
    assert w[0, 2] == pytest.approx(w[0, 1])
    assert w[0, 0] == pytest.approx(2)  # objects: the balance weight only
    single = unet_weight_map(np.array([[1, 0, 0, 0]]))
    assert single[0, 1] == pytest.approx(4 / 3)  # one object: no border term


def test_unet_border_weight_from_instances_that_touch() -> None:
    g = np.array([[1, 1, 0, 2, 2]])  # one connected mask would be two objects here
    h = (g > 0).astype(np.uint8)
    w = unet_weight_map(h, instances=g, nu=10, sigma=5)
    assert w[0, 2] == pytest.approx(5 + 10 * math.exp(-(2**2) / 50), rel=1e-6)


def test_dwm_decays_linearly_from_objects() -> None:
    h = np.zeros((1, 6), dtype=np.uint8)
    h[0, 0] = 1
    w = distance_weight_map(h, beta=4)
    assert w[0, 0] == pytest.approx(6 + 1)  # w^B + 1 on the object (N / n_1 = 6)
    assert w[0, 1] == pytest.approx(1.2 * (1 - 1 / 4) + 1)  # N / n_0 = 6 / 5, phi = 1
    assert w[0, 3] == pytest.approx(1.2 * (1 - 3 / 4) + 1)
    assert w[0, 5] == pytest.approx(1.0)  # phi = 5 > beta


def test_saw_contour_term_before_smoothing() -> None:
    w = shape_aware_weight_map(_bar(), iterations=0)
    wb1, wb0 = 55 / 27, 55 / 28
    # tau = 1 (every contour pixel but the ends is 1 from the skeleton): w^c = 1 - phi_K
    assert w[2, 1] == pytest.approx(wb1 + 1 + 1)  # the bar's end: on the skeleton
    assert w[1, 5] == pytest.approx(wb1 + 0 + 1)  # long side: phi_K = 1 = tau
    assert w[2, 5] == pytest.approx(wb1 + 1)  # inside: not a contour
    assert w[0, 0] == pytest.approx(wb0 + 1)


def test_saw_smoothing_spreads_the_contour_term_symmetrically() -> None:
    w = shape_aware_weight_map(_bar(), iterations=20)
    assert w[2, 0] == pytest.approx(w[2, 10], rel=1e-5)  # left and right of the bar alike
    assert w[0, 5] == pytest.approx(w[4, 5], rel=1e-5)
    assert w[2, 0] > 55 / 28 + 1  # the propagated term reaches the background


def test_saw_concave_object_weights_its_concave_complement() -> None:
    h = np.zeros((8, 8), dtype=np.uint8)
    h[1:7, 1:3] = 1
    h[5:7, 1:7] = 1  # an L: its convex hull adds a triangle, whose contour gets weight
    convex = np.zeros_like(h)
    convex[1:7, 1:7] = 1
    w_l = shape_aware_weight_map(h, iterations=0)
    wb0 = h.size / (h == 0).sum()
    assert (w_l[h == 0] > wb0 + 1 + 1e-6).any()
    w_c = shape_aware_weight_map(convex, iterations=0)
    assert np.allclose(w_c[convex == 0], convex.size / (convex == 0).sum() + 1)


def test_w3_hand_values() -> None:
    h = _bar()
    nu, beta, sigma = 10.0, 30.0, 3.0
    w = triplex_weight_map(h, beta=beta, nu=nu, sigma=sigma)
    inv0, inv1 = nu * 55 / 28, nu * 55 / 27
    # background at distance 1 from the bar's end
    assert w[2, 10] == pytest.approx(inv0 + inv1 * (1 - 1 / beta))
    # contour pixels: distance to the skeleton 1 (long side) and 0 (the end)
    side = inv1 + nu * (1 - 1 / beta)
    assert w[1, 5] == pytest.approx(side)
    assert w[2, 1] == pytest.approx(inv1 + nu)
    # inside: the Gaussian of its nearest contour pixels (both sides alike), 1 away
    assert w[2, 5] == pytest.approx(inv1 + side * math.exp(-1 / sigma**2))
    # with beta = 2, background 2 or more away keeps nu / n_0 only (weak annotations)
    assert triplex_weight_map(h, beta=2)[0, 5] == pytest.approx(inv0 + inv1 * (1 - 1 / 2))
    assert triplex_weight_map(h, beta=2)[2, 10] == pytest.approx(inv0 + inv1 * (1 - 1 / 2))
    far = np.zeros((5, 20), dtype=np.uint8)
    far[1:4, 1:4] = 1
    assert triplex_weight_map(far, beta=2)[2, 19] == pytest.approx(nu * 100 / 91)


def test_w3_touching_class_outweighs_everything() -> None:
    h = _bar()
    h[2, 5] = 2
    w = triplex_weight_map(h)
    assert w[2, 5] == pytest.approx(10 * 55 / 1)
    assert w[2, 5] == w.max()


def test_weights_by_name() -> None:
    h = _bar()
    assert (make_weights("none", h) == 1).all()
    for name in ("balance", "unet", "dwm", "saw", "w3"):
        w = make_weights(name, h)
        assert w.shape == h.shape
        assert w.dtype == np.float32
        assert (w >= 0).all()
        assert float(w.mean()) == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(ValueError, match="weights must be one of"):
        make_weights("bogus", h)
    with pytest.raises(ValueError, match=r"mask of shape \(2, 2\) does not match"):
        make_weights("dwm", h, mask=np.ones((2, 2), bool))
    h3 = np.zeros((5, 6, 6), dtype=np.uint8)
    h3[1:4, 1:4, 1:4] = 1
    for name in ("unet", "dwm", "saw", "w3"):
        assert make_weights(name, h3).shape == h3.shape
