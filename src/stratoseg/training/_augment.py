"""Augmentation of training patches: geometry, intensity, elastic, touching contrast.

Applied patch by patch to a :class:`~stratoseg.training._data.Batch`, with one generator, so a
run is reproducible:

- **geometry**: flips and 90-degree rotations in the (y, x) plane; in 3-D also flips along z
  and, when the voxels are isotropic and the patch a cube, permutations of the three axes.
  The input, target, mask and weights move together.
- **intensity** (image channels only; enhancement channels keep their meaning):
  ``x -> x * U(1 - s, 1 + s) + U(-t, t)``, a gamma ``sign(x) |x|^g`` with ``log g ~ U(-c, c)``,
  and Gaussian noise of standard deviation ``U(0, n)``.
- **elastic**: a smooth random displacement (Gaussian-filtered noise of ``sigma`` voxels,
  scaled to ``alpha`` voxels at most) in the plane, or in 3-D; linear for the input and
  weights, nearest for the target and mask.
- **touching contrast** (Guerrero Peña 2019, §4.2.2): on touching voxels,
  ``x_a = (1 - a) x + a median_7x7(x)`` with ``a ~ U(-1, 1)``: ``a < 0`` raises the contrast
  of the gap between objects, ``a > 0`` lowers it (a 7 x 7 median in the plane).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy import ndimage as ndi

from stratoseg.training._data import Batch

__all__ = ["AugmentConfig", "augment"]


class AugmentConfig(BaseModel):
    """Which augmentations run, and how strongly (each with probability ``p`` per patch
    unless said otherwise)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    flips: bool = True
    rotations: bool = True
    permute_axes: bool = True
    scale: float = Field(default=0.15, ge=0, le=1)
    shift: float = Field(default=0.1, ge=0, le=1)
    gamma: float = Field(default=0.3, ge=0, le=2)
    noise: float = Field(default=0.03, ge=0, le=1)
    elastic_alpha: float = Field(default=4.0, ge=0)
    elastic_sigma: float = Field(default=8.0, gt=0)
    elastic_p: float = Field(default=0.25, ge=0, le=1)
    touching_contrast: bool = True
    p: float = Field(default=0.5, ge=0, le=1)


def augment(
    batch: Batch,
    rng: np.random.Generator,
    config: AugmentConfig,
    *,
    spatial_dims: int,
    image_channels: Sequence[int],
    isotropic: bool = False,
    touching_class: int | None = None,
) -> Batch:
    """A new :class:`Batch` with each patch augmented (see the module docstring).

    Parameters
    ----------
    batch : Batch
        ``x`` ``(B, C, *window)``; for a 2-D network on a volume the window keeps its context
        axis first, ``(context, Y, X)``.
    spatial_dims : int
        2 (2-D and 2.5D networks) or 3.
    image_channels : sequence of int
        The channels intensity changes apply to.
    isotropic : bool
        Whether 3-D axes may be permuted.
    touching_class : int, optional
        The target's touching class, for the contrast modulation.
    """
    xs, ts, ms, ws = [], [], [], []
    for x, t, m, w in zip(batch.x, batch.target, batch.mask, batch.weight, strict=True):
        x, t, m, w = _geometry(x, t, m, w, rng, config, spatial_dims, isotropic)
        if config.elastic_alpha > 0 and rng.random() < config.elastic_p:
            x, t, m, w = _elastic(x, t, m, w, rng, config, spatial_dims)
        x = x.copy()
        if touching_class is not None and config.touching_contrast and rng.random() < config.p:
            _touching_contrast(x, t, rng, image_channels, spatial_dims, touching_class)
        _intensity(x, rng, config, image_channels)
        xs.append(x)
        ts.append(t)
        ms.append(m)
        ws.append(w)
    return Batch(
        np.ascontiguousarray(np.stack(xs), dtype=np.float32),
        np.ascontiguousarray(np.stack(ts)),
        np.ascontiguousarray(np.stack(ms)),
        np.ascontiguousarray(np.stack(ws)),
    )


