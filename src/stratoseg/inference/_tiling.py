"""Windows inside a block: the ``crop``, ``gaussian`` and ``stratified`` tilings.

The tiler knows nothing about the network. Per volume axis an :class:`Axis` says how large the
network's input window is, how many voxels of context each side of a window are not trusted
(the *halo*), and which multiple window positions must keep (the network's down-sampling
factor). A 2.5D network's z axis is a *context* axis: its window is ``context`` slices and it
predicts only the central one.

- ``crop``: the block is cut into *pieces* of at most ``stride = window - 2 halo`` voxels per
  axis, each predicted by the window that extends it by the halo on both sides. Every voxel is
  thus taken from the window where it is most central, at least ``halo`` voxels from its edges.
  Along each axis a block gets the fewest pieces of at most ``stride`` voxels, all of one length
  (a multiple of the divisor), so a block shorter than the others (at the end of the volume)
  gets shorter windows instead of a window mostly outside it: ``window`` is the largest window.
  Pieces start at multiples of the divisor, so window positions keep the network's pooling grid
  and, with the halo at least half the receptive field, the result equals one forward pass over
  the whole (edge-extended) volume.
- ``gaussian``: the same windows, each output weighted by a Gaussian of its position in the
  window (sigma = window / 8, of the window's own length) and normalised by the sum of weights:
  a smooth blend.
- ``stratified`` (Hammoumi et al. 2021, §4.2): ``passes`` passes; in each, window origins along
  each axis are the regular grid of step ``s'`` shifted by ``s'/2`` and by a draw of
  ``U(-s', s')`` per window (eq 13); the whole window's output is averaged over every window
  covering a voxel, over all passes (eq 14, with each voxel divided by its own count, since
  jittered windows overlap unevenly). A voxel no window reached gets the ``crop`` window of its
  piece.

Outside the volume the image is extended by repeating its edge voxels, for every tiling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from typing import Literal

import numpy as np

__all__ = ["Axis", "Tiling", "Window", "plan_block"]

Tiling = Literal["crop", "gaussian", "stratified"]


@dataclass(frozen=True)
class Axis:
    """How one volume axis is tiled.

    Attributes
    ----------
    window : int
        Input window length (a multiple of ``divisor``; for a context axis, the number of
        slices the network sees). ``crop`` and ``gaussian`` may use shorter windows in a block
        that this one would overshoot (see the module notes); ``stratified`` uses this one.
    halo : int
        Voxels at each window edge that ``crop`` does not keep (for a context axis,
        ``window // 2``).
    divisor : int
        Window origins of ``crop`` and ``gaussian`` stay on this grid (the network's total
        down-sampling; 1 for context axes).
    context : bool
        The network sees ``window`` slices along this axis and predicts the central one.
    """

    window: int
    halo: int
    divisor: int = 1
    context: bool = False

    def __post_init__(self) -> None:
        if self.window < 1 or self.divisor < 1 or self.halo < 0:
            raise ValueError(f"invalid axis {self}: window and divisor >= 1, halo >= 0")
        if self.context:
            if self.window % 2 != 1 or self.halo != self.window // 2:
                raise ValueError(
                    f"a context axis needs an odd window and halo = window // 2, got {self}"
                )
            return
        if self.window % self.divisor:
            raise ValueError(
                f"window {self.window} must be a multiple of the network's divisor {self.divisor}"
            )
        if self.stride < 1:
            raise ValueError(
                f"halo {self.halo} leaves nothing of window {self.window} (window - 2 halo < 1)"
            )
        if self.stride % self.divisor:
            raise ValueError(
                f"window - 2 halo = {self.stride} must be a multiple of the divisor "
                f"{self.divisor} (window {self.window}, halo {self.halo}), so that window "
                "positions keep the network's pooling grid"
            )

    @property
    def stride(self) -> int:
        """Voxels kept per ``crop`` window: ``window - 2 halo`` (1 for a context axis)."""
        return 1 if self.context else self.window - 2 * self.halo

    @property
    def out_offset(self) -> int:
        """Where the network's output starts inside the window (the central slice of a
        context axis)."""
        return self.halo if self.context else 0

    @property
    def out_length(self) -> int:
        """Length of the network's output along this axis."""
        return 1 if self.context else self.window


@dataclass(frozen=True)
class Window:
    """One network input window, in volume coordinates.

    Attributes
    ----------
    origin : tuple of int
        First voxel of the input window (may lie outside the volume: edge-extended).
    keep : tuple of slice or None
        ``crop``: the part of the output to keep, in volume coordinates; None for the blending
        tilings (the whole output counts, weighted).
    size : tuple of int or None
        Input window length per axis; None: each axis's ``window``.
    """

    origin: tuple[int, ...]
    keep: tuple[slice, ...] | None = None
    size: tuple[int, ...] | None = None

    def shape(self, axes: Sequence[Axis]) -> tuple[int, ...]:
        """The input window's length per axis."""
        return self.size if self.size is not None else tuple(a.window for a in axes)

    def out_shape(self, axes: Sequence[Axis]) -> tuple[int, ...]:
        """The network output's length per axis (1 along a context axis)."""
        return tuple(1 if a.context else n for a, n in zip(axes, self.shape(axes), strict=True))


def _pieces(lo: int, hi: int, step: int) -> list[tuple[int, int]]:
    return [(p, min(p + step, hi)) for p in range(lo, hi, step)]


