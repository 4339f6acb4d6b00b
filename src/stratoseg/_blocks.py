"""Block shapes for block-wise work: whole storage chunks grouped under a memory budget.

A block task reads its block plus a halo, computes, crops the halo and writes its chunks once
(``docs/architecture.md``, *Blocks*). Small blocks waste work on halos (64^3 chunks with a
9-voxel halo compute 2.1 times their volume); large ones use memory. :func:`group_chunks`
grows blocks by whole chunks, one axis at a time, while the block with its halo stays within
the budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["DEFAULT_BLOCK_BYTES", "group_chunks"]

#: Memory one block task may use for its working arrays (two tasks run per two cores).
DEFAULT_BLOCK_BYTES = 512 * 2**20


def group_chunks(
    shape: Sequence[int],
    chunks: Sequence[int],
    *,
    halo: Sequence[int],
    bytes_per_voxel: float,
    budget: int | None = None,
    padded: bool = True,
) -> tuple[int, ...]:
    """The block shape: a whole number of ``chunks`` per axis, as large as the budget allows.

    Axes grow in turn, the one with the smallest block first, by one chunk each time, while
    ``prod(block + 2 halo) * bytes_per_voxel <= budget``; no axis grows beyond the shape. A
    single chunk is kept even when it alone exceeds the budget. ``budget`` defaults to
    :data:`DEFAULT_BLOCK_BYTES`, read at each call. ``padded``: the halo is held even beyond
    the volume's edge (a padded read); otherwise a block's region stops at the edge, so a
    block spanning a short axis pays no halo along it.

    Examples
    --------
    >>> group_chunks((512, 512, 512), (64, 64, 64), halo=(9, 9, 9), bytes_per_voxel=24)
    (256, 256, 256)
    >>> group_chunks((512, 512, 512), (64, 64, 64), halo=(9, 9, 9), bytes_per_voxel=400)
    (64, 64, 128)
    >>> group_chunks((10, 1000, 1000), (1, 256, 256), halo=(0, 9, 9), bytes_per_voxel=24)
    (10, 1000, 1000)
    >>> group_chunks((5, 512, 512), (5, 64, 64), halo=(32, 32, 32), bytes_per_voxel=32)
    (5, 384, 448)
    >>> group_chunks((5, 512, 512), (5, 64, 64), halo=(32, 32, 32), bytes_per_voxel=32,
    ...              padded=False)
    (5, 512, 512)
    """
    if len(shape) != len(chunks) or len(halo) != len(shape):
        raise ValueError(
            f"shape {shape}, chunks {chunks} and halo {halo} must have one entry per axis"
        )
    limit = DEFAULT_BLOCK_BYTES if budget is None else budget
    block = [min(int(c), int(s)) for c, s in zip(chunks, shape, strict=True)]

    def cost(b: Sequence[int]) -> float:
        return (
            math.prod(
                min(x + 2 * h, s + (2 * h if padded else 0))
                for x, h, s in zip(b, halo, shape, strict=True)
            )
            * bytes_per_voxel
        )

    while True:
        growable = [i for i in range(len(block)) if block[i] < shape[i]]
        grown = False
        for i in sorted(growable, key=lambda i: (block[i], -i)):
            trial = list(block)
            trial[i] = min(block[i] + int(chunks[i]), int(shape[i]))
            if cost(trial) <= limit:
                block = trial
                grown = True
                break
        if not grown:
            return tuple(block)
