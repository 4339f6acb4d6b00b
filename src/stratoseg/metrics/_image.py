"""Full-reference image quality for regression outputs: MSE, PSNR, UIQ and SSIM.

The four measures of Hammoumi et al. (2021), §5.3.2, eqs (16)-(19), for comparing a predicted
image (``test``, the paper's distorted image :math:`I_d`) with its ground truth (``reference``,
the original image :math:`I_o`). Every function takes two arrays of the same shape with
``ndim >= 2`` (2-D images, 3-D volumes, or more), computes in float64 and never modifies its
inputs.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.ndimage import uniform_filter

from stratoseg._errors import check_dtype

__all__ = ["check_finite", "mse", "psnr", "ssim", "uiq"]

FloatArray = NDArray[np.float64]

#: Variances (and squared means) below ``_TINY * scale**2`` count as zero in the degenerate
#: cases of UIQ, where ``scale`` is the largest absolute value of either image. This absorbs the
#: rounding error of ``E[x**2] - E[x]**2`` on constant regions (about ``eps * scale**2``).
_TINY = 1e-12


def _check_pair(reference: ArrayLike, test: ArrayLike) -> tuple[FloatArray, FloatArray, np.dtype]:
    """Validate two images and return float64 copies of both and the reference's dtype."""
    ref = np.asarray(reference)
    tst = np.asarray(test)
    ref_dtype = check_dtype(ref.dtype, name="reference dtype")
    check_dtype(tst.dtype, name="test dtype")
    if ref.ndim < 2:
        raise ValueError(f"reference must have ndim >= 2, got ndim={ref.ndim} (shape {ref.shape})")
    if ref.shape != tst.shape:
        raise ValueError(
            f"reference and test must have the same shape, got {ref.shape} and {tst.shape}"
        )
    if ref.size == 0:
        raise ValueError(f"reference must not be empty, got shape {ref.shape}")
    ref64 = ref.astype(np.float64)  # always a copy: the inputs are never touched
    tst64 = tst.astype(np.float64)
    check_finite(ref64, "reference")
    check_finite(tst64, "test")
    return ref64, tst64, ref_dtype


def check_finite(arr: np.ndarray, name: str) -> None:
    """Refuse NaN and infinite values in ``arr``, naming it ``name`` and counting them."""
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        raise ValueError(
            f"{name} must be finite, got {np.count_nonzero(~np.isfinite(arr))} "
            "NaN or infinite values"
        )


def _default_data_range(ref: FloatArray, dtype: np.dtype) -> float:
    """The dynamic range L implied by the reference's dtype (ints, bool) or its values (floats)."""
    if dtype.kind == "b":
        return 1.0
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return float(int(info.max) - int(info.min))
    span = float(ref.max() - ref.min())
    if span == 0.0:
        raise ValueError(
            "data_range must be given for a constant float reference "
            f"(reference.max() - reference.min() = 0, value {float(ref.flat[0])!r})"
        )
    return span


def _check_data_range(data_range: Any, ref: FloatArray, dtype: np.dtype) -> float:
    if data_range is None:
        return _default_data_range(ref, dtype)
    if isinstance(data_range, bool) or not isinstance(data_range, Real):
        raise TypeError(f"data_range must be a real number, got {data_range!r}")
    value = float(data_range)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"data_range must be finite and > 0, got {data_range!r}")
    return value


def _check_window(window: Any, shape: tuple[int, ...]) -> int | None:
    if window is None:
        return None
    if isinstance(window, bool) or not isinstance(window, Integral):
        raise TypeError(f"window must be an int or None, got {window!r}")
    win = int(window)
    if win < 2:
        raise ValueError(f"window must be >= 2, got {window}")
    if win > min(shape):
        raise ValueError(
            f"window must be <= the smallest image dimension {min(shape)}, got {window} "
            f"(image shape {shape})"
        )
    return win


