"""MSE, PSNR, UIQ and SSIM (Hammoumi et al. 2021, eqs 16-19): hand-worked values, scikit-image."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from stratoseg.metrics._image import mse, psnr, ssim, uiq

# The worked pair used below:
#   X = [[1, 2],      Y = [[1, 3],
#        [3, 4]]           [3, 5]]
# mean X = 2.5, deviations -1.5, -0.5, 0.5, 1.5 -> var X = (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25
# mean Y = 3,   deviations -2, 0, 0, 2          -> var Y = (4 + 0 + 0 + 4) / 4 = 2
# cov = (-1.5 * -2 + 0 + 0 + 1.5 * 2) / 4 = 6 / 4 = 1.5
X = np.array([[1, 2], [3, 4]])
Y = np.array([[1, 3], [3, 5]])


def test_mse_and_psnr_by_hand() -> None:
    # squared differences 0, 1, 0, 1 -> MSE = 2 / 4 = 0.5
    assert mse(X, Y) == 0.5
    # PSNR = 10 log10(255^2 / 0.5) = 10 log10(130050) = 51.14110...
    assert psnr(X, Y, data_range=255) == pytest.approx(51.141103565318915, rel=1e-12)
    # uint8 reference: L = 2^8 - 1 = 255 by default
    assert psnr(X.astype(np.uint8), Y, data_range=None) == pytest.approx(51.141103565318915)
    # float reference: L = max - min = 3 -> 10 log10(9 / 0.5) = 10 log10(18) = 12.5527...
    assert psnr(X.astype(float), Y) == pytest.approx(10 * math.log10(18))


def test_uiq_by_hand() -> None:
    # Q = 4 cov mX mY / ((varX + varY)(mX^2 + mY^2))
    #   = 4 * 1.5 * 2.5 * 3 / ((1.25 + 2) * (6.25 + 9)) = 45 / (3.25 * 15.25) = 45 / 49.5625
    assert uiq(X, Y) == pytest.approx(45 / 49.5625, rel=1e-12)  # 0.907944...
    # three factors of eq 18: correlation 1.5 / sqrt(2.5), luminance 15 / 15.25,
    # contrast 2 sqrt(2.5) / 3.25; their product is the same number
    product = (1.5 / math.sqrt(2.5)) * (15 / 15.25) * (2 * math.sqrt(2.5) / 3.25)
    assert uiq(X, Y) == pytest.approx(product, rel=1e-12)


def test_ssim_by_hand() -> None:
    # L = 4: C1 = (0.01 * 4)^2 = 0.0016, C2 = (0.03 * 4)^2 = 0.0144, C3 = C2 / 2 = 0.0072
    c1, c2, c3 = 0.0016, 0.0144, 0.0072
    a = (2 * 2.5 * 3 + c1) / (2.5**2 + 3**2 + c1)  # 15.0016 / 15.2516 = 0.98361
    b = (2 * math.sqrt(1.25 * 2) + c2) / (1.25 + 2 + c2)  # (2 * 1.58114 + .0144) / 3.2644 = 0.97313
    c = (1.5 + c3) / (math.sqrt(1.25 * 2) + c3)  # 1.5072 / 1.58834 = 0.94892
    assert a * b * c == pytest.approx(0.908279864809538, rel=1e-12)
    assert ssim(X, Y, data_range=4) == pytest.approx(a * b * c, rel=1e-12)
    # the two-term form (C3 = C2 / 2):
    # (2 mX mY + C1)(2 cov + C2) / ((mX^2 + mY^2 + C1)(vX + vY + C2))
    two_term = (15 + c1) * (3 + c2) / ((15.25 + c1) * (3.25 + c2))
    assert ssim(X, Y, data_range=4) == pytest.approx(two_term, rel=1e-12)


# A pair whose windowed and global values differ:
#   P = [[1, 2, 3],    Q = [[1, 2, 2],
#        [1, 2, 3]]         [1, 2, 2]]
# window=2 has two positions: columns 0-1 (identical windows, UIQ 1) and columns 1-2
# (P: 2, 3, 2, 3, mean 2.5, var 0.25; Q: constant 2, var 0 -> cov 0 -> UIQ 0).
P = np.array([[1, 2, 3], [1, 2, 3]])
Q = np.array([[1, 2, 2], [1, 2, 2]])


def test_windowed_by_hand() -> None:
    assert uiq(P, Q, window=2) == pytest.approx((1 + 0) / 2)
    # global: mP = 2, varP = 2/3; mQ = 5/3, deviations -2/3, 1/3, 1/3 -> varQ = 2/9;
    # cov = (1 * 2/3 + 0 + 1 * 1/3) * 2 / 6 = 1/3
    # UIQ = 4 (1/3)(2)(5/3) / ((2/3 + 2/9)(4 + 25/9)) = (40/9) / ((8/9)(61/9)) = 45/61
    assert uiq(P, Q) == pytest.approx(45 / 61, rel=1e-12)
    # SSIM, L = 2: C1 = 0.0004, C2 = 0.0036. Window 0 is identical (1); window 1:
    # A = (2 * 2.5 * 2 + C1) / (6.25 + 4 + C1), B * C = (2 * 0 + C2) / (0.25 + 0 + C2)
    c1, c2 = 0.0004, 0.0036
    second = (10 + c1) / (10.25 + c1) * c2 / (0.25 + c2)
    assert ssim(P, Q, data_range=2, window=2) == pytest.approx((1 + second) / 2, rel=1e-12)


def test_window_equal_to_image_is_global() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.random((5, 5)), rng.random((5, 5))
    assert uiq(a, b, window=5) == pytest.approx(uiq(a, b), rel=1e-10)
    assert ssim(a, b, window=5, data_range=1) == pytest.approx(ssim(a, b, data_range=1), rel=1e-10)


@pytest.mark.parametrize("window", [None, 3])
@pytest.mark.parametrize("shape", [(16, 20), (6, 8, 10)])
def test_identical_images(shape: tuple[int, ...], window: int | None) -> None:
    img = np.random.default_rng(2).random(shape)
    assert mse(img, img) == 0.0
    assert psnr(img, img) == math.inf
    assert uiq(img, img, window=window) == pytest.approx(1.0, abs=1e-12)
    assert ssim(img, img, data_range=1, window=window) == pytest.approx(1.0, abs=1e-12)


def test_constant_images() -> None:
    ones, threes = np.ones((4, 4)), np.full((4, 4), 3.0)
    assert uiq(ones, ones) == 1.0  # identical constants
    assert uiq(ones, ones, window=2) == 1.0
    assert uiq(ones, threes) == pytest.approx(2 * 3 / (1 + 9))  # luminance factor only
    assert uiq(np.zeros((4, 4)), np.zeros((4, 4))) == 1.0  # both means and variances zero
    ramp = np.arange(16.0).reshape(4, 4)
    assert uiq(ones, ramp) == 0.0  # one constant: no covariance
    assert ssim(ones, ones, data_range=1) == 1.0
    # zero means: the luminance factor is 1 and the structure term still counts
    checker = np.array([[1.0, -1.0], [-1.0, 1.0]])
    assert uiq(checker, -checker) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="data_range must be given"):
        psnr(ones, threes)


@pytest.mark.parametrize("seed", range(5))
def test_uiq_range(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(12, 14)) * rng.uniform(0.1, 10) + rng.uniform(-5, 5)
    b = rng.normal(size=(12, 14)) * rng.uniform(0.1, 10) + rng.uniform(-5, 5)
    for window in (None, 4):
        assert -1.0 <= uiq(a, b, window=window) <= 1.0


def test_uiq_inverted_is_negative() -> None:
    img = np.random.default_rng(3).integers(0, 256, size=(20, 24)).astype(np.uint8)
    inverted = 255 - img
    assert uiq(img, inverted) < 0
    assert uiq(img, inverted, window=8) < 0


@pytest.mark.parametrize("shape", [(32, 40), (12, 16, 20)])
def test_ssim_matches_skimage(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(4)
    ref = rng.random(shape)
    test = np.clip(ref + 0.2 * rng.normal(size=shape), 0, 1)
    expected = structural_similarity(
        ref, test, data_range=1.0, win_size=7, use_sample_covariance=False, gaussian_weights=False
    )
    assert ssim(ref, test, data_range=1.0, window=7) == pytest.approx(expected, abs=1e-6)


def test_ssim_matches_skimage_uint8_default_range() -> None:
    rng = np.random.default_rng(5)
    ref = rng.integers(0, 256, size=(30, 30), dtype=np.uint8)
    test = rng.integers(0, 256, size=(30, 30), dtype=np.uint8)
    expected = structural_similarity(
        ref, test, win_size=7, use_sample_covariance=False, gaussian_weights=False
    )
    assert ssim(ref, test, window=7) == pytest.approx(expected, abs=1e-6)


def test_psnr_matches_skimage() -> None:
    rng = np.random.default_rng(6)
    ref8 = rng.integers(0, 256, size=(20, 20), dtype=np.uint8)
    test8 = rng.integers(0, 256, size=(20, 20), dtype=np.uint8)
    assert psnr(ref8, test8) == pytest.approx(peak_signal_noise_ratio(ref8, test8), rel=1e-12)
    ref16 = rng.integers(0, 65536, size=(4, 5, 6), dtype=np.uint16)
    test16 = rng.integers(0, 65536, size=(4, 5, 6), dtype=np.uint16)
    assert psnr(ref16, test16) == pytest.approx(peak_signal_noise_ratio(ref16, test16), rel=1e-12)
    ref, test = rng.random((20, 20)), rng.random((20, 20))
    expected = peak_signal_noise_ratio(ref, test, data_range=2.0)
    assert psnr(ref, test, data_range=2.0) == pytest.approx(expected, rel=1e-12)


def test_no_integer_wraparound_and_inputs_untouched() -> None:
    ref = np.zeros((2, 2), np.uint8)
    test = np.full((2, 2), 255, np.uint8)
    ref_copy, test_copy = ref.copy(), test.copy()
    assert mse(ref, test) == 255.0**2
    assert psnr(ref, test) == pytest.approx(0.0)
    uiq(ref, test, window=2)
    ssim(ref, test, window=2)
    np.testing.assert_array_equal(ref, ref_copy)
    np.testing.assert_array_equal(test, test_copy)


@pytest.mark.parametrize("func", [mse, psnr, uiq, ssim])
def test_bad_images(func: Callable[..., float]) -> None:
    ok = np.ones((4, 4))
    with pytest.raises(ValueError, match="same shape"):
        func(ok, np.ones((4, 5)))
    with pytest.raises(ValueError, match="ndim >= 2"):
        func(np.ones(4), np.ones(4))
    with pytest.raises(TypeError, match="test dtype"):
        func(ok, ok.astype(complex))
    nan = ok.copy()
    nan[1, 1] = np.nan
    with pytest.raises(ValueError, match="reference must be finite"):
        func(nan, ok)
    with pytest.raises(ValueError, match="must not be empty"):
        func(np.ones((0, 3)), np.ones((0, 3)))


@pytest.mark.parametrize("func", [uiq, ssim])
def test_bad_window(func: Callable[..., float]) -> None:
    ok = np.arange(24.0).reshape(4, 6)
    with pytest.raises(ValueError, match=r"window must be <= the smallest image dimension 4"):
        func(ok, ok, window=5)
    with pytest.raises(ValueError, match="window must be >= 2, got 1"):
        func(ok, ok, window=1)
    with pytest.raises(TypeError, match="window must be an int"):
        func(ok, ok, window=3.0)


def test_bad_options() -> None:
    ok = np.arange(16.0).reshape(4, 4)
    with pytest.raises(ValueError, match="data_range must be finite and > 0, got 0"):
        psnr(ok, ok, data_range=0)
    with pytest.raises(ValueError, match="data_range must be finite and > 0"):
        ssim(ok, ok, data_range=math.nan)
    with pytest.raises(TypeError, match="data_range must be a real number"):
        psnr(ok, ok, data_range="255")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"k1 must be finite and > 0, got -0\.01"):
        ssim(ok, ok, k1=-0.01)
    with pytest.raises(TypeError, match="k2 must be a real number"):
        ssim(ok, ok, k2=None)  # type: ignore[arg-type]
