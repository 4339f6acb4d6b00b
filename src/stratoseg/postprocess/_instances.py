"""Probabilities to instances: thresholded maps, the marker watershed on z2 - z1, and the
distance-transform watershed for masks of touching objects (Guerrero Peña, ch. 3-4)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

from stratoseg.postprocess._clean import (
    check_class,
    check_fraction,
    check_labels,
    check_probabilities,
    fill_holes,
    remove_small_objects,
)

__all__ = ["distance_watershed", "threshold_instances", "watershed_instances"]


def _finish(labels: np.ndarray, *, fill: bool, min_size: int) -> np.ndarray:
    if fill:
        labels = fill_holes(labels)
    if min_size > 1:
        labels = remove_small_objects(labels, min_size)
    return labels


def components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected components of ``mask`` (faces only: 4- / 6-connectivity) as int32 ids."""
    labels, n = ndi.label(mask)
    return labels.astype(np.int32, copy=False), int(n)


def assign_to_nearest(
    cells: np.ndarray, touching: np.ndarray, *, sampling: Any = None
) -> np.ndarray:
    """Give each ``touching`` voxel the id of the nearest object of ``cells`` (eq 4.4).

    ``g(p) = g(zeta(p))`` where ``zeta(p)`` is the object voxel closest to ``p`` (Euclidean,
    in ``sampling`` units). A touching voxel equidistant to two different objects is
    background (Algorithm 2, steps 4-7); so is one with no object at all. ``cells`` is not
    changed; the result is a copy.

    The nearest object comes from one distance transform. Ties are checked per connected
    region of touching voxels, in its bounding box grown by its largest distance, with one
    distance transform per object present there.
    """
    out = cells.copy()
    if not touching.any() or cells.max(initial=0) == 0:
        return out
    dist, index = ndi.distance_transform_edt(cells == 0, sampling=sampling, return_indices=True)
    nearest = cells[tuple(index)]
    regions, _ = ndi.label(touching, structure=np.ones((3,) * cells.ndim, bool))
    for k, box in enumerate(ndi.find_objects(regions), start=1):
        if box is None:
            continue
        reach = int(np.ceil(dist[box][regions[box] == k].max() / _min_step(sampling))) + 1
        grown = tuple(slice(max(s.start - reach, 0), min(s.stop + reach, size))
                      for s, size in zip(box, cells.shape, strict=True))  # fmt: skip
        sub, here = cells[grown], regions[grown] == k
        ids = np.unique(sub[sub > 0])
        first = nearest[grown][here]
        best = dist[grown][here]
        tie = np.zeros(best.shape, bool)
        if len(ids) > 1:
            for i in ids:
                d_i = ndi.distance_transform_edt(sub != i, sampling=sampling)[here]
                tie |= (first != i) & np.isclose(d_i, best, rtol=1e-9, atol=1e-9)
        value = np.where(tie, 0, first)
        target = out[grown]
        target[here] = value
    return out


def _min_step(sampling: Any) -> float:
    if sampling is None:
        return 1.0
    return float(np.min(np.atleast_1d(np.asarray(sampling, dtype=float))))


def threshold_instances(
    probs: Any,
    *,
    gamma1: float = 0.5,
    gamma2: float = 0.5,
    object_class: int = 1,
    touching_class: int = 2,
    fill: bool = True,
    min_size: int = 0,
    sampling: Any = None,
) -> np.ndarray:
    """Thresholded maps: instances from a background / object / touching map (Algorithm 2, eq 4.4).

    ``h(p) = 2`` (touching) if ``z2(p) >= gamma2``; ``h(p) = 1`` (object) if
    ``z1(p) >= gamma1`` and ``z2(p) < gamma2``; 0 otherwise (§4.2.4, whose ``>=`` we follow
    rather than Algorithm 2's ``>``). The objects ``t_i`` are the connected components of
    ``h = 1`` (face connectivity), and each touching voxel takes the id of its closest object
    voxel (eq 4.4); equidistant ones stay background (Algorithm 2, steps 6-7). Last, hole
    filling and removal of objects under ``min_size`` voxels (§3.2.3's final step).

    Parameters
    ----------
    probs : array (C, y, x) or (C, z, y, x)
        Class probabilities in [0, 1] (or uint8 0-255, as predictions are stored).
    gamma1, gamma2 : float
        The object and touching thresholds.
    object_class, touching_class : int
        Which channels are ``z1`` and ``z2``.
    fill, min_size
        Hole filling per object; objects smaller than ``min_size`` voxels are removed.
    sampling : sequence of float, optional
        Voxel size for the distances (isotropic by default).

    Returns
    -------
    numpy.ndarray
        int32 instance ids, 0 for background.
    """
    z = check_probabilities(probs)
    obj = check_class(object_class, z.shape[0], "object_class")
    tch = check_class(touching_class, z.shape[0], "touching_class")
    g1, g2 = check_fraction(gamma1, "gamma1"), check_fraction(gamma2, "gamma2")
    touching = z[tch] >= g2
    cells, _ = components((z[obj] >= g1) & ~touching)
    labels = assign_to_nearest(cells, touching, sampling=sampling)
    return _finish(labels, fill=fill, min_size=int(min_size))


