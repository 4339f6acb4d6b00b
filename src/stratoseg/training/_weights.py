"""Weight maps for the weighted cross-entropy (Guerrero Peña 2019, eqs 2.6-2.7, 3.2-3.4, 4.3).

Each takes the class map ``h`` of a target (``0`` background, ``1`` object, ``2`` touching,
...), 2-D or 3-D, and returns float32 weights of the same shape. Distances are Euclidean, in
voxels. ``mask`` (optional: the reviewed voxels of a patch) restricts the class counts to the
voxels that count; the loss multiplies the weights by the mask anyway.

Two readings of the thesis, the same in every map:

- **``n_l`` is the class's share of the counted voxels**, ``n_l / N``: the class-balance weight
  is ``w^B(p) = N / n_l``. With raw counts, ``w^B`` would be ~1e-5 on a 512^2 image and the
  ``+ 1`` of eqs 3.2-3.3 would drown it; and in eq 4.3 the touching class, "a constant weight
  for class balance, larger than all other weights" (§4.2.3), would weigh less than the
  object contours.
- **Skeletons are Lee's thinning** (``skimage.morphology.skeletonize(method="lee")``), which
  works in 2-D and 3-D alike.

:func:`make_weights` also scales a map to mean 1 over the counted voxels, so the loss keeps
the scale of a plain cross-entropy whichever map is chosen (a constant factor changes no
relative weight).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi
from skimage.measure import label as connected_components
from skimage.morphology import convex_hull_image, skeletonize

__all__ = [
    "WEIGHTS",
    "class_balance",
    "distance_weight_map",
    "make_weights",
    "shape_aware_weight_map",
    "triplex_weight_map",
    "unet_weight_map",
]


def _check_h(h: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    arr = np.asarray(h)
    if arr.dtype.kind not in "iub" or arr.ndim not in (2, 3):
        raise ValueError(f"h must be a 2-D or 3-D integer class map, got {arr.dtype} {arr.shape}")
    if arr.size and int(arr.min()) < 0:
        raise ValueError(f"h must hold classes >= 0, got a minimum of {int(arr.min())}")
    if mask is not None and np.shape(mask) != arr.shape:
        raise ValueError(f"mask of shape {np.shape(mask)} does not match h of shape {arr.shape}")
    return arr


def _inverse_share(h: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """``N / n_l`` per class ``l`` (0 for a class with no counted voxel)."""
    counted = h if mask is None else h[np.asarray(mask, dtype=bool)]
    n = np.bincount(counted.ravel().astype(np.intp), minlength=int(h.max()) + 1 if h.size else 1)
    n = n.astype(np.float64)
    return np.divide(n.sum(), n, out=np.zeros_like(n), where=n > 0)


def class_balance(h: np.ndarray, *, mask: np.ndarray | None = None) -> np.ndarray:
    """``w^B(p) = N / n_l`` for ``p`` in class ``l``: the balance weight map (eq 2.6's
    ``w^B``, Zhou et al.), ``n_l`` counted on ``mask`` (N its voxels). Every class then
    carries the same total weight. A class with no counted voxel gets 0.

    Examples
    --------
    >>> class_balance(np.array([[0, 0, 0, 1]])).tolist()
    [[1.3333333730697632, 1.3333333730697632, 1.3333333730697632, 4.0]]
    """
    h = _check_h(h, mask)
    return _inverse_share(h, mask)[h].astype(np.float32)


def _distance_to(region: np.ndarray) -> np.ndarray:
    """Euclidean distance of every voxel to the nearest voxel of ``region`` (inf if none)."""
    if not region.any():
        return np.full(region.shape, np.inf)
    return np.asarray(ndi.distance_transform_edt(~region), dtype=np.float64)


def _objects(h: np.ndarray, instances: np.ndarray | None) -> np.ndarray:
    """Object ids: ``instances`` when given, else the connected components of ``h == 1``."""
    if instances is None:
        return np.asarray(connected_components(h == 1), dtype=np.int64)
    objects = np.asarray(instances)
    if objects.shape != h.shape:
        raise ValueError(f"instances of shape {objects.shape} do not match h of shape {h.shape}")
    return objects


def unet_weight_map(
    h: np.ndarray,
    *,
    instances: np.ndarray | None = None,
    nu: float = 10.0,
    sigma: float = 5.0,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """The U-Net border weight (eq 2.7): ``w^B(p) + nu exp(-(phi_1(p) + phi_2(p))^2 / (2
    sigma^2))``.

    ``phi_1`` and ``phi_2`` are the distances to the nearest and the second-nearest object.
    The border term goes on background voxels (``h = 0``), "background regions between two
    near objects" (§2.3). Objects are ``instances`` (ids > 0) when given, else the connected
    components of ``h == 1``; with fewer than two, the border term is 0.

    Examples
    --------
    >>> w = unet_weight_map(np.array([[1, 0, 0, 1]]), nu=10, sigma=5)
    >>> round(float(w[0, 1]), 4)  # N / n_0 = 2, phi_1 + phi_2 = 1 + 2
    10.3527
    """
    h = _check_h(h, mask)
    if nu < 0 or sigma <= 0:
        raise ValueError(f"nu must be >= 0 and sigma > 0, got nu={nu}, sigma={sigma}")
    w = class_balance(h, mask=mask).astype(np.float64)
    objects = _objects(h, instances)
    ids = np.unique(objects[objects > 0])
    if ids.size >= 2:
        d1 = np.full(h.shape, np.inf)
        d2 = np.full(h.shape, np.inf)
        for i in ids:
            d = _distance_to(objects == i)
            d2 = np.where(d < d1, d1, np.minimum(d2, d))
            d1 = np.minimum(d1, d)
        bg = h == 0
        w[bg] += nu * np.exp(-((d1[bg] + d2[bg]) ** 2) / (2 * sigma**2))
    return w.astype(np.float32)


def distance_weight_map(
    h: np.ndarray, *, beta: float = 30.0, mask: np.ndarray | None = None
) -> np.ndarray:
    """DWM (eq 3.2): ``w^B(p) (1 - min(phi_h(p) / beta, 1)) + 1``.

    ``phi_h`` is the distance to the closest non-background voxel (0 on objects): object
    voxels get ``w^B + 1``, background decays linearly to 1 at ``beta`` from them.

    Examples
    --------
    >>> h = np.array([[1, 0, 0, 0, 0]])
    >>> np.round(distance_weight_map(h, beta=2), 4).tolist()  # w^B: 5 and 1.25
    [[6.0, 1.625, 1.0, 1.0, 1.0]]
    """
    h = _check_h(h, mask)
    if beta < 1:
        raise ValueError(f"beta must be >= 1, got {beta}")
    wb = class_balance(h, mask=mask).astype(np.float64)
    phi = _distance_to(h != 0)
    return (wb * (1 - np.minimum(phi / beta, 1)) + 1).astype(np.float32)


def _contour(region: np.ndarray) -> np.ndarray:
    """Voxels of ``region`` with a face neighbour outside it (outside the image counts)."""
    return region & ~ndi.binary_erosion(region, border_value=0)


def _skeleton(region: np.ndarray) -> np.ndarray:
    return np.asarray(skeletonize(region, method="lee"), dtype=bool)


def _convex_hull(obj: np.ndarray) -> np.ndarray:
    try:
        return np.asarray(convex_hull_image(obj), dtype=bool)
    except Exception:  # flat objects (one row, one plane) have no hull of full dimension
        return obj.copy()


def shape_aware_weight_map(
    h: np.ndarray,
    *,
    sigma: float = 1.0,
    iterations: int = 20,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """SAW (eqs 3.3-3.4): ``w^B(p) + (F_sigma * w^c_tau)(p) + 1``.

    For each object ``t`` (a connected component of ``h == 1``) and its concave complement
    ``r_t = c_t \\ t`` (its convex hull less the object), ``K`` holds the skeletons
    ``s_t u s_r`` and ``Gamma_H`` the contours ``Gamma_t u Gamma_r``. Eq 3.4:
    ``w^c(p) = 1 - phi_K(p) / tau`` on ``Gamma_H`` and 0 elsewhere, with
    ``tau = sup_{Gamma_H} phi_K``: contour voxels close to a skeleton, in narrow parts and
    tips, weigh most. ``F_sigma`` is a Gaussian smoothing with copy padding, applied
    ``iterations`` times (twenty in the thesis).
    """
    h = _check_h(h, mask)
    if sigma <= 0 or iterations < 0:
        raise ValueError(f"sigma must be > 0 and iterations >= 0, got {sigma}, {iterations}")
    objects = connected_components(h == 1)
    contours = np.zeros(h.shape, dtype=bool)
    skeleton = np.zeros(h.shape, dtype=bool)
    for i in range(1, int(objects.max()) + 1):
        t = objects == i
        for part in (t, _convex_hull(t) & ~t):
            if part.any():
                contours |= _contour(part)
                skeleton |= _skeleton(part)
    wc = np.zeros(h.shape)
    if contours.any() and skeleton.any():
        phi_k = _distance_to(skeleton)
        tau = float(phi_k[contours].max())
        wc[contours] = 1 - phi_k[contours] / tau if tau > 0 else 1.0
    for _ in range(iterations):
        wc = ndi.gaussian_filter(wc, sigma, mode="nearest")
    return (class_balance(h, mask=mask) + wc + 1).astype(np.float32)


def triplex_weight_map(
    h: np.ndarray,
    *,
    beta: float = 30.0,
    nu: float = 10.0,
    sigma: float = 3.0,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """W3, the triplex weight map for weak annotations (eq 4.3; defaults of Fig. 23).

    With ``phi_beta(u) = max(1 - u / beta, 0)`` and ``n_l`` the class shares:

    - background (``h = 0``): ``nu / n_0 + nu phi_beta(phi_h(p)) / n_1``, where ``phi_h`` is
      the distance to the objects: far from any annotated object only ``nu / n_0`` is left;
    - object contour (``h = 1``, ``p`` in ``Gamma``): ``nu / n_1 + nu phi_beta(phi_K(p))``,
      ``phi_K`` the distance to the objects' skeletons;
    - object interior: ``nu / n_1 + w(zeta(p)) exp(-phi_Gamma(p)^2 / sigma^2)``, ``zeta(p)``
      the contour voxel nearest to ``p`` and ``phi_Gamma`` the distance to it;
    - touching (``h = 2``): ``nu / n_2``, and any further class (a gap class) ``nu / n_l``.
    """
    h = _check_h(h, mask)
    if beta <= 0 or nu < 0 or sigma <= 0:
        raise ValueError(f"beta and sigma must be > 0 and nu >= 0, got {beta}, {sigma}, {nu}")
    inv = nu * _inverse_share(h, mask)
    if inv.size < 2:
        inv = np.append(inv, 0.0)
    w = inv[h].astype(np.float64)
    obj = h == 1
    if not obj.any():
        return w.astype(np.float32)

    def ramp(u: np.ndarray) -> np.ndarray:
        return np.maximum(1 - u / beta, 0)

    bg = h == 0
    w[bg] += inv[1] * ramp(_distance_to(obj)[bg])
    contour = _contour(obj)
    labels = connected_components(obj)
    skeleton = np.zeros(h.shape, dtype=bool)
    for i in range(1, int(labels.max()) + 1):
        skeleton |= _skeleton(labels == i)
    w[contour] = inv[1] + nu * ramp(_distance_to(skeleton)[contour])
    interior = obj & ~contour
    if interior.any():
        dist, index = ndi.distance_transform_edt(~contour, return_indices=True)
        near = tuple(ix[interior] for ix in index)
        w[interior] = inv[1] + w[near] * np.exp(-(dist[interior] ** 2) / sigma**2)
    return w.astype(np.float32)


#: name -> function(h, mask=..., **params) -> weights; "none" is uniform.
WEIGHTS: dict[str, Any] = {
    "none": None,
    "balance": class_balance,
    "unet": unet_weight_map,
    "dwm": distance_weight_map,
    "saw": shape_aware_weight_map,
    "w3": triplex_weight_map,
}


def make_weights(
    name: str,
    h: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    normalise: bool = True,
    **params: Any,
) -> np.ndarray:
    """The weight map ``name`` (a key of :data:`WEIGHTS`) of the class map ``h``, scaled to
    mean 1 over the counted voxels (``mask``) unless ``normalise`` is False.

    Examples
    --------
    >>> w = make_weights("balance", np.array([[0, 0, 0, 1]]))
    >>> (w * 3).round(4).tolist(), float(w.mean())
    ([[2.0, 2.0, 2.0, 6.0]], 1.0)
    """
    if name not in WEIGHTS:
        raise ValueError(f"weights must be one of {sorted(WEIGHTS)}, got {name!r}")
    h = _check_h(h, mask)
    if name == "none":
        return np.ones(h.shape, dtype=np.float32)
    w = np.asarray(WEIGHTS[name](h, mask=mask, **params), dtype=np.float32)
    if normalise:
        counted = w if mask is None else w[np.asarray(mask, dtype=bool)]
        mean = float(counted.mean()) if counted.size else 0.0
        if mean > 0:
            w = w / np.float32(mean)
    return w
