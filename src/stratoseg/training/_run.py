"""Training entry points: a network and its card to start from, the data, the loop, the
package with its provenance, registered in the user's model folder."""

from __future__ import annotations

import datetime
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import dask.array as da
import torch

from stratoseg.inference import InputReader
from stratoseg.io import check_output_path
from stratoseg.models import (
    ModelCard,
    UNetConfig,
    build_model,
    domain_of,
    load_package,
    resolve_model,
    save_package,
    user_model_dir,
)
from stratoseg.training._checkpoint import checkpoint_path
from stratoseg.training._config import TrainConfig
from stratoseg.training._data import TrainingData
from stratoseg.training._loop import TrainProgress, fit
from stratoseg.training._targets import TARGETS

__all__ = ["TrainResult", "train", "train_workspace"]


@dataclass
class TrainResult:
    """A finished run.

    Attributes
    ----------
    path : Path
        The new model package.
    registered : Path or None
        Its copy in the user's model folder (what its name resolves to), if registered.
    card : ModelCard
        Its card (provenance and validation metrics included).
    steps, seconds : int, float
        Steps taken and time spent (resumed runs included).
    stopped : str
        ``"steps"``, ``"time"``, ``"early"`` (no improvement) or ``"stopped"`` (asked to).
    history : list of dict
        One entry per validation.
    """

    path: Path
    registered: Path | None
    card: ModelCard
    steps: int
    seconds: float
    stopped: str
    history: list[dict[str, Any]]


def _semantic_classes(labels: Any, reviewed: Any) -> int:
    """One more than the largest label on a reviewed voxel (one pass over the labels)."""
    lab = labels if isinstance(labels, da.Array) else da.from_array(labels, chunks="auto")
    rev = reviewed if isinstance(reviewed, da.Array) else da.from_array(reviewed, chunks="auto")
    rev = rev.rechunk(lab.chunks) > 0
    top, any_reviewed = da.compute(da.where(rev, lab, 0).max(), rev.any())
    if not any_reviewed:
        raise ValueError(
            "the labels have no reviewed voxels: mark the slices or boxes you checked as "
            "reviewed first"
        )
    return int(top) + 1


def _start(
    config: TrainConfig,
    base_model: str | os.PathLike[str] | None,
    num_classes: int | None,
    class_names: Sequence[str] | None,
    volume_ndim: int,
) -> tuple[Any, ModelCard, dict[str, Any] | None]:
    """The network to train, its card (to be updated) and what the parent was."""
    kind = TARGETS[config.target]
    if base_model is not None:
        path = resolve_model(base_model)
        model, base = load_package(path)
        cfg = model.config
        fixed = kind.classes
        want = len(fixed) if fixed is not None else num_classes
        if want is not None and want != cfg.out_channels:
            raise ValueError(
                f"base model {base.name!r} predicts {cfg.out_channels} classes "
                f"({', '.join(c.name for c in base.classes)}) but the {config.target!r} target "
                f"has {want}"
            )
        images = sum(c.source == "image" for c in base.input.channels)
        if images != 1:
            raise ValueError(
                f"base model {base.name!r} takes {images} image channels; StratoSeg trains on "
                "single-channel images"
            )
        parent = {"name": base.name, "path": str(path), "metrics": dict(base.metrics)}
        return model, base, parent
    names = list(kind.classes or class_names or [])
    k = len(names) if names else num_classes
    if k is None or k < 2:
        raise ValueError(f"a network needs at least 2 classes, got {k}")
    names = names or [f"class {i}" for i in range(k)]
    arch = config.architecture or UNetConfig(
        spatial_dims=2, in_channels=1, out_channels=k, depth=4, base_filters=16
    )
    if arch.in_channels != 1 or arch.out_channels != k:
        raise ValueError(
            f"architecture has {arch.in_channels} input and {arch.out_channels} output channels; "
            f"training needs 1 (the image) and {k} (the classes)"
        )
    if arch.spatial_dims == 3 and volume_ndim == 2:
        raise ValueError("a 3-D network cannot be trained on a 2-D image")
    card = ModelCard.model_validate(
        {
            "name": config.name,
            "architecture": {"kind": "unet", "config": arch},
            "input": {"channels": [{"source": "image"}], "normalisation": {"kind": "percentile"}},
            "classes": [{"name": n} for n in names],
            "receptive_field": arch.receptive_field,
        }
    )
    with torch.random.fork_rng(devices=[]):  # the initial weights follow the seed
        torch.manual_seed(config.seed)
        model = build_model(arch)
    return model, card, None


