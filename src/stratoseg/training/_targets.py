"""Training targets from label images (Guerrero Peña 2019, eq 4.1, §5.2.1, Algorithm 1).

Every function takes a label image of any dimension (2-D or 3-D), treats the voxels beyond its
edges as background, and returns a ``uint8`` class map of the same shape. :data:`TARGETS`
describes each kind: its classes and how predictions turn back into labels (recorded in the
model card as ``recommended.postprocess``: a method of :data:`stratoseg.postprocess.METHODS`
under ``kind`` and its parameters).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product
from typing import Any

import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "TARGETS",
    "TargetKind",
    "augment_touching",
    "boundary_target",
    "make_target",
    "semantic_target",
    "touching_gap_target",
    "touching_target",
]


def _as_labels(labels: np.ndarray, name: str = "labels") -> np.ndarray:
    arr = np.asarray(labels)
    if arr.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name} must be 2-D or 3-D, got shape {arr.shape}")
    if arr.dtype.kind == "i" and arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be >= 0, got a minimum of {arr.min()}")
    return arr


def _check_k(k: int) -> int:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k (neighbourhood half-size) must be an integer >= 1, got {k!r}")
    return int(k)


def semantic_target(labels: np.ndarray, *, num_classes: int) -> np.ndarray:
    """The classes as they are (``0 .. num_classes - 1``), checked.

    Raises
    ------
    ValueError
        When a voxel holds a class the target does not know (``>= num_classes``).

    Examples
    --------
    >>> semantic_target(np.array([[0, 2], [1, 1]]), num_classes=3).tolist()
    [[0, 2], [1, 1]]
    """
    arr = _as_labels(labels)
    if not 1 <= num_classes <= 256:
        raise ValueError(f"num_classes must be in [1, 256], got {num_classes}")
    top = int(arr.max()) if arr.size else 0
    if top >= num_classes:
        found = np.unique(arr[arr >= num_classes])[:5].tolist()
        raise ValueError(
            f"labels hold class {found} but the target has {num_classes} classes "
            f"(0..{num_classes - 1})"
        )
    return arr.astype(np.uint8)


def _foreign_neighbours(g: np.ndarray, k: int) -> np.ndarray:
    """For each voxel p, ``sum over p' in eta_k(p) of [g(p') != g(p)] [g(p') != 0]``.

    ``eta_k`` is the ``(2k + 1)^d`` cube around p; beyond the edges is background.
    """
    padded = np.pad(g, k, mode="constant", constant_values=0)
    count = np.zeros(g.shape, dtype=np.uint16)
    for offset in product(range(2 * k + 1), repeat=g.ndim):
        if all(o == k for o in offset):
            continue
        view = padded[tuple(slice(o, o + n) for o, n in zip(offset, g.shape, strict=True))]
        count += (view != g) & (view != 0)
    return count


def touching_target(instances: np.ndarray, *, k: int = 1) -> np.ndarray:
    """Background / cell / touching classes from an instance label image (eq 4.1).

    .. math::

        h(p) = 0 \\text{ if } g(p) = 0;\\quad
        h(p) = 2 \\text{ if } \\sum_{p' \\in \\eta_k(p)} [g(p') \\ne g(p)]\\,[g(p') \\ne 0] > 1;
        \\quad h(p) = 1 \\text{ otherwise,}

    with ``eta_k(p)`` the ``(2k + 1)^d`` neighbourhood of p (§5.2: the same rule in 3-D). A
    voxel of an object is *touching* when more than one of its neighbours belongs to another
    object.

    Parameters
    ----------
    instances : ndarray of int, 2-D or 3-D
        0 is background, every other value one object.
    k : int
        Neighbourhood half-size, >= 1.

    Examples
    --------
    >>> g = np.array([[1, 1, 2, 2]])
    >>> touching_target(g).tolist()  # each voxel at the contact sees one foreign voxel in 1-D
    [[1, 1, 1, 1]]
    >>> g = np.array([[1, 1, 2, 2], [1, 1, 2, 2]])
    >>> touching_target(g).tolist()
    [[1, 2, 2, 1], [1, 2, 2, 1]]
    """
    g = _as_labels(instances, "instances")
    k = _check_k(k)
    h = (g != 0).astype(np.uint8)
    h[(h == 1) & (_foreign_neighbours(g, k) > 1)] = 2
    return h


def _ball(radius: int, ndim: int) -> np.ndarray:
    grid = np.indices((2 * radius + 1,) * ndim) - radius
    return (grid**2).sum(axis=0) <= radius * radius


def _closing(mask: np.ndarray, structure: np.ndarray) -> np.ndarray:
    """Binary closing with the outside as background (padded, so no border effect)."""
    r = max(structure.shape) // 2
    padded = np.pad(mask, 2 * r, mode="constant")
    closed = ndi.binary_erosion(ndi.binary_dilation(padded, structure), structure, border_value=1)
    return closed[tuple(slice(2 * r, 2 * r + n) for n in mask.shape)]


def touching_gap_target(instances: np.ndarray, *, k: int = 2, radius: int = 3) -> np.ndarray:
    """Background / cell / touching / gap classes (§5.2.1), ``k = 2`` as in the paper.

    .. math::

        h(p) = 3 \\text{ if } g(p) = 0 \\text{ and } \\varrho_e(p) > 0, \\quad
        h(p) = 0 \\text{ if } g(p) = 0 \\text{ and } \\varrho_e(p) = 0,

    and touching / cell as in eq 4.1 (:func:`touching_target`), where
    ``rho_e = (g . e) - g`` is the bottom-hat transform of ``g`` with the hyper-sphere ``e`` of
    ``radius``. On background voxels the grey closing of ``g`` is non-zero exactly where the
    binary closing of ``g > 0`` is set, which is what is computed: gaps are the background
    voxels that a closing fills, between objects closer than about ``2 radius`` (and in
    concavities narrower than that).

    Examples
    --------
    >>> g = np.zeros((5, 7), int); g[:, :3] = 1; g[:, 4:] = 2
    >>> touching_gap_target(g, k=1, radius=1)[2].tolist()
    [1, 1, 1, 3, 1, 1, 1]
    """
    g = _as_labels(instances, "instances")
    if not isinstance(radius, (int, np.integer)) or radius < 1:
        raise ValueError(
            f"radius (of the bottom-hat element) must be an integer >= 1, got {radius!r}"
        )
    h = touching_target(g, k=k)
    fg = g != 0
    gap = _closing(fg, _ball(int(radius), g.ndim)) & ~fg
    h[gap] = 3
    return h


def augment_touching(mask: np.ndarray, *, size: int = 3) -> np.ndarray:
    """Add a touching class to a binary mask of touching objects (Algorithm 1).

    ``h' = (h (+) s) (-) s``; ``h' = h' - h``; ``h' = h' (+) s``;
    ``h' = h + (max(h) + 1) h'``; ``h'`` clipped to ``[0, max(h) + 1]``, with ``s`` the
    ``size``-wide square (cube in 3-D) structuring element, 3 in the paper. For a binary ``h``:
    0 background, 1 object, 2 the dilated gaps that the closing fills.

    Examples
    --------
    >>> h = np.zeros((3, 7), int); h[:, :3] = 1; h[:, 4:] = 1
    >>> augment_touching(h).tolist()[1]
    [1, 1, 2, 2, 2, 1, 1]
    """
    h = _as_labels(mask, "mask")
    if h.size and h.max() > 1:
        raise ValueError(
            f"mask must be binary (0 background, 1 object), got values up to {h.max()}"
        )
    if not isinstance(size, (int, np.integer)) or size < 3 or size % 2 == 0:
        raise ValueError(f"size (of the structuring element) must be odd and >= 3, got {size!r}")
    h = h.astype(np.uint8)
    s = np.ones((int(size),) * h.ndim, dtype=bool)
    hp = _closing(h.astype(bool), s) & ~h.astype(bool)  # steps 1-2
    r = int(size) // 2
    hp = ndi.binary_dilation(np.pad(hp, r), s)[tuple(slice(r, r + n) for n in h.shape)]  # 3
    top = 1  # max(h) of a binary mask
    return np.clip(h + (top + 1) * hp.astype(np.uint8), 0, top + 1).astype(np.uint8)  # 4-5


def boundary_target(instances: np.ndarray, *, width: int = 1) -> np.ndarray:
    """Interior (0) / boundary (1) for EM membranes.

    A voxel is boundary where ``g = 0`` (a membrane) or where another object lies within
    ``width`` (chessboard distance), so objects that touch without a membrane between them are
    still separated.

    Examples
    --------
    >>> boundary_target(np.array([[1, 1, 0, 2, 2, 3]])).tolist()
    [[0, 0, 1, 0, 1, 1]]
    """
    g = _as_labels(instances, "instances")
    k = _check_k(width)
    return ((g == 0) | (_foreign_neighbours(g, k) > 0)).astype(np.uint8)


@dataclass(frozen=True)
class TargetKind:
    """A target: its classes and how predictions become labels again.

    ``postprocess`` is what a model card records under ``recommended.postprocess``.
    """

    name: str
    classes: tuple[str, ...] | None  # None: the label image's own classes
    input_kind: str  # "semantic", "instances" or "mask"
    description: str
    postprocess: dict[str, Any] = field(default_factory=dict)
    object_class: int = 1  # the class whose connected components are the objects (validation)
    #: the validation score that picks the best weights (a key of ``validate``'s result); the
    #: boundary target's bodies come from a watershed, and in 3-D the connected components of
    #: its interior merge across any gap, so their PQ stays near 0 and picks nothing
    select_by: str = "pq"


TARGETS: dict[str, TargetKind] = {
    "semantic": TargetKind(
        "semantic",
        None,
        "semantic",
        "the label image's classes as they are (e.g. matrix / fibre / pore)",
        {"kind": "map"},
    ),
    "touching": TargetKind(
        "touching",
        ("background", "object", "touching"),
        "instances",
        "background / object / touching from instances (eq 4.1)",
        {"kind": "watershed", "tau0": 0.5, "tau1": 0.5},
    ),
    "touching-gap": TargetKind(
        "touching-gap",
        ("background", "object", "touching", "gap"),
        "instances",
        "background / object / touching / gap from instances (§5.2.1)",
        {"kind": "map", "instances": True, "classes": [0, 1, 2]},
    ),
    "touching-mask": TargetKind(
        "touching-mask",
        ("background", "object", "touching"),
        "mask",
        "a touching class added to a binary mask of touching objects (Algorithm 1)",
        {"kind": "threshold", "gamma1": 0.5, "gamma2": 0.5},
    ),
    "boundary": TargetKind(
        "boundary",
        ("interior", "boundary"),
        "instances",
        "interior / boundary for membranes (EM), 0 in the labels is membrane",
        {"kind": "boundary-watershed", "boundary_class": 1},
        object_class=0,
        select_by="mean_jaccard",
    ),
}


def make_target(
    kind: str, labels: np.ndarray, *, num_classes: int | None = None, **params: Any
) -> np.ndarray:
    """The target ``kind`` (a key of :data:`TARGETS`) of ``labels``; ``params`` go to its function.

    ``num_classes`` is needed by ``"semantic"`` only.
    """
    if kind not in TARGETS:
        raise ValueError(f"target must be one of {sorted(TARGETS)}, got {kind!r}")
    if kind == "semantic":
        if num_classes is None:
            raise ValueError("the semantic target needs num_classes")
        return semantic_target(labels, num_classes=num_classes)
    if kind == "touching":
        return touching_target(labels, **params)
    if kind == "touching-gap":
        return touching_gap_target(labels, **params)
    if kind == "touching-mask":
        return augment_touching(labels, **params)
    return boundary_target(labels, **params)