def _moments(
    x: FloatArray, y: FloatArray, window: int | None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Means, variances and covariance of ``x`` and ``y`` (population statistics).

    Globally (``window=None``: 0-d arrays), or in every position of a ``window``-wide cube
    that lies wholly inside the image (a uniform filter cropped by ``window // 2`` at the start
    and ``(window - 1) // 2`` at the end of each axis). The data are centred on their global means
    first, which leaves every statistic unchanged but keeps ``E[x**2] - E[x]**2`` accurate.
    """
    cx, cy = x.mean(), y.mean()
    dx, dy = x - cx, y - cy
    if window is None:
        return (
            np.asarray(cx),
            np.asarray(cy),
            np.asarray(np.mean(dx * dx)),
            np.asarray(np.mean(dy * dy)),
            np.asarray(np.mean(dx * dy)),
        )
    crop = tuple(slice(window // 2, n - (window - 1) // 2) for n in x.shape)

    def local(a: FloatArray) -> FloatArray:
        return uniform_filter(a, size=window)[crop]

    mx, my = local(dx), local(dy)
    var_x = np.maximum(local(dx * dx) - mx * mx, 0.0)
    var_y = np.maximum(local(dy * dy) - my * my, 0.0)
    cov = local(dx * dy) - mx * my
    return mx + cx, my + cy, var_x, var_y, cov


def mse(reference: ArrayLike, test: ArrayLike) -> float:
    """Mean squared error between two images, eq (17) of Hammoumi et al. (2021).

    .. math:: \\mathrm{MSE}(I_o, I_d) = \\frac{1}{N} \\sum_p (I_o(p) - I_d(p))^2

    with :math:`N` the number of pixels (voxels).

    Parameters
    ----------
    reference : (M, N[, ...]) array_like
        Ground-truth image :math:`I_o`, bool, integer or float, ``ndim >= 2``.
    test : array_like, same shape as ``reference``
        Predicted image :math:`I_d`.

    Returns
    -------
    float
        The MSE, computed in float64 (no integer overflow or wrap-around).

    Raises
    ------
    ValueError
        Shapes differ, ``ndim < 2``, empty images, NaN or infinite values.
    TypeError
        Complex, object or string dtypes.

    Examples
    --------
    >>> mse([[1, 2], [3, 4]], [[1, 3], [3, 5]])
    0.5
    """
    ref, tst, _ = _check_pair(reference, test)
    return float(np.mean((ref - tst) ** 2))


def psnr(reference: ArrayLike, test: ArrayLike, *, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in decibels, eq (16) of Hammoumi et al. (2021).

    .. math:: \\mathrm{PSNR} = 10 \\log_{10} \\frac{L^2}{\\mathrm{MSE}(I_o, I_d)}

    with the MSE of eq (17) (:func:`mse`) and :math:`L` the dynamic range (the paper's
    :math:`2^d - 1` for :math:`d`-bit images).

    Parameters
    ----------
    reference : (M, N[, ...]) array_like
        Ground-truth image, bool, integer or float, ``ndim >= 2``.
    test : array_like, same shape as ``reference``
        Predicted image.
    data_range : float, optional
        :math:`L`, > 0. By default it comes from the reference: for integer dtypes the dtype's
        ``max - min`` (:math:`2^d - 1`: 255 for uint8/int8, 65535 for uint16/int16), 1 for bool,
        and for floats ``reference.max() - reference.min()`` (a constant float reference then
        needs an explicit ``data_range``). Note that :func:`skimage.metrics.peak_signal_noise_ratio`
        uses the dtype's ``max`` for signed integers with non-negative values and 1 for floats.

    Returns
    -------
    float
        The PSNR; ``inf`` for identical images (MSE = 0).

    Raises
    ------
    ValueError
        As :func:`mse`, or ``data_range <= 0``, or no default for a constant float reference.
    TypeError
        As :func:`mse`, or a non-real ``data_range``.

    Examples
    --------
    >>> round(psnr(np.array([[0, 0], [0, 0]], np.uint8), [[0, 0], [0, 255]]), 4)
    6.0206
    >>> psnr([[1.0, 2.0]] * 2, [[1.0, 2.0]] * 2)
    inf
    """
    ref, tst, dtype = _check_pair(reference, test)
    peak = _check_data_range(data_range, ref, dtype)
    err = float(np.mean((ref - tst) ** 2))
    if err == 0.0:
        return math.inf
    return 10.0 * math.log10(peak**2 / err)


def _safe_ratio(
    num: FloatArray, den: FloatArray, zero: NDArray[np.bool_], fill: float
) -> FloatArray:
    """``num / den`` where ``den`` is not (numerically) zero, else ``fill``."""
    out = np.full(np.shape(den), fill, dtype=np.float64)
    np.divide(num, den, out=out, where=~zero)
    return out


def uiq(reference: ArrayLike, test: ArrayLike, *, window: int | None = None) -> float:
    """Universal image quality index of Wang & Bovik (2002), eq (18) of Hammoumi et al. (2021).

    .. math::

        Q = \\frac{\\sigma_{od}}{\\sigma_o \\sigma_d}
            \\cdot \\frac{2 \\bar I_o \\bar I_d}{\\bar I_o^2 + \\bar I_d^2}
            \\cdot \\frac{2 \\sigma_o \\sigma_d}{\\sigma_o^2 + \\sigma_d^2}
          = \\frac{2 \\bar I_o \\bar I_d}{\\bar I_o^2 + \\bar I_d^2}
            \\cdot \\frac{2 \\sigma_{od}}{\\sigma_o^2 + \\sigma_d^2}

    (correlation, luminance and contrast), with means :math:`\\bar I`, population variances
    :math:`\\sigma^2` and covariance :math:`\\sigma_{od}`. :math:`Q \\in [-1, 1]`, 1 only for
    identical images.

    Parameters
    ----------
    reference : (M, N[, ...]) array_like
        Ground-truth image, bool, integer or float, ``ndim >= 2``.
    test : array_like, same shape as ``reference``
        Predicted image.
    window : int, optional
        ``None`` (default): the statistics are taken over the whole image, exactly as eq (18) is
        written. An int ``w`` (``2 <= w <=`` the smallest dimension): they are taken in every
        ``w``-wide square (cube) window lying wholly inside the image (population statistics of
        a :func:`scipy.ndimage.uniform_filter`) and the mean of the local index map is returned,
        as Wang & Bovik do (they use ``w = 8``).

    Returns
    -------
    float
        The index, in [-1, 1].

    Raises
    ------
    ValueError
        As :func:`mse`, or ``window`` < 2 or larger than the image.
    TypeError
        As :func:`mse`, or a non-integer ``window``.

    Notes
    -----
    Degenerate cases use the second form above, factor by factor (this follows Wang & Bovik's
    ``img_qi.m``, except that it keeps the structure term when both means are zero):

    - both images constant (:math:`\\sigma_o^2 + \\sigma_d^2 = 0`): the structure/contrast factor
      is 1, so :math:`Q = 2 \\bar I_o \\bar I_d / (\\bar I_o^2 + \\bar I_d^2)`; two identical
      constant images give 1;
    - both means zero (:math:`\\bar I_o^2 + \\bar I_d^2 = 0`): the luminance factor is 1;
    - one image constant, the other not: the covariance is 0, so :math:`Q = 0`.

    Variances and squared means below ``1e-12 * max(|I|)**2`` count as zero here, which absorbs
    rounding error on constant regions.

    Examples
    --------
    >>> uiq([[1, 2], [3, 4]], [[1, 2], [3, 4]])
    1.0
    >>> uiq([[1, 2], [3, 4]], [[4, 3], [2, 1]])
    -1.0
    """
    ref, tst, _ = _check_pair(reference, test)
    win = _check_window(window, ref.shape)
    mx, my, var_x, var_y, cov = _moments(ref, tst, win)
    scale2 = max(float(np.abs(ref).max()), float(np.abs(tst).max())) ** 2
    lum_den = mx * mx + my * my
    var_den = var_x + var_y
    luminance = _safe_ratio(2 * mx * my, lum_den, lum_den <= _TINY * scale2, 1.0)
    structure = _safe_ratio(2 * cov, var_den, var_den <= _TINY * scale2, 1.0)
    return float(np.clip(np.mean(luminance * structure), -1.0, 1.0))


def ssim(
    reference: ArrayLike,
    test: ArrayLike,
    *,
    data_range: float | None = None,
    window: int | None = None,
    k1: float = 0.01,
    k2: float = 0.03,
) -> float:
    """Structural similarity index of Wang et al. (2004), eq (19) of Hammoumi et al. (2021).

    .. math::

        \\mathrm{SSIM} = A \\cdot B \\cdot C, \\quad
        A = \\frac{2 \\bar I_o \\bar I_d + C_1}{\\bar I_o^2 + \\bar I_d^2 + C_1}, \\quad
        B = \\frac{2 \\sigma_o \\sigma_d + C_2}{\\sigma_o^2 + \\sigma_d^2 + C_2}, \\quad
        C = \\frac{\\sigma_{od} + C_3}{\\sigma_o \\sigma_d + C_3}

    (luminance, contrast, structure) with :math:`C_1 = (K_1 L)^2`, :math:`C_2 = (K_2 L)^2`,
    :math:`C_3 = C_2 / 2` and :math:`L` = ``data_range``. With :math:`C_3 = C_2/2`,
    :math:`B \\cdot C = (2 \\sigma_{od} + C_2) / (\\sigma_o^2 + \\sigma_d^2 + C_2)`, the two-term
    formula of :func:`skimage.metrics.structural_similarity`; the tests check numerically that
    ``ssim(x, y, window=7, data_range=L)`` equals skimage's value with ``win_size=7,
    gaussian_weights=False, use_sample_covariance=False`` (to 1e-6, 2-D and 3-D).

    Parameters
    ----------
    reference : (M, N[, ...]) array_like
        Ground-truth image, bool, integer or float, ``ndim >= 2``.
    test : array_like, same shape as ``reference``
        Predicted image.
    data_range : float, optional
        :math:`L`, > 0; the default is that of :func:`psnr` (dtype range for integers,
        ``reference.max() - reference.min()`` for floats).
    window : int, optional
        ``None`` (default): global statistics, exactly as eq (19) is written. An int ``w``
        (``2 <= w <=`` the smallest dimension): statistics in every ``w``-wide uniform window
        wholly inside the image (population statistics), and the mean of the local SSIM map is
        returned, as Wang et al. (2004) and scikit-image do.
    k1, k2 : float
        :math:`K_1`, :math:`K_2` > 0 (0.01 and 0.03 in the paper).

    Returns
    -------
    float
        The index, at most 1 (1 for identical images).

    Raises
    ------
    ValueError
        As :func:`uiq`, or ``data_range``, ``k1`` or ``k2`` not finite and > 0, or no default
        ``data_range`` for a constant float reference.
    TypeError
        As :func:`uiq`, or non-real ``data_range``, ``k1`` or ``k2``.

    Notes
    -----
    :math:`C_1, C_2, C_3 > 0` keep every denominator positive, so constant images need no special
    case: two identical constant images give 1; a constant image against one with structure gets
    :math:`B \\cdot C = C_2 / (\\sigma^2 + C_2)`.

    Examples
    --------
    >>> ssim([[1, 2], [3, 4]], [[1, 2], [3, 4]], data_range=3)
    1.0
    """
    ref, tst, dtype = _check_pair(reference, test)
    peak = _check_data_range(data_range, ref, dtype)
    win = _check_window(window, ref.shape)
    for name, value in (("k1", k1), ("k2", k2)):
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{name} must be a real number, got {value!r}")
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    c1 = (float(k1) * peak) ** 2
    c2 = (float(k2) * peak) ** 2
    c3 = c2 / 2
    mx, my, var_x, var_y, cov = _moments(ref, tst, win)
    sxy = np.sqrt(var_x * var_y)  # sigma_o * sigma_d; sqrt(v * v) == v exactly
    a = (2 * mx * my + c1) / (mx * mx + my * my + c1)
    b = (2 * sxy + c2) / (var_x + var_y + c2)
    c = (cov + c3) / (sxy + c3)
    return float(np.mean(a * b * c))
