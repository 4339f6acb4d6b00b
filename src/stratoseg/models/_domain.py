"""The training data's intensity fingerprint, kept in the card, and how far an input is from it.

A model knows only the kind of image it was trained on. Eight numbers describe an image after
the card's normalisation: the 5, 25, 50, 75 and 95 % quantiles of its normalised intensities
(the shape of its histogram: how much is dark, bright, in between) and the median absolute
difference between in-plane neighbours at 1, 2 and 4 times the voxel size (mean-pooled first:
noise, texture and the size of its structures). The card stores their mean and spread over
pieces of the training data (slices or slabs); an input whose numbers lie more than
:data:`OUT_OF_DOMAIN` spreads away on any of them is out of the model's domain.

Calibration (``benchmarks/bench_domain.py``, ``docs/models.md``): the held-out parts of each
shipped model's data lie within 2.7 spreads (DSB2018's test images; ISBI, FIB-SEM and the
synthetic composite within 1.3), while the other data sets of ``../shared/data`` lie 3.5 to 24
spreads from the models they were not made for, with one miss (the sand CT is 2.6 from
``em-membranes-2d``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "FEATURES",
    "OUT_OF_DOMAIN",
    "DomainSpec",
    "domain_from_pieces",
    "domain_of",
    "domain_sample",
    "image_features",
]

FEATURES = ("q05", "q25", "q50", "q75", "q95", "grad1", "grad2", "grad4")
#: An input this many spreads from the training data on some feature is out of its domain.
OUT_OF_DOMAIN = 3.5
_QUANTILES = (5, 25, 50, 75, 95)
_SCALES = (1, 2, 4)
#: The least spread of each kind of feature: 0.03 of the normalised range for a quantile,
#: 10 % of the training value for a texture (a model trained on one volume has no spread).
_QUANTILE_FLOOR, _TEXTURE_FLOOR = 0.03, 0.1


class DomainSpec(BaseModel):
    """The training data's fingerprint (:data:`FEATURES`): mean and spread over its pieces."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    features: list[str] = Field(default_factory=lambda: list(FEATURES))
    mean: list[float]
    spread: list[float]
    pieces: int = Field(ge=1)

    @model_validator(mode="after")
    def _check(self) -> DomainSpec:
        if not len(self.features) == len(self.mean) == len(self.spread):
            raise ValueError("features, mean and spread must have the same length")
        if any(s <= 0 for s in self.spread):
            raise ValueError(f"spread must be positive, got {self.spread}")
        return self

    def distance(self, features: Iterable[float]) -> tuple[float, str]:
        """The largest ``|f - mean| / spread`` over the features, and that feature's name.
        Cards made with other features than :data:`FEATURES` give ``(0.0, "")``."""
        if tuple(self.features) != FEATURES:
            return 0.0, ""
        f = np.asarray(list(features), float)
        z = np.abs(f - np.asarray(self.mean)) / np.asarray(self.spread)
        k = int(np.argmax(z))
        return float(z[k]), self.features[k]


def _normalised(x: np.ndarray, norm: Any) -> np.ndarray:
    kind = getattr(norm, "kind", "percentile")
    if kind == "percentile":
        lo, hi = np.percentile(x, [float(norm.low), float(norm.high)])
    elif kind == "minmax":
        lo, hi = float(x.min()), float(x.max())
    elif kind == "fixed":
        lo, hi = float(norm.low), float(norm.high)
    else:
        lo, hi = 0.0, 1.0
    return (x - lo) / max(float(hi - lo), 1e-12)


def image_features(image: Any, norm: Any) -> np.ndarray:
    """:data:`FEATURES` of a 2-D or 3-D image (a piece of data held in memory), normalised
    as the card says (``norm``: a :class:`~stratoseg.models.NormSpec`).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> ramp = np.tile(np.arange(100.0), (8, 1))
    >>> image_features(ramp, SimpleNamespace(kind="minmax")).round(3).tolist()
    [0.05, 0.25, 0.5, 0.75, 0.95, 0.01, 0.02, 0.04]
    """
    x = np.asarray(image, np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or min(x.shape[1:]) < 2:
        raise ValueError(f"image must be 2-D or 3-D with at least 2 x 2 pixels, got {x.shape}")
    x = _normalised(x, norm)
    values = list(np.percentile(x, _QUANTILES))
    for k in _SCALES:
        y, xx = x.shape[1] // k * k, x.shape[2] // k * k
        if min(y, xx) < 2 * k:
            values.append(values[-1])  # too small to pool: repeat the finer scale
            continue
        p = x[:, :y, :xx].reshape(x.shape[0], y // k, k, xx // k, k).mean(axis=(2, 4))
        diffs = np.concatenate([np.abs(np.diff(p, axis=1)).ravel(),
                                np.abs(np.diff(p, axis=2)).ravel()])  # fmt: skip
        values.append(float(np.median(diffs)))
    return np.asarray(values, float)


def domain_from_pieces(pieces: Iterable[Any], norm: Any) -> DomainSpec:
    """A card's :class:`DomainSpec` from pieces of its training data (slices, slabs or
    images, each normalised on its own as at inference; see :func:`domain_sample`)."""
    table = np.array([image_features(p, norm) for p in pieces])
    if table.size == 0:
        raise ValueError("domain_from_pieces needs at least one piece of data")
    mean = table.mean(axis=0)
    floor = np.concatenate([[_QUANTILE_FLOOR] * len(_QUANTILES), _TEXTURE_FLOOR * mean[5:]])
    spread = np.maximum(table.std(axis=0), np.maximum(floor, 1e-6))
    return DomainSpec(mean=[float(v) for v in mean], spread=[float(v) for v in spread],
                      pieces=len(table))  # fmt: skip


def _slabs(image: Any, *, count: int, depth: int, side: int) -> list[np.ndarray]:
    """``count`` slabs of ``depth`` slices evenly spaced in z, each the central ``side x side``
    region (a 2-D image: its central region alone), read from ``image`` one by one."""
    shape = tuple(int(n) for n in image.shape)
    y0, x0 = (max(0, (n - side) // 2) for n in shape[-2:])
    if len(shape) == 2:
        return [np.asarray(image[y0 : y0 + side, x0 : x0 + side])]
    d = min(depth, shape[0])
    starts = sorted(
        {int(s) for s in np.linspace(0, shape[0] - d, max(1, min(count, shape[0] // d)))}
    )
    return [np.asarray(image[s : s + d, y0 : y0 + side, x0 : x0 + side]) for s in starts]


def domain_sample(image: Any, *, slabs: int = 4, depth: int = 8, side: int = 512) -> np.ndarray:
    """What the domain check reads of a large image: ``slabs`` slabs of ``depth`` slices,
    evenly spaced in z, each the central ``side x side`` region (all of a 2-D image's central
    region); concatenated along z. A few MB whatever the volume's size."""
    parts = _slabs(image, count=slabs, depth=depth, side=side)
    return parts[0] if parts[0].ndim == 2 else np.concatenate(parts, axis=0)


def domain_of(
    image: Any, norm: Any, *, per_slice: bool, max_pieces: int = 64, side: int = 512
) -> DomainSpec:
    """The :class:`DomainSpec` of a training image: its slices as pieces (``per_slice``: a
    2-D network on a stack of separate images or sections) or its slabs of 8 slices, at most
    ``max_pieces`` evenly spaced, each its central ``side x side`` region; a 2-D image is one
    piece."""
    depth = 1 if per_slice else 8
    return domain_from_pieces(_slabs(image, count=max_pieces, depth=depth, side=side), norm)
