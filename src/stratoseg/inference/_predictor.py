"""The network behind a ``predict`` callable: device, precision, threads, 2.5D stacking.

Importing this module imports torch; the rest of :mod:`stratoseg.inference` does not.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch

from stratoseg._threads import num_threads
from stratoseg.inference._tiling import Axis

__all__ = [
    "BLOCK_BYTES",
    "CPU_MAX_VOXELS",
    "Device",
    "Predictor",
    "choose_window",
    "fit_blocks",
    "pick_device",
    "tiling_axes",
]

Device = Literal["auto", "cpu", "cuda", "mps"]

#: Input voxels per forward call on the CPU (a larger batch runs in parts); see Predictor.
CPU_MAX_VOXELS = 2**18

#: Memory budget of one block's input region in inference (see :func:`fit_blocks`).
BLOCK_BYTES = 128 * 2**20

_THREADS_SET = threading.Lock()
_threads_done = False


def _set_threads_once() -> None:
    """torch's CPU thread count, set once per process (not per block)."""
    global _threads_done
    with _THREADS_SET:
        if not _threads_done:
            torch.set_num_threads(num_threads())
            _threads_done = True


def pick_device(device: Device | str = "auto") -> torch.device:
    """``auto``: CUDA, then Apple MPS, then the CPU. An unavailable device is an error.

    Examples
    --------
    >>> pick_device("cpu")
    device(type='cpu')
    """
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'mps', got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but torch sees no CUDA GPU here")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' asked for, but torch sees no Apple GPU here")
    return torch.device(device)


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
        raise ValueError("a 3-D model cannot segment a 2-D image; use a 2-D or 2.5D model")
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


class Predictor:
    """A model as the ``predict`` callable of :func:`~stratoseg.inference.predict_block`.

    ``(B, C, *window)`` float32 numpy windows in, ``(B, K, *out_window)`` float32 softmax
    probabilities out. A 2-D model on a 3-D volume gets its z window folded into channels
    (``C * context``, the 2.5D input) and answers one slice. Mixed precision (bfloat16, or
    float16 where bfloat16 is not supported) on GPU; float32 on CPU, where the thread count is
    set once per process.

    Parameters
    ----------
    model : torch.nn.Module
        The network; ``model.config`` describes it. The predictor runs an
        :func:`~stratoseg.models.inference_copy` of it (eval mode, batch norm folded in).
    device : {"auto", "cpu", "cuda", "mps"}
    precision : {"auto", "float32", "bfloat16", "float16"}
        ``auto``: bfloat16 on CUDA when supported, float16 on MPS, float32 on CPU.
    max_voxels : int, "auto" or None
        A batch whose windows hold more input voxels (counting every channel) than this goes
        through the network in parts of at least one window; the output is the same, and
        :func:`~stratoseg.inference.predict_block` makes its batches no larger. ``"auto"``:
        :data:`CPU_MAX_VOXELS` on the CPU, no limit on a GPU. On the CPU a larger call is no
        faster (both cores are busy with one window already) and needs memory in proportion
        (see ``docs/benchmarks.md``).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        device: Device | str = "auto",
        precision: str = "auto",
        max_voxels: int | Literal["auto"] | None = "auto",
    ) -> None:
        self.device = pick_device(device)
        if max_voxels == "auto":
            max_voxels = CPU_MAX_VOXELS if self.device.type == "cpu" else None
        if max_voxels is not None and (not isinstance(max_voxels, int) or max_voxels < 1):
            raise ValueError(
                f"max_voxels must be a positive int, 'auto' or None, got {max_voxels!r}"
            )
        self.max_voxels = max_voxels
        if self.device.type == "cpu":
            _set_threads_once()
        self.config: Any = model.config
        if precision == "auto":
            if self.device.type == "cuda":
                precision = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
            else:
                precision = "float16" if self.device.type == "mps" else "float32"
        if precision not in ("float32", "bfloat16", "float16"):
            raise ValueError(
                f"precision must be 'auto', 'float32', 'bfloat16' or 'float16', got {precision!r}"
            )
        self.precision = precision
        from stratoseg.models import inference_copy

        # batch norm folded into the convolutions, activations in place: the same outputs
        # (to float rounding) with fewer full-size tensors; the caller's model is not changed
        self.model = inference_copy(model).to(self.device)
        # channels-last tensors (N, *spatial, C in memory) on CPU and CUDA: oneDNN and cuDNN
        # run them without reordering each layer's input, about twice as fast on the CPU here
        # with less memory (docs/benchmarks.md); Apple's MPS keeps the default layout
        cfg: Any = self.config
        spatial = int(cfg.spatial_dims)
        self.memory_format = (
            (torch.channels_last if spatial == 2 else torch.channels_last_3d)
            if self.device.type in ("cpu", "cuda")
            else torch.contiguous_format
        )
        self.model = self.model.to(memory_format=self.memory_format)  # type: ignore[call-overload]

    def __call__(self, tiles: np.ndarray) -> np.ndarray:
        per_window = math.prod(tiles.shape[1:])  # input values of one window
        step = len(tiles)
        if self.max_voxels is not None:
            step = max(1, min(step, self.max_voxels // max(1, per_window)))
        if step >= len(tiles):
            return self._forward(tiles)
        parts = [self._forward(tiles[i : i + step]) for i in range(0, len(tiles), step)]
        return np.concatenate(parts)

    def _forward(self, tiles: np.ndarray) -> np.ndarray:
        net = int(self.config.spatial_dims)
        x = torch.from_numpy(np.ascontiguousarray(tiles, dtype=np.float32))
        folded = x.ndim - 2 > net  # a 2-D model on z windows: fold z into channels
        if folded:
            b, c, z = x.shape[:3]
            x = x.reshape(b, c * z, *x.shape[3:])
        x = x.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
        dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(self.precision)
        with torch.inference_mode():
            if dtype is not None:
                with torch.autocast(self.device.type, dtype=dtype):
                    logits = self.model(x)
            else:
                logits = self.model(x)
            probs = torch.softmax(logits.float(), dim=1).contiguous()
        out = probs.cpu().numpy()
        return out[:, :, None] if folded else out