def _geometry(
    x: np.ndarray,
    t: np.ndarray,
    m: np.ndarray,
    w: np.ndarray,
    rng: np.random.Generator,
    config: AugmentConfig,
    spatial_dims: int,
    isotropic: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same flips, rotation and permutation of the input's last axes and the target's."""
    planes = [(-2, -1)]
    cube = spatial_dims == 3 and len(set(t.shape[-3:])) == 1
    if config.permute_axes and cube and isotropic:
        order = [int(a) for a in rng.permutation(3)]
        x = np.moveaxis(x, [-3, -2, -1], [-3 + a for a in order])
        t, m, w = (np.moveaxis(a, [-3, -2, -1], [-3 + o for o in order]) for a in (t, m, w))
    flip_axes = (-3, -2, -1) if spatial_dims == 3 else (-2, -1)
    if config.flips:
        for axis in flip_axes:
            if rng.random() < 0.5:
                x, t, m, w = (np.flip(a, axis) for a in (x, t, m, w))
    if config.rotations:
        k = int(rng.integers(4))
        if k and x.shape[-1] == x.shape[-2]:
            x, t, m, w = (np.rot90(a, k, axes=planes[0]) for a in (x, t, m, w))
    return x, t, m, w


def _elastic(
    x: np.ndarray,
    t: np.ndarray,
    m: np.ndarray,
    w: np.ndarray,
    rng: np.random.Generator,
    config: AugmentConfig,
    spatial_dims: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One smooth random displacement of the last ``spatial_dims`` axes of every array."""
    shape = t.shape[-spatial_dims:]
    grid = np.meshgrid(*[np.arange(n, dtype=np.float64) for n in shape], indexing="ij")
    coords = []
    for g in grid:
        field = ndi.gaussian_filter(rng.uniform(-1, 1, shape), config.elastic_sigma)
        peak = float(np.abs(field).max())
        coords.append(g + (config.elastic_alpha / peak if peak > 0 else 0.0) * field)

    def warp(a: np.ndarray, order: int) -> np.ndarray:
        lead = a.shape[: a.ndim - spatial_dims]
        flat = a.reshape((-1, *shape))
        out = np.stack([ndi.map_coordinates(s, coords, order=order, mode="reflect") for s in flat])
        return out.reshape((*lead, *shape)).astype(a.dtype)

    return warp(x, 1), warp(t, 0), warp(m, 0), warp(w, 1)


def _touching_contrast(
    x: np.ndarray,
    t: np.ndarray,
    rng: np.random.Generator,
    image_channels: Sequence[int],
    spatial_dims: int,
    touching_class: int,
) -> None:
    """§4.2.2 on the input slice the target describes (in place)."""
    where = t == touching_class
    if not where.any():
        return
    a = float(rng.uniform(-1, 1))
    size = (1, 7, 7) if spatial_dims == 3 else (7, 7)
    for c in image_channels:
        # (C, context, Y, X): the central slice, which the target describes
        plane = x[c, x.shape[1] // 2] if spatial_dims == 2 and x.ndim == 4 else x[c]
        median = ndi.median_filter(plane, size=size, mode="reflect")
        plane[where] = (1 - a) * plane[where] + a * median[where]


def _intensity(
    x: np.ndarray, rng: np.random.Generator, config: AugmentConfig, image_channels: Sequence[int]
) -> None:
    """Scale and shift, gamma, noise on the image channels (in place)."""
    for c in image_channels:
        v = x[c]
        if config.scale and rng.random() < config.p:
            v *= np.float32(rng.uniform(1 - config.scale, 1 + config.scale))
        if config.shift and rng.random() < config.p:
            v += np.float32(rng.uniform(-config.shift, config.shift))
        if config.gamma and rng.random() < config.p:
            g = np.float32(np.exp(rng.uniform(-config.gamma, config.gamma)))
            np.copyto(v, np.sign(v) * np.abs(v) ** g)
        if config.noise and rng.random() < config.p:
            std = rng.uniform(0, config.noise)
            v += rng.normal(0, std, v.shape).astype(np.float32)
