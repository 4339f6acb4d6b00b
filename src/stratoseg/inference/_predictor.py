"""The network behind a ``predict`` callable: device, precision, threads, 2.5D stacking.

Importing this module imports torch; the rest of :mod:`stratoseg.inference` does not.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections import OrderedDict
from typing import Any, Literal

import numpy as np
import torch

from stratoseg._threads import num_threads

__all__ = [
    "CPU_MAX_VOXELS",
    "TRACED_SHAPES",
    "Device",
    "Predictor",
    "pick_device",
]

Device = Literal["auto", "cpu", "cuda", "mps"]

#: Input shapes a :class:`Predictor` remembers having checked its traced network on.
TRACED_SHAPES = 4

#: Input voxels per forward call on the CPU (a larger batch runs in parts); see Predictor.
CPU_MAX_VOXELS = 2**18

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
    jit : bool or "auto"
        Run a TorchScript copy of the network, traced and frozen once (:meth:`compiled`; it
        is used for an input shape once it has given the eager network's numbers on the first
        input of that shape): one call into C++ per forward, with Python's GIL released for
        the whole pass instead of taken back between layers, so reading, writing and a napari
        interface in other threads no longer stall the network, and faster on the CPU for
        small networks (docs/benchmarks.md). ``"auto"``: on the CPU in float32. A network that
        cannot be traced (or a torch without TorchScript) runs eagerly.
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
        jit: bool | Literal["auto"] = "auto",
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
        if jit == "auto":
            jit = self.device.type == "cpu" and precision == "float32"
        if not isinstance(jit, bool):
            raise ValueError(f"jit must be True, False or 'auto', got {jit!r}")
        self.jit = jit
        self._script: Any = None  # the traced network (False: tracing failed)
        self._checked: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self._trace_lock = threading.Lock()

    def _traced(self) -> Any:
        """The network traced and frozen once, on a small input of two pooling cells per
        axis (tracing holds every activation of its forward pass: on a real 3-D window that
        is hundreds of MiB), or None where it cannot be traced."""
        if self._script is None:
            cfg: Any = self.config
            size = [2 * int(cfg.divisor)] * int(cfg.spatial_dims)
            small = torch.zeros((1, int(cfg.network_in_channels), *size), device=self.device)
            try:
                with torch.inference_mode(), warnings.catch_warnings():
                    # TracerWarnings, and torch 2.13's notice that TorchScript is deprecated
                    # (where it is gone, the network runs eagerly)
                    warnings.simplefilter("ignore")
                    small = small.contiguous(memory_format=self.memory_format)
                    self._script = torch.jit.freeze(torch.jit.trace(self.model, small).eval())
            except Exception:  # any tracing failure: the eager network
                self._script = False
        return self._script or None

    def compiled(self, x: torch.Tensor) -> Any:
        """The network this predictor runs on inputs shaped like ``x``: the traced one once it
        has given the eager network's logits (to 1e-4) on the first input of that shape (the
        last :data:`TRACED_SHAPES` shapes are remembered), else the eager network."""
        if not self.jit:
            return self.model
        key = tuple(x.shape)
        with self._trace_lock:
            if key in self._checked:
                self._checked.move_to_end(key)
                return self._checked[key]
            script = self._traced()
        net = self.model
        if script is not None:
            with torch.inference_mode():
                ok = torch.allclose(script(x), self.model(x), rtol=1e-4, atol=1e-4)
            net = script if ok else self.model
        with self._trace_lock:
            self._checked[key] = net
            while len(self._checked) > TRACED_SHAPES:
                self._checked.popitem(last=False)
        return net

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
                logits = self.compiled(x)(x)
            probs = torch.softmax(logits.float(), dim=1).contiguous()
        out = probs.cpu().numpy()
        return out[:, :, None] if folded else out
