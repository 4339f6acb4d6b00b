"""Boundary maps to segments, as the ISBI 2012 challenge scored them."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import skeletonize

__all__ = ["segments_from_boundaries"]


def segments_from_boundaries(
    boundary: np.ndarray, *, threshold: float = 0.5, thin: bool = True
) -> np.ndarray:
    """Label the regions a boundary map separates; boundary voxels get label 0.

    The ISBI 2012 challenge scored membrane probability maps this way: threshold, take the
    connected components of the rest (4-connectivity in 2-D, 6 in 3-D) as segments, and
    optionally thin the boundaries to one voxel (skeletonize), the voxels freed by thinning
    joining their nearest segment. The boundary voxels then belong to no
    segment, which :func:`~stratoseg.metrics.v_rand` handles with ``pred_boundary=0``.

    Parameters
    ----------
    boundary : (Z, Y, X) or (Y, X) array
        Boolean boundary mask, or boundary probabilities in [0, 1] (``> threshold`` is
        boundary).
    threshold : float
        Threshold for non-boolean maps.
    thin : bool
        Thin the boundaries to one voxel first.

    Returns
    -------
    (Z, Y, X) or (Y, X) int32 ndarray
        Segment labels 1..N, 0 on boundaries.

    Examples
    --------
    >>> b = np.zeros((5, 5), bool); b[:, 2] = True
    >>> segments_from_boundaries(b)[0].tolist()
    [1, 1, 0, 2, 2]
    """
    arr = np.asarray(boundary)
    if arr.ndim not in (2, 3):
        raise ValueError(f"boundary must be 2-D or 3-D, got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"boundary must be a boolean or numeric map, got dtype {arr.dtype}")
    mask = arr if arr.dtype == bool else arr > threshold
    labels, _ = ndi.label(~mask, structure=ndi.generate_binary_structure(arr.ndim, 1))
    if thin and mask.any() and labels.any():
        # The segments are the regions of the full boundary map; thinning only hands the
        # boundary voxels it frees to the nearest segment. Labelling after a skeletonize instead
        # would merge regions whose separating boundary the skeleton does not keep closed.
        skeleton = skeletonize(mask)
        freed = mask & ~skeleton
        _, nearest = ndi.distance_transform_edt(labels == 0, return_indices=True)
        labels[freed] = labels[tuple(idx[freed] for idx in nearest)]
    return labels.astype(np.int32)