def _crop_axis(axis: Axis, lo: int, hi: int) -> tuple[int, list[tuple[int, slice]]]:
    """The window length and (origin, kept slice) of the crop windows covering [lo, hi) along
    one axis: the fewest pieces of at most ``axis.stride``, of one length on the divisor's grid.

    Examples
    --------
    >>> _crop_axis(Axis(window=48, halo=8, divisor=8), 0, 40)  # not 32 + 8 in windows of 48
    (40, [(-8, slice(0, 24, None)), (16, slice(24, 40, None))])
    """
    if axis.context:
        return axis.window, [(p - axis.halo, slice(p, p + 1)) for p in range(lo, hi)]
    if lo % axis.divisor:
        raise ValueError(
            f"block start {lo} must be a multiple of the network's divisor {axis.divisor} "
            "(choose blocks, chunks and windows that are multiples of it)"
        )
    count = math.ceil((hi - lo) / axis.stride)
    step = math.ceil((hi - lo) / count / axis.divisor) * axis.divisor  # <= axis.stride
    return step + 2 * axis.halo, [(p - axis.halo, slice(p, q)) for p, q in _pieces(lo, hi, step)]


def _stratified_axis(
    axis: Axis, lo: int, hi: int, step: int, rng: np.random.Generator
) -> list[int]:
    """Origins of one pass along one axis (eq 13): ``(k + 1/2) s' + U(-s', s')`` from the
    start of the block's input region, for every k whose window can reach [lo, hi)."""
    if axis.context:
        return [p - axis.halo for p in range(lo, hi)]
    base = lo - axis.window  # far enough back that the first windows can still cover lo
    count = math.ceil((hi - base) / step) + 2
    centres = base + (np.arange(count) + 0.5) * step
    jitter = rng.uniform(-step, step, size=count)
    origins = np.floor(centres + jitter).astype(int)
    reach = (origins + axis.window > lo) & (origins < hi)
    return sorted(set(origins[reach].tolist()))


def plan_block(
    block: Sequence[slice],
    axes: Sequence[Axis],
    tiling: Tiling = "crop",
    *,
    passes: int = 4,
    step: Sequence[int] | None = None,
    seed: int = 0,
) -> list[Window]:
    """The windows that predict one block.

    Parameters
    ----------
    block : sequence of slice
        The block's output region (start and stop per axis, in volume coordinates).
    axes : sequence of Axis
        One per volume axis.
    tiling : {"crop", "gaussian", "stratified"}
    passes : int
        Stratified passes (eq 14's N).
    step : sequence of int, optional
        Stratified grid step ``s'`` per axis (default: half the window, at least 1).
    seed : int
        Seeds the stratified draws; combine the run seed and the block index so a block's
        windows never depend on the order or number of workers.

    Returns
    -------
    list of Window
        For ``crop`` each with the region it keeps; the kept regions tile the block exactly.

    Examples
    --------
    >>> axes = [Axis(window=16, halo=4, divisor=8)]
    >>> [(w.origin, w.keep) for w in plan_block([slice(0, 16)], axes)]
    [((-4,), (slice(0, 8, None),)), ((4,), (slice(8, 16, None),))]
    """
    if len(block) != len(axes):
        raise ValueError(f"block has {len(block)} axes but {len(axes)} axis specs were given")
    bounds = [(int(s.start), int(s.stop)) for s in block]
    if any(lo >= hi for lo, hi in bounds):
        raise ValueError(f"empty block {tuple(block)}")
    if tiling in ("crop", "gaussian"):
        fitted = [_crop_axis(a, lo, hi) for a, (lo, hi) in zip(axes, bounds, strict=True)]
        size = tuple(n for n, _ in fitted)
        return [
            Window(
                tuple(o for o, _ in combo),
                tuple(k for _, k in combo) if tiling == "crop" else None,
                size,
            )
            for combo in product(*(pieces for _, pieces in fitted))
        ]
    if tiling != "stratified":
        raise ValueError(f"tiling must be 'crop', 'gaussian' or 'stratified', got {tiling!r}")
    if passes < 1:
        raise ValueError(f"passes must be >= 1, got {passes}")
    steps = list(step) if step is not None else [max(1, a.window // 2) for a in axes]
    if len(steps) != len(axes) or any(int(s) < 1 for s in steps):
        raise ValueError(f"step must be one positive integer per axis, got {step!r}")
    rng = np.random.default_rng(seed)
    windows: list[Window] = []
    for _ in range(passes):
        per_pass = [
            _stratified_axis(a, lo, hi, int(s), rng)
            for a, (lo, hi), s in zip(axes, bounds, steps, strict=True)
        ]
        size = tuple(a.window for a in axes)
        windows.extend(Window(origin, None, size) for origin in product(*per_pass))
    return windows


def gaussian_weights(
    axes: Sequence[Axis], sigma_scale: float = 0.125, *, size: Sequence[int] | None = None
) -> np.ndarray:
    """Separable Gaussian importance of each output voxel of a window (context axes: 1).

    ``size`` is the input window per axis (default: each axis's ``window``). Normalised to a
    maximum of 1 and floored at 1e-3 so that edges still count a little.
    """
    lengths = [a.window for a in axes] if size is None else [int(n) for n in size]
    if len(lengths) != len(axes):
        raise ValueError(f"size must have one length per axis, got {size!r}")
    profiles = []
    for a, length in zip(axes, lengths, strict=True):
        n = 1 if a.context else length
        if n == 1:
            profiles.append(np.ones(1))
            continue
        x = np.arange(n) - (n - 1) / 2
        profiles.append(np.exp(-0.5 * (x / (sigma_scale * n)) ** 2))
    weight = profiles[0]
    for p in profiles[1:]:
        weight = np.multiply.outer(weight, p)
    weight = weight / weight.max()
    return np.maximum(weight, 1e-3).astype(np.float32)
