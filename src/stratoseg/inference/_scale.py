"""Prediction at another scale, and the choice of the scale by the network's own confidence.

A network trained on objects of one size splits objects much larger than it has seen: the
touching class of the 2-D nuclei model rises to 0.3-0.4 inside nuclei twice the training
median, and the watershed then cuts them into pieces. Shrinking the image until the objects
look like the training ones mends that (cellpose rescales by an estimated diameter for the same
reason). Here the scale is chosen among a few candidates by how sure the network is of its
classes on the objects: :func:`predict_scaled` keeps scale 1 unless another scale raises the
mean top probability over the predicted foreground by more than ``margin``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from skimage.transform import resize

from stratoseg.inference._lazy import predict_lazy

__all__ = [
    "ScaledPrediction",
    "choose_scale",
    "foreground_confidence",
    "predict_at_scale",
    "predict_scaled",
]


def _check_scale(scale: Any, name: str = "scale") -> float:
    value = float(scale)
    if not 0.1 <= value <= 10.0:
        raise ValueError(f"{name} must be between 0.1 and 10, got {scale!r}")
    return value


def predict_at_scale(
    image: Any, model: str | os.PathLike[str], scale: float, **options: Any
) -> np.ndarray:
    """Class probabilities of ``image`` predicted with its plane (y, x) resized by ``scale``,
    brought back to the image's shape.

    The image is resized with linear interpolation (anti-aliased when shrinking), predicted
    by :func:`~stratoseg.inference.predict_lazy` with ``options`` (tiling, ...), and each class
    map resized back (linear) and renormalised to sum to 1. z is never resized (a 3-D image is
    scaled slice by slice in the plane).

    Parameters
    ----------
    image : (Y, X) or (Z, Y, X) array
        Held in memory: this is for images, not volumes larger than memory.
    model : str or path
        A model name or package path.
    scale : float in [0.1, 10]
        0.5 halves the objects' size in the plane.

    Returns
    -------
    numpy.ndarray
        ``(K, *image.shape)`` float32 probabilities.
    """
    scale = _check_scale(scale)
    arr = np.asarray(image)
    if arr.ndim not in (2, 3):
        raise ValueError(f"image must be 2-D or 3-D, got shape {arr.shape}")
    if scale == 1.0:
        return np.asarray(predict_lazy(arr, model, **options).compute(), np.float32)
    plane = tuple(max(8, round(n * scale)) for n in arr.shape[-2:])
    small = resize(arr.astype(np.float32), (*arr.shape[:-2], *plane), order=1,
                   anti_aliasing=scale < 1, preserve_range=True).astype(np.float32)  # fmt: skip
    probs = np.asarray(predict_lazy(small, model, **options).compute(), np.float32)
    back = np.stack([resize(p, arr.shape, order=1, preserve_range=True) for p in probs])
    back = np.clip(back, 0, None)
    return (back / np.maximum(back.sum(axis=0, keepdims=True), 1e-6)).astype(np.float32)


def foreground_confidence(probs: np.ndarray, *, background_class: int = 0) -> float:
    """Mean of the top class probability over the voxels predicted as foreground
    (background probability below 0.5); 1 when there are none.

    Examples
    --------
    >>> p = np.array([[0.9, 0.2, 0.1], [0.1, 0.7, 0.3], [0.0, 0.1, 0.6]])
    >>> round(foreground_confidence(p), 3)  # voxels 1 and 2: (0.7 + 0.6) / 2
    0.65
    """
    z = np.asarray(probs)
    fg = z[int(background_class)] < 0.5
    if not fg.any():
        return 1.0
    return float(z.max(axis=0)[fg].mean())


def choose_scale(confidence: dict[float, float], margin: float) -> float:
    """The most confident scale if it beats scale 1 by more than ``margin``, else 1.

    Examples
    --------
    >>> choose_scale({1.0: 0.60, 0.5: 0.66}, 0.04), choose_scale({1.0: 0.60, 0.5: 0.62}, 0.04)
    (0.5, 1.0)
    """
    best = max(confidence, key=lambda s: confidence[s])
    return best if confidence[best] > confidence[1.0] + float(margin) else 1.0


@dataclass
class ScaledPrediction:
    """What :func:`predict_scaled` chose: the probabilities, the scale and each scale's
    confidence."""

    probs: np.ndarray
    scale: float
    confidence: dict[float, float] = field(default_factory=dict)


def predict_scaled(
    image: Any,
    model: str | os.PathLike[str],
    *,
    scales: Sequence[float] = (1.0,),
    margin: float = 0.03,
    background_class: int = 0,
    **options: Any,
) -> ScaledPrediction:
    """The prediction at the scale the network is most confident at.

    Every scale of ``scales`` (1 is always tried) is predicted by :func:`predict_at_scale`
    and scored by :func:`foreground_confidence`. Scale 1 is kept unless another scale's
    confidence is higher by more than ``margin``; then the most confident one is taken. A
    model card can recommend ``scales`` and ``scale_margin`` (``nuclei-touching-2d`` does).

    Parameters
    ----------
    image : (Y, X) or (Z, Y, X) array
    model : str or path
    scales : sequence of float
        Candidate scales, each in [0.1, 10].
    margin : float >= 0
        How much more confident another scale must be than scale 1.
    background_class : int
        The class whose probability below 0.5 marks the foreground.
    **options
        For :func:`~stratoseg.inference.predict_lazy`.
    """
    if float(margin) < 0:
        raise ValueError(f"margin must be >= 0, got {margin!r}")
    candidates = sorted({1.0, *(_check_scale(s, "scales") for s in scales)}, key=lambda s: s != 1)
    probs: dict[float, np.ndarray] = {}
    confidence: dict[float, float] = {}
    for s in candidates:
        probs[s] = predict_at_scale(image, model, s, **options)
        confidence[s] = foreground_confidence(probs[s], background_class=background_class)
    best = choose_scale(confidence, margin)
    return ScaledPrediction(probs[best], best, confidence)
