"""What a segmentation needs before its first block: model, plan, input reader, predictor.

Shared by the batch run (:func:`~stratoseg.inference.segment_workspace`) and the lazy view
(:func:`~stratoseg.inference.predict_lazy`), so both cut, read and predict the same way and
give the same numbers. The network is loaded once per process and device (see
:func:`cached_predictor`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stratoseg.inference._inputs import InputReader
from stratoseg.inference._plan import SegmentPlan, plan_segment
from stratoseg.inference._tiling import Tiling

__all__ = ["Prepared", "cached_predictor", "check_options", "prepare"]

_CACHE_LOCK = threading.Lock()
_cache: dict[tuple[Any, ...], Any] = {}


def cached_predictor(path: Path, device: str = "auto") -> tuple[Any, Any]:
    """The package's network as a :class:`~stratoseg.inference._predictor.Predictor`, and its
    card; loaded once per process for a given file (path, size, modification time) and device.

    Only the last one is kept, so switching models frees the previous network.
    """
    from stratoseg.inference._predictor import Predictor
    from stratoseg.models import load_package

    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, device)
    with _CACHE_LOCK:
        if key not in _cache:
            net, card = load_package(path)
            predictor = Predictor(net, device=device)
            _cache.clear()
            _cache[key] = (predictor, card)
        return _cache[key]


def check_options(tiling: str, passes: int, batch_size: int) -> None:
    """Errors naming the option and its value for the tiling choices."""
    if tiling not in ("crop", "gaussian", "stratified"):
        raise ValueError(f"tiling must be 'crop', 'gaussian' or 'stratified', got {tiling!r}")
    if passes < 1:
        raise ValueError(f"passes must be >= 1, got {passes}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")


@dataclass
class Prepared:
    """A model ready to run over one image.

    Attributes
    ----------
    path : Path
        The resolved model package.
    card : ModelCard
    predictor : Predictor or None
        ``(B, C, *window) -> (B, K, *out_window)`` probabilities (None when not loaded).
    plan : SegmentPlan
        Blocks and per-axis tiling.
    reader : InputReader
        ``region -> (C, *region)`` normalised network input (with derived channels).
    """

    path: Path
    card: Any
    predictor: Any
    plan: SegmentPlan
    reader: InputReader

    def params(self, tiling: Tiling, passes: int, seed: int) -> dict[str, Any]:
        """Everything that fixes the numbers of a run (a resumed run must match them)."""
        return {
            "model": self.card.name,
            "model_path": str(self.path),
            "tiling": tiling,
            "passes": passes if tiling == "stratified" else 1,
            "seed": seed,
            "window": [a.window for a in self.plan.axes],
            "halo": [a.halo for a in self.plan.axes],
            "block": list(self.plan.block),
            **self.reader.values,
        }


def prepare(
    image: Any,
    model: str | os.PathLike[str],
    *,
    chunks: Sequence[int],
    voxel_size: Sequence[float],
    device: str = "auto",
    window: int | Sequence[int] | None = None,
    halo: int | Sequence[int] | None = None,
    block: int | Sequence[int] | None = None,
    tiling: Tiling = "crop",
    array: Any = None,
    load: bool = True,
) -> Prepared:
    """Resolve and load ``model``, check it fits ``image`` and plan the blocks.

    Parameters
    ----------
    image : (Z, Y, X) or (Y, X) array
        The raw image (numpy, dask or zarr), single channel.
    model : str or path
        A model name (see ``stratoseg models list``) or a package path.
    chunks, voxel_size : sequence
        The image's storage chunks (blocks are whole chunks) and spatial voxel size.
    device, window, halo, block, tiling
        See :func:`~stratoseg.inference.segment_workspace` (the tiling enters the blocks'
        memory budget, so the batch run and the lazy view must pass the same).
    array : array-like, optional
        The stored array behind ``image`` (:attr:`stratoseg.io.Volume.array`): blocks are
        read from it directly.
    load : bool
        Load the network here; False when the blocks run elsewhere (the workers of a
        cluster load it themselves, on their own devices): ``predictor`` is then None, and
        this process needs neither the weights in memory nor the device asked for.
    """
    from stratoseg.models import read_card, resolve_model

    path = Path(resolve_model(model)).resolve()
    predictor, card = cached_predictor(path, device) if load else (None, read_card(path))
    shape = tuple(int(n) for n in image.shape)
    if len(shape) not in (2, 3):
        raise ValueError(
            f"segmenting needs a single-channel 2-D or 3-D image, got shape {shape}; split "
            "channels into separate images first"
        )
    cfg = card.architecture.config
    enhanced = any(c.source != "image" for c in card.input.channels)  # float32 channels
    plan = plan_segment(
        cfg, shape, chunks, window=window, halo=halo, block=block,
        classes=len(card.classes), in_channels=len(card.input.channels), tiling=tiling,
        input_itemsize=4 if enhanced else int(np.dtype(image.dtype).itemsize),
    )  # fmt: skip
    reader = InputReader(
        image, card.input.channels, card.input.normalisation, voxel_size, array=array
    )
    return Prepared(path, card, predictor, plan, reader)
