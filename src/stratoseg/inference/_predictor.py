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

__all__ = ["Device", "Predictor", "choose_window", "pick_device", "tiling_axes"]

Device = Literal["auto", "cpu", "cuda", "mps"]

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
        The network (eval mode is set here); ``model.config`` describes it.
    device : {"auto", "cpu", "cuda", "mps"}
    precision : {"auto", "float32", "bfloat16", "float16"}
        ``auto``: bfloat16 on CUDA when supported, float16 on MPS, float32 on CPU.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        *,
        device: Device | str = "auto",
        precision: str = "auto",
    ) -> None:
        self.device = pick_device(device)
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
        self.model = model.to(self.device).eval()

    def __call__(self, tiles: np.ndarray) -> np.ndarray:
        net = int(self.config.spatial_dims)
        x = torch.from_numpy(np.ascontiguousarray(tiles, dtype=np.float32))
        folded = x.ndim - 2 > net  # a 2-D model on z windows: fold z into channels
        if folded:
            b, c, z = x.shape[:3]
            x = x.reshape(b, c * z, *x.shape[3:])
        x = x.to(self.device, non_blocking=True)
        dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(self.precision)
        with torch.inference_mode():
            if dtype is not None:
                with torch.autocast(self.device.type, dtype=dtype):
                    logits = self.model(x)
            else:
                logits = self.model(x)
            probs = torch.softmax(logits.float(), dim=1)
        out = probs.cpu().numpy()
        return out[:, :, None] if folded else out