def watershed_instances(
    probs: Any,
    *,
    tau0: float = 0.5,
    tau1: float = 0.5,
    background_class: int = 0,
    object_class: int = 1,
    touching_class: int = 2,
    fill: bool = True,
    min_size: int = 0,
) -> np.ndarray:
    """Marker watershed on the topography ``z2 - z1`` (Guerrero Peña §4.2.4).

    Seeds are the voxels with ``z0(p) >= tau0`` (one background marker) or ``z1(p) >= tau1``
    (one marker per connected component, face connectivity; a voxel meeting both is
    background). The watershed floods ``z2 - z1`` from them (face connectivity), so objects
    grow through their low-touching interiors and meet on the touching ridges. The
    background basin becomes 0; then hole filling and small-object removal as in
    :func:`threshold_instances`.

    Returns
    -------
    numpy.ndarray
        int32 instance ids, 0 for background.
    """
    z = check_probabilities(probs)
    bg = check_class(background_class, z.shape[0], "background_class")
    obj = check_class(object_class, z.shape[0], "object_class")
    tch = check_class(touching_class, z.shape[0], "touching_class")
    t0, t1 = check_fraction(tau0, "tau0"), check_fraction(tau1, "tau1")
    background = z[bg] >= t0
    seeds, n = components((z[obj] >= t1) & ~background)
    markers = seeds + 1
    markers[seeds == 0] = 0
    markers[background] = 1
    if n == 0:
        return np.zeros(z.shape[1:], np.int32)
    flooded = watershed(z[tch] - z[obj], markers=markers, connectivity=1)
    labels = (flooded.astype(np.int32) - 1).clip(min=0)
    return _finish(labels, fill=fill, min_size=int(min_size))


def distance_watershed(
    mask: Any,
    *,
    h: float = 1.0,
    sampling: Any = None,
    min_size: int = 0,
) -> np.ndarray:
    """Split a binary mask of touching convex objects (grains, nuclei) at their necks.

    The Euclidean distance to the background, ``d``, has one dome per object. Its regional
    maxima of height at least ``h`` (h-maxima, in ``sampling`` units: a neck narrower by less
    than ``h`` than both domes does not split) are the markers, and a watershed of ``-d``
    restricted to the mask grows them into objects. A piece of the mask without such a
    maximum (thinner than ``h``) keeps its deepest voxel as marker, so no voxel of the mask is
    lost. Objects under ``min_size`` voxels are removed.

    Returns
    -------
    numpy.ndarray
        int32 instance ids, 0 for background.
    """
    m = check_labels(mask, name="mask") > 0
    if float(h) <= 0:
        raise ValueError(f"h must be > 0, got {h!r}")
    if not m.any():
        return np.zeros(m.shape, np.int32)
    dist = ndi.distance_transform_edt(m, sampling=sampling)
    peaks = h_maxima(dist, float(h)).astype(bool) & m
    # every piece of the mask keeps at least one marker (its deepest voxel), however flat
    pieces, n = ndi.label(m)
    marked = np.zeros(n + 1, bool)
    marked[pieces[peaks]] = True
    unmarked = np.flatnonzero(~marked[1:]) + 1
    for pos in ndi.maximum_position(dist, pieces, unmarked) if unmarked.size else []:
        peaks[tuple(int(i) for i in pos)] = True
    markers, _ = ndi.label(peaks, structure=np.ones((3,) * m.ndim, bool))
    labels = watershed(-dist, markers=markers, mask=m, connectivity=1).astype(np.int32)
    return remove_small_objects(labels, int(min_size)) if min_size > 1 else labels