def _recommendation(card: ModelCard, target: str, parent: Any) -> dict[str, Any]:
    """The new card's recommendation: the target's defaults (crop tiling, its post-processing),
    with the parent's settings kept when it was trained for the same target (its tuned
    post-processing, tiling, stack and precision still describe the fine-tuned network)."""
    rec = {**card.recommended, "tiling": "crop", "postprocess": TARGETS[target].postprocess}
    if parent is not None and card.target == target:
        rec.update(card.recommended)
    return rec


def train(
    image: Any,
    labels: Any,
    reviewed: Any,
    *,
    out: str | os.PathLike[str],
    config: TrainConfig | None = None,
    base_model: str | os.PathLike[str] | None = None,
    voxel_size: Sequence[float] | None = None,
    class_names: Sequence[str] | None = None,
    image_array: Any = None,
    data: dict[str, Any] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    register: bool = True,
    progress: Callable[[TrainProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train (or fine-tune ``base_model``) on the reviewed voxels of ``labels``.

    Parameters
    ----------
    image, labels, reviewed : (Z, Y, X) or (Y, X) arrays
        numpy, dask or zarr; only the reviewed regions are read.
    out : path
        The package to write (a folder, or a ``.zip``).
    config : TrainConfig, optional
        Defaults: semantic target, cross-entropy, 500 steps.
    base_model : str or path, optional
        A package name or path to fine-tune; else a network is trained from scratch
        (``config.architecture``).
    voxel_size : sequence of float, optional
        For enhancement channels and the card; default 1.
    class_names : sequence of str, optional
        Names of the semantic classes of a new network (else ``class 0``, ...).
    image_array : optional
        The stored array behind a dask ``image`` (read directly, see ``Volume.array``).
    data : dict, optional
        What the data is, for the provenance (e.g. the workspace and label image).
    resume : bool
        Continue from ``out``'s checkpoint (same settings).
    overwrite : bool
        Replace an existing ``out`` and an existing user package of the same name.
    register : bool
        Copy the package into the user's model folder under ``config.name``.
    progress, should_stop : callable, optional
        Called after each step with a :class:`TrainProgress`; polled before each step.
    """
    config = config or TrainConfig()
    out = Path(out)
    kind: Literal["file", "folder"] = "file" if out.suffix.lower() == ".zip" else "folder"
    check_output_path(out, overwrite=overwrite or resume, name="model package", kind=kind)
    registered = user_model_dir() / (config.name + (".zip" if kind == "file" else ""))
    if register and registered.exists() and not overwrite and registered.resolve() != out.resolve():
        raise FileExistsError(
            f"a user model named {config.name!r} exists ({registered}); choose another name "
            "or pass overwrite"
        )
    shape = tuple(int(n) for n in labels.shape)
    if len(tuple(image.shape)) != len(shape):
        raise ValueError(
            f"the image has shape {tuple(image.shape)} and the labels {shape}: training needs a "
            "single-channel image of the labels' shape"
        )
    if len(shape) not in (2, 3):
        raise ValueError(f"labels must be 2-D or 3-D, got shape {shape}")
    voxel = tuple(float(v) for v in (voxel_size or (1.0,) * len(shape)))
    k = None
    if TARGETS[config.target].classes is None:
        k = len(class_names) if class_names else _semantic_classes(labels, reviewed)
    model, card, parent = _start(config, base_model, k, class_names, len(shape))
    cfg = model.config
    k = int(cfg.out_channels)
    patch = config.patch_for(int(cfg.spatial_dims))
    window: tuple[int, ...]
    if cfg.spatial_dims == 3:
        window, context_axis = (patch,) * 3, False
    elif len(shape) == 3:
        window, context_axis = (int(cfg.context), patch, patch), True
    else:
        window, context_axis = (patch, patch), False
    reader = InputReader(
        image, card.input.channels, card.input.normalisation, voxel, array=image_array
    )
    training = TrainingData(
        reader, labels, reviewed, target=config.target, num_classes=k, window=window,
        context_axis=context_axis, target_params=config.target_params, weights=config.weights,
        weight_params=config.weight_params, val_fraction=config.val_fraction,
        rare_share=config.rare_share, seed=config.seed,
    )  # fmt: skip
    ckpt = checkpoint_path(out)
    model, state, stopped = fit(
        model, card, training, config, checkpoint=ckpt, resume=resume,
        isotropic=len(set(voxel)) == 1, progress=progress, should_stop=should_stop,
    )  # fmt: skip
    best = next((h for h in state.history if h["step"] == state.best_step), None)
    metrics = {
        key: float(value)
        for key, value in (best or {}).items()
        if key not in ("step", "seconds", "loss") and isinstance(value, (int, float))
    }
    provenance = {
        "parent": parent,
        "data": {**(data or {}), **training.summary()},
        "target": config.target,
        "loss": {"name": config.loss, **config.loss_params},
        "weights": {"name": config.weights, **config.weight_params},
        "steps": state.step,
        "seconds": round(state.seconds, 1),
        "stopped": stopped,
        "best_step": state.best_step if best else state.step,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "config": config.model_dump(mode="json"),
    }
    new_card = card.model_copy(
        update={
            "name": config.name,
            "description": card.description if parent is None else
            f"{card.description} Fine-tuned from {parent['name']}.".strip(),
            "target": config.target,
            "recommended": _recommendation(card, config.target, parent),
            "voxel_size": list(voxel),
            "provenance": provenance,
            "metrics": {f"val_{key}": value for key, value in metrics.items()},
            # the data it now knows: the fine-tuning data (inputs far from it get a notice)
            "domain": domain_of(image, card.input.normalisation,
                                per_slice=training.slice_wise and len(shape) == 3),
        }
    )  # fmt: skip
    new_card = ModelCard.model_validate(new_card.model_dump())
    save_package(model, new_card, out, overwrite=True)  # type: ignore[arg-type]
    done = None
    if register and registered.resolve() != out.resolve():
        registered.parent.mkdir(parents=True, exist_ok=True)
        if registered.is_dir():
            shutil.rmtree(registered)
        if out.is_dir():
            shutil.copytree(out, registered)
        else:
            shutil.copy2(out, registered)
        done = registered
    shutil.rmtree(ckpt, ignore_errors=True)
    return TrainResult(out, done, new_card, state.step, state.seconds, stopped, state.history)


def train_workspace(
    ws: Any,
    labels: str,
    *,
    out: str | os.PathLike[str],
    image: str | None = None,
    **kwargs: Any,
) -> TrainResult:
    """:func:`train` on a workspace's label image ``labels`` and its reviewed mask.

    ``image``: an array of the workspace to train on (default the raw image, ``"0"``);
    the other keywords are :func:`train`'s. The run is recorded in the journal.
    """
    if image is None:
        vol = ws.image()
        data, array = vol.data, vol.array
    else:
        array = ws.array(image)
        data = da.from_zarr(array, inline_array=True)
    lab, rev = ws.labels(labels), ws.reviewed(labels)
    kwargs.setdefault("voxel_size", ws.voxel_size)
    kwargs.setdefault("data", {"workspace": str(ws.path), "labels": labels, "image": image or "0"})
    result = train(data, lab, rev, out=out, image_array=array, **kwargs)
    if getattr(ws, "writable", False):
        ws.journal.append("training-finished", model=result.card.name, path=str(result.path),
                          labels=labels, steps=result.steps)  # fmt: skip
    return result
