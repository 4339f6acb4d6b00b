"""Instances from a membrane (boundary) probability map, closing open boundaries with a
watershed (Herreros §3.2.8)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi
from skimage.segmentation import watershed

from stratoseg.postprocess._agglomerate import checked_boundary, distance_markers
from stratoseg.postprocess._clean import check_fraction, remove_small_objects

__all__ = ["boundary_watershed"]


def boundary_watershed(
    boundary: Any,
    *,
    threshold: float = 0.5,
    segment_threshold: float = 0.3,
    h: float = 2.0,
    min_size: int = 0,
    assign_boundaries: bool = False,
    flood: str = "distance",
) -> np.ndarray:
    """Cells between membranes, with open membranes closed where the map hints at them.

    Herreros §3.2.8, in the terms of a boundary probability ``b`` (1 = membrane):

    1. the boundary map is ``b >= threshold``;
    2. the distance of each interior voxel to it has a dome per cell; its h-maxima
       (height ``h`` voxels) are the markers of a watershed of the negated distance (the
       paper's; ``flood="boundary"`` floods ``b`` instead, so the lines follow the ridges of the
       map, which worked far better on 3-D FIB-SEM: adapted Rand error 0.13 against 0.73 on
       the tuning slices of ``em-boundaries-3d``); its lines
       are, of each two face neighbours in different basins, the one with the higher ``b`` (no
       face path crosses them; scikit-image's ``watershed_line`` gives the same kind of line
       but took minutes on a 25 x 250 x 250 map that the plain watershed floods in a second);
    3. the parts of the lines that are not already boundary are candidate segments
       (connected components, full connectivity); a segment is added to the boundary map when
       the mean of ``b`` along it is at least ``segment_threshold``: a real gap in a membrane
       still has a raised ``b``, while a line across the middle of a cell does not;
    4. the cells are the connected components of the interior (face connectivity); objects
       smaller than ``min_size`` voxels are removed. Boundary voxels stay 0 unless
       ``assign_boundaries``, which grows the cells over them (a watershed of ``b``).

    Parameters
    ----------
    boundary : array (y, x) or (z, y, x)
        The membrane probability in [0, 1] (uint8 0-255 is scaled).

    Returns
    -------
    numpy.ndarray
        int32 instance ids, 0 for membranes (unless ``assign_boundaries``).
    """
    b, threshold = checked_boundary(boundary, threshold=threshold, h=h, flood=flood)
    segment_threshold = check_fraction(segment_threshold, "segment_threshold")
    membrane = b >= threshold
    interior = ~membrane
    if interior.any() and membrane.any():
        dist, markers = distance_markers(interior, h)
        basins = watershed(-dist if flood == "distance" else b, markers=markers, connectivity=1)
        candidates = ((basins == 0) | _lines(basins, b)) & interior
        segments, n = ndi.label(candidates, structure=np.ones((3,) * b.ndim, bool))
        if n:
            means = ndi.mean(b, labels=segments, index=np.arange(1, n + 1))
            keep = np.concatenate([[False], np.asarray(means) >= float(segment_threshold)])
            membrane |= keep[segments]
    cells, _ = ndi.label(~membrane)
    cells = cells.astype(np.int32)
    if min_size > 1:
        cells = remove_small_objects(cells, int(min_size))
    if assign_boundaries and cells.any():
        cells = watershed(b, markers=cells, connectivity=1).astype(np.int32)
    return cells


def _lines(basins: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Of each two face neighbours in different basins, the one with the higher ``b`` (the
    first on a tie): a line that no face path between basins avoids, on the membrane's side.

    Examples
    --------
    >>> _lines(np.array([[1, 1, 2, 2]]), np.array([[0.0, 0.1, 0.4, 0.0]])).astype(int).tolist()
    [[0, 0, 1, 0]]
    """
    line = np.zeros(basins.shape, bool)
    for axis in range(basins.ndim):
        a = [slice(None)] * basins.ndim
        c = [slice(None)] * basins.ndim
        a[axis], c[axis] = slice(None, -1), slice(1, None)
        differ = basins[tuple(a)] != basins[tuple(c)]
        first = b[tuple(a)] >= b[tuple(c)]
        line[tuple(a)] |= differ & first
        line[tuple(c)] |= differ & ~first
    return line
