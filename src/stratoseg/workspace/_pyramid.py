"""Pyramid levels of the raw image (for napari multiscale display) and chunk-exact stores."""

from __future__ import annotations

from collections.abc import Sequence

import dask.array as da
import zarr

from stratoseg._threads import joined_store

__all__ = ["pyramid_factors", "store"]

#: Stop adding levels once the largest in-plane size is at most this.
MIN_PLANE = 256
MAX_LEVELS = 8


def pyramid_factors(
    shape: Sequence[int], voxel_size: Sequence[float], *, min_plane: int = MIN_PLANE
) -> list[tuple[int, ...]]:
    """Cumulative downsampling factors per level (level 0 is all ones) for a spatial ``shape``.

    y and x halve at each level; z halves too when the voxels are no more than twice as long in
    z as in y and z is at least 64 long at that level, so thin stacks and anisotropic tomograms
    keep their slices.

    Examples
    --------
    >>> pyramid_factors((512, 1024, 1024), (1.0, 1.0, 1.0))
    [(1, 1, 1), (2, 2, 2), (4, 4, 4)]
    >>> pyramid_factors((20, 600, 600), (5.0, 1.0, 1.0))
    [(1, 1, 1), (1, 2, 2), (1, 4, 4)]
    >>> pyramid_factors((200, 200), (1.0, 1.0))
    [(1, 1)]
    """
    factors = [tuple(1 for _ in shape)]
    while len(factors) < MAX_LEVELS:
        cur = [s // f for s, f in zip(shape, factors[-1], strict=True)]
        if max(cur[-2:]) <= min_plane:
            break
        step = [2] * len(shape)
        if len(shape) == 3:
            iso = voxel_size[0] * factors[-1][0] <= 2 * voxel_size[1] * factors[-1][1]
            step[0] = 2 if iso and cur[0] >= 64 else 1
        factors.append(tuple(f * s for f, s in zip(factors[-1], step, strict=True)))
    return factors


def store(arr: da.Array, target: zarr.Array) -> None:
    """Write a dask array into a zarr array, each target chunk exactly once."""
    chunks = tuple(int(c) for c in target.chunks)
    joined_store(arr.rechunk(chunks), target)
