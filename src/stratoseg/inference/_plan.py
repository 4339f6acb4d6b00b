"""The block plan of a segmentation: blocks of whole chunks, windows and halos per axis.

Shared by the batch run (``_segment``) and the lazy view (``_lazy``) through ``_prepare``, so
both cut a volume the same way; nothing here reads data or runs a network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

import numpy as np

from stratoseg.inference._tiling import Axis, Tiling

__all__ = [
    "BLOCK_BYTES",
    "DEFAULT_WINDOW",
    "SegmentPlan",
    "block_bytes_per_voxel",
    "block_seed",
    "choose_window",
    "fit_blocks",
    "plan_segment",
    "tiling_axes",
]

#: Memory budget of one block's input region in inference (see :func:`fit_blocks`).
BLOCK_BYTES = 128 * 2**20

#: Default window of the network's spatial axes (before fitting it to the blocks).
DEFAULT_WINDOW = {2: 512, 3: 128}


def block_seed(seed: int, index: int) -> int:
    """The stratified seed of block ``index``: independent of order and number of workers."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def _default_halo(config: Any, window: int) -> int:
    """The network's halo (its farthest reach on one side), at most a sixteenth of the window,
    rounded up to a multiple of the divisor."""
    unit = int(config.divisor)
    want = min(int(config.halo), max(unit, window // 16))
    return math.ceil(want / unit) * unit


@dataclass(frozen=True)
class SegmentPlan:
    """How a volume is cut: blocks (whole chunks) and the tiling of each axis.

    Attributes
    ----------
    shape, chunks, block : tuple of int
        Volume, storage chunks and nominal block shape (the last blocks may be shorter).
    axes : list of Axis
        Window, halo and divisor per volume axis.
    """

    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    block: tuple[int, ...]
    axes: list[Axis]

    def blocks(self) -> list[tuple[slice, ...]]:
        """Every block region, in C order (its position is its index)."""
        starts = [range(0, n, b) for n, b in zip(self.shape, self.block, strict=True)]
        return [
            tuple(
                slice(s, min(s + b, n)) for s, b, n in zip(st, self.block, self.shape, strict=True)
            )
            for st in product(*starts)
        ]


def plan_segment(
    config: Any,
    shape: Sequence[int],
    chunks: Sequence[int],
    *,
    window: int | Sequence[int] | None = None,
    halo: int | Sequence[int] | None = None,
    block: int | Sequence[int] | None = None,
    classes: int = 2,
    in_channels: int = 1,
    tiling: Tiling = "crop",
    input_itemsize: int = 4,
) -> SegmentPlan:
    """Blocks and per-axis tiling for a model (``config``) on a volume.

    Parameters
    ----------
    config : UNetConfig
    shape, chunks : sequence of int
        The volume's spatial shape and storage chunks.
    window, halo : int or sequence of int, optional
        For the network's spatial axes; default: 512 (2-D) or 128 (3-D) fitted to the blocks,
        and the network's reach up to a sixteenth of the window, a multiple of the divisor
        (windows then start on the volume's pooling grid, so a full halo gives one plain
        forward pass over the whole volume).
    block : int or sequence of int, optional
        Block shape in voxels, a multiple of the chunks; default: the whole-chunk block within
        the memory budget whose windows forward the fewest voxels (``fit_blocks``).
    classes, in_channels, tiling, input_itemsize
        What a block holds, for the memory budget (:func:`block_bytes_per_voxel`).
    """
    shape = tuple(int(n) for n in shape)
    chunks = tuple(min(int(c), n) for c, n in zip(chunks, shape, strict=True))
    net = int(config.spatial_dims)
    target = _per_axis(window, net, "window") or (DEFAULT_WINDOW[net],) * net
    halos = _per_axis(halo, net, "halo") or tuple(_default_halo(config, t) for t in target)
    unit = int(config.divisor)
    if any(h % unit for h in halos):
        raise ValueError(
            f"halo {halos} must be a multiple of {unit} (the model's down-sampling factor), so "
            "that windows start on the network's pooling grid"
        )
    rough = tiling_axes(config, len(shape), window=_fit(target, config), halo=halos)
    if block is None:  # blocks within the memory budget and windows forwarding fewest voxels
        per_voxel = block_bytes_per_voxel(classes, in_channels, tiling, input_itemsize)
        nominal, fitted = fit_blocks(
            shape, chunks, window=target, halo=halos, divisor=int(config.divisor),
            read_halo=[a.halo for a in rough], bytes_per_voxel=per_voxel,
            fit_window=window is None,
        )  # fmt: skip
    else:
        nominal = tuple(
            min(b, n)
            for b, n in zip(_per_axis(block, len(shape), "block") or (), shape, strict=True)
        )
        for b, c, n in zip(nominal, chunks, shape, strict=True):
            if b % c and b != n:
                raise ValueError(
                    f"block {nominal} must be a multiple of the chunks {chunks} (or the whole "
                    "axis), so that each chunk is written by one block"
                )
        fitted = target
        if window is None:  # fit the windows to the blocks: equal pieces, little waste
            fitted = tuple(
                choose_window(b, t, h, int(config.divisor))
                for b, t, h in zip(nominal[-net:], target, halos, strict=True)
            )
    axes = tiling_axes(config, len(shape), window=fitted, halo=halos)
    return SegmentPlan(shape, chunks, nominal, axes)


def block_bytes_per_voxel(
    classes: int, in_channels: int, tiling: Tiling = "crop", input_itemsize: int = 4
) -> float:
    """Bytes the batch pipeline holds per voxel of a block's input region, for the budget.

    Two blocks are in flight at a time, each holding its input region (``in_channels`` x
    ``input_itemsize`` bytes: the image's own dtype, see
    :class:`~stratoseg.inference.NetworkInput`; enhancement channels are float32) and its
    encoded outputs (``classes`` bytes of uint8 probabilities and 1 of labels): one being
    computed while the next is read and the previous written. The blending tilings also
    sum the block in float32 (``4 (classes + 1)`` bytes). A batch of windows in float32 and
    the network's activations come on top: they follow the window, not the block.

    Examples
    --------
    >>> block_bytes_per_voxel(3, 1, "crop", 1), block_bytes_per_voxel(3, 1, "gaussian", 1)
    (10.0, 26.0)
    """
    held = 2.0 * (in_channels * input_itemsize + classes + 1)
    return held + (0.0 if tiling == "crop" else 4.0 * (classes + 1))


def _per_axis(value: int | Sequence[int] | None, n: int, what: str) -> tuple[int, ...] | None:
    if value is None:
        return None
    values = (int(value),) * n if isinstance(value, (int, np.integer)) else tuple(map(int, value))
    if len(values) != n or any(v < 0 for v in values) or (what != "halo" and 0 in values):
        raise ValueError(f"{what} must be one or {n} positive integers, got {value!r}")
    return values


def _fit(window: tuple[int, ...], config: Any) -> tuple[int, ...]:
    d = int(config.divisor)
    return tuple(max(d, math.ceil(w / d) * d) for w in window)


def choose_window(length: int, target: int, halo: int, divisor: int) -> int:
    """A window for a block axis of ``length`` voxels near ``target``, whose kept part
    (window - 2 halo) splits the block into equal pieces on the divisor's grid.

    Of the piece counts around ``length / (target - 2 halo)``, the one that forwards the fewest
    voxels wins, as long as its window stays within 1.25 times ``target`` (memory).

    Examples
    --------
    >>> choose_window(256, 128, 8, 8)  # two pieces of 128: windows of 144 (not three of 104)
    144
    >>> choose_window(40, 128, 8, 8)  # a short block: one piece
    56
    """
    stride0 = max(divisor, target - 2 * halo)
    best: tuple[int, int] | None = None
    for pieces in {max(1, length // stride0), max(1, math.ceil(length / stride0))}:
        stride = math.ceil(length / pieces / divisor) * divisor
        window = stride + 2 * halo
        cost = pieces * window
        if window <= max(1.25 * target, stride0 + 2 * halo) and (best is None or cost < best[0]):
            best = (cost, window)
    assert best is not None
    return best[1]


def _forwarded(length: int, block: int, window: int, halo: int, divisor: int) -> int:
    """Input voxels the crop windows of an axis of ``length`` forward, in blocks of ``block``
    with windows of at most ``window`` fitted to each block (see ``_tiling._crop_axis``)."""
    stride = window - 2 * halo
    total = 0
    for lo in range(0, length, block):
        size = min(block, length - lo)
        count = math.ceil(size / stride)
        total += count * (math.ceil(size / count / divisor) * divisor + 2 * halo)
    return total


def _outer(values: Sequence[np.ndarray]) -> np.ndarray:
    """The outer product of 1-D arrays: ``out[i, j, ...] = values[0][i] * values[1][j] ...``."""
    out = np.ones((1,) * len(values))
    for axis, v in enumerate(values):
        out = out * np.reshape(v, [-1 if a == axis else 1 for a in range(len(values))])
    return out


def fit_blocks(
    shape: Sequence[int],
    chunks: Sequence[int],
    *,
    window: Sequence[int],
    halo: Sequence[int],
    divisor: int,
    read_halo: Sequence[int],
    bytes_per_voxel: float,
    budget: int | None = None,
    fit_window: bool = True,
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The block shape (whole chunks, within the memory budget) and the windows of the
    network's axes (the last ``len(window)``) that forward the fewest voxels per voxel.

    Every block shape of whole chunks whose input region (block + 2 ``read_halo``, as in
    :func:`stratoseg._blocks.group_chunks`) times ``bytes_per_voxel`` fits ``budget``
    (default :data:`BLOCK_BYTES`; one chunk always fits) is scored by the voxels its crop
    windows forward, windows
    fitted to each block; within 0.5% of the fewest, the largest block wins (fewer blocks,
    less halo read twice), and of those the one whose halo is smallest. The largest block is
    not always best: an axis of 1024 voxels in blocks of 960 ends with a block of 64, whose
    window is mostly halo, and a 2-D network gains nothing from blocks deep in z but loses on
    narrow ones in y and x. With ``fit_window`` each block length gets :func:`choose_window`
    of ``window``, else ``window`` as it is.

    Examples
    --------
    >>> fit_blocks((256,), (64,), window=(128,), halo=(8,), divisor=8, read_halo=(8,),
    ...            bytes_per_voxel=1.0)
    ((256,), (144,))
    >>> fit_blocks((512, 512, 512), (64, 64, 64), window=(128,) * 3, halo=(8,) * 3, divisor=8,
    ...            read_halo=(8,) * 3, bytes_per_voxel=10.0)
    ((128, 256, 256), (144, 144, 144))
    """
    lead = len(shape) - len(window)
    cands, ratios, extents, wins = [], [], [], []
    for axis, (n, c) in enumerate(zip(shape, chunks, strict=True)):
        sizes = sorted({*range(int(c), int(n), int(c)), int(n)})
        cands.append(sizes)
        extents.append(np.array([min(s, n) + 2 * int(read_halo[axis]) for s in sizes], float))
        if axis < lead:  # every slice predicted once, whatever the block
            ratios.append(np.ones(len(sizes)))
            wins.append([0] * len(sizes))
            continue
        w, h = int(window[axis - lead]), int(halo[axis - lead])
        ws = [choose_window(s, w, h, divisor) if fit_window else w for s in sizes]
        ratios.append(
            np.array([_forwarded(n, s, x, h, divisor) / n for s, x in zip(sizes, ws, strict=True)])
        )
        wins.append(ws)
    limit = max(
        (BLOCK_BYTES if budget is None else budget) / bytes_per_voxel,
        math.prod(min(c, n) + 2 * r for c, n, r in zip(chunks, shape, read_halo, strict=True)),
    )
    memory = _outer(extents)  # per candidate block shape (one array axis per volume axis)
    cost = _outer(ratios)
    voxels = _outer([np.array(c, float) for c in cands])
    fits = memory <= limit * (1 + 1e-9)
    best = cost[fits].min()
    near = fits & (cost <= best * 1.005)
    largest = voxels[near].max()
    pick = np.where(near & (voxels >= largest * 0.999), memory, np.inf)  # then the least halo
    index = np.unravel_index(int(np.argmin(pick)), pick.shape)
    out = tuple(cands[a][int(i)] for a, i in enumerate(index))
    windows = tuple(wins[a][int(index[a])] for a in range(lead, len(shape)))
    return out, windows


def tiling_axes(
    config: Any,
    volume_ndim: int,
    *,
    window: Sequence[int],
    halo: Sequence[int],
) -> list[Axis]:
    """The per-axis tiling of a volume for a model (``config``: a UNetConfig).

    A 3-D model tiles every axis; a 2-D model on a 3-D volume predicts slice by slice (z window
    1, or ``context`` slices for 2.5D, a context axis); a 2-D model on a 2-D image tiles y, x.
    ``window`` and ``halo`` give the network's spatial axes (y, x or z, y, x).
    """
    net = int(config.spatial_dims)
    if volume_ndim not in (2, 3):
        raise ValueError(f"the image must be 2-D or 3-D, got {volume_ndim} axes")
    if net == 3 and volume_ndim == 2:
        raise ValueError("a 3-D model cannot segment a 2-D image; use a 2-D model")
    if int(config.context) > 1 and volume_ndim == 2:
        raise ValueError(
            f"a 2.5D model ({config.context} slices in) cannot segment a 2-D image; use a 2-D "
            "model, or give it a stack of slices"
        )
    if len(window) != net or len(halo) != net:
        raise ValueError(
            f"window {tuple(window)} and halo {tuple(halo)} must have {net} values (the "
            f"model is {net}-D)"
        )
    divisor = int(config.divisor)
    axes = [Axis(int(w), int(h), divisor) for w, h in zip(window, halo, strict=True)]
    if net == 2 and volume_ndim == 3:
        context = int(getattr(config, "context", 1))
        axes.insert(0, Axis(context, context // 2, 1, context=True))
    return axes
