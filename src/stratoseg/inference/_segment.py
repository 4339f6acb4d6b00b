"""Segment a workspace image block by block: ``predictions/<run>`` and MAP labels.

One pass over the blocks (whole chunks of the workspace grid, grouped under a memory budget):
each block's input region is read (and normalised, and its derived channels computed) by a
prefetch thread while the network runs on the previous block; the outputs are written by a
writer thread. A block is marked done only after its chunks are written, so ``resume``
continues a killed run and ends bitwise identical to an uninterrupted one.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import product
from typing import Any, Literal

import numpy as np

from stratoseg._progress import Cancelled, ProgressFn, StopFn
from stratoseg.inference._block import input_region, predict_block_into
from stratoseg.inference._tiling import Axis, Tiling
from stratoseg.workspace import PredictionRun, Workspace, open_prediction_run
from stratoseg.workspace._runs import EncodedBlock

__all__ = [
    "SegmentPlan",
    "block_bytes_per_voxel",
    "block_seed",
    "plan_segment",
    "segment_workspace",
]

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
    from stratoseg.inference._predictor import choose_window, fit_blocks, tiling_axes

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


def segment_workspace(
    ws: Workspace,
    model: str | os.PathLike[str],
    *,
    run: str | None = None,
    labels: str | None = "segmentation",
    tiling: Tiling = "crop",
    passes: int = 4,
    seed: int = 0,
    device: str = "auto",
    window: int | Sequence[int] | None = None,
    halo: int | Sequence[int] | None = None,
    block: int | Sequence[int] | None = None,
    batch_size: int = 4,
    dtype: Literal["uint8", "float16"] = "uint8",
    resume: bool = False,
    overwrite: bool = False,
    workers: int = 1,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> PredictionRun:
    """Segment the workspace's image with a model package; see the module docstring.

    Returns the finished :class:`~stratoseg.workspace.PredictionRun` (``predictions/<run>``,
    default run name: the model's name, and ``labels/<labels>`` by MAP unless None).
    """
    from stratoseg.inference._prepare import check_options, prepare

    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    check_options(tiling, passes, batch_size)
    image = ws.image()
    if "c" in image.axes:
        raise ValueError(
            f"segmenting needs a single-channel image; {ws.path} has axes {image.axes!r}"
        )
    ready = prepare(
        image.data, model, chunks=ws.chunks, voxel_size=ws.voxel_size, device=device,
        window=window, halo=halo, block=block, tiling=tiling,
    )  # fmt: skip
    card, plan, reader, predictor = ready.card, ready.plan, ready.reader, ready.predictor
    out = open_prediction_run(
        ws, run or card.name, classes=[c.name for c in card.classes], chunks=ws.chunks,
        dtype=dtype, labels=labels, params=ready.params(tiling, passes, seed), resume=resume,
        overwrite=overwrite,
    )  # fmt: skip
    blocks = plan.blocks()
    todo = [(i, b) for i, b in enumerate(blocks) if i not in out.done]
    total = int(np.prod(plan.shape))
    done_voxels = total - sum(int(np.prod([s.stop - s.start for s in b])) for _, b in todo)
    if progress:
        progress(done_voxels, total)

    def compute(index: int, region: tuple[slice, ...], data: Any) -> EncodedBlock:
        """One block, encoded for storage as it is predicted (never whole in float32);
        ``data``: its input region, read ahead (else read here)."""
        encoded = out.encoder(region)
        predict_block_into(
            region, plan.axes, reader if data is None else (lambda _: data), predictor,
            encoded.put, tiling=tiling, passes=passes, seed=block_seed(seed, index),
            batch_size=batch_size,
        )  # fmt: skip
        return encoded

    def stop() -> None:
        if should_stop is not None and should_stop():
            raise Cancelled("segmentation cancelled")

    with ThreadPoolExecutor(1) as reads, ThreadPoolExecutor(1) as writes:
        pending: list[Future[None]] = []
        prefetched: dict[int, Future[Any]] = {}

        def prefetch(k: int) -> None:
            if k < len(todo) and k not in prefetched:
                i, region = todo[k]
                r = input_region(
                    region, plan.axes, tiling=tiling, passes=passes, seed=block_seed(seed, i)
                )
                prefetched[k] = reads.submit(reader, r)

        if workers == 1:
            for k, (i, region) in enumerate(todo):
                stop()
                prefetch(k)
                prefetch(k + 1)
                probs = compute(i, region, prefetched.pop(k).result())
                pending.append(writes.submit(out.write, i, region, probs))
                while len(pending) > 1:  # one block being written while the next is computed
                    pending.pop(0).result()
                done_voxels += int(np.prod(probs.shape[1:]))
                if progress:
                    progress(done_voxels, total)
        else:
            pool = ThreadPoolExecutor(workers)
            try:
                futures = {pool.submit(compute, i, region, None): (i, region) for i, region in todo}
                for future, (i, region) in futures.items():
                    stop()
                    probs = future.result()
                    out.write(i, region, probs)
                    done_voxels += int(np.prod(probs.shape[1:]))
                    if progress:
                        progress(done_voxels, total)
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        for f in pending:
            f.result()
    out.finish()
    ws.journal.append("prediction-finished", name=run or card.name, labels=labels)
    return out
