"""Resumable training state, without pickles: safetensors for tensors, JSON for the rest.

A checkpoint is a folder beside the output package, ``<out>.checkpoint/``:

- ``current/``: a model package of the weights at the last validation (loadable on its own);
- ``best.safetensors``: the best weights so far (by the validation score);
- ``optimizer.safetensors``: AdamW's per-parameter state (``<i>.step``, ``<i>.exp_avg``,
  ``<i>.exp_avg_sq``) and torch's CPU random state;
- ``state.json``: step, seconds spent, best score and step, validations without improvement,
  the history of losses and scores, the last losses (for the running mean), numpy's
  generator state, and the configuration (a
  resumed run must have the same).

It is written under a temporary name and renamed into place (:func:`stratoseg.io.
atomic_output`), so a run killed while saving keeps the previous checkpoint.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from stratoseg.io import atomic_output
from stratoseg.models import ModelCard, load_package, save_package

__all__ = ["TrainState", "checkpoint_path", "load_checkpoint", "save_checkpoint"]


@dataclass
class TrainState:
    """What a run carries from step to step (besides the model and the optimizer)."""

    step: int = 0
    seconds: float = 0.0
    best_score: float = float("-inf")
    best_step: int = 0
    stale: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    recent: list[float] = field(default_factory=list)
    rng: dict[str, Any] = field(default_factory=dict)
    best: dict[str, torch.Tensor] | None = None


def checkpoint_path(out: str | os.PathLike[str]) -> Path:
    """The checkpoint folder of the package ``out``."""
    out = Path(out)
    return out.with_name(out.name + ".checkpoint")


def save_checkpoint(
    path: Path,
    model: Any,
    card: ModelCard,
    optimizer: torch.optim.Optimizer,
    state: TrainState,
    config: dict[str, Any],
) -> None:
    """Write the checkpoint folder ``path`` (replacing the previous one at the end)."""
    tensors: dict[str, torch.Tensor] = {"torch_rng": torch.get_rng_state()}
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for i, p in enumerate(params):
        for key, value in optimizer.state.get(p, {}).items():
            if isinstance(value, torch.Tensor):
                tensors[f"{i}.{key}"] = value.detach().cpu().contiguous()
    with atomic_output(path) as tmp:
        tmp.mkdir()
        save_package(model, card, tmp / "current")
        save_file(tensors, str(tmp / "optimizer.safetensors"))
        if state.best is not None:
            best = {k: v.contiguous() for k, v in state.best.items()}
            save_file(best, str(tmp / "best.safetensors"))
        meta = {
            "step": state.step,
            "seconds": state.seconds,
            "best_score": state.best_score if state.best_score != float("-inf") else None,
            "best_step": state.best_step,
            "stale": state.stale,
            "history": state.history,
            "recent": state.recent,
            "rng": state.rng,
            "config": config,
        }
        (tmp / "state.json").write_text(json.dumps(meta, indent=1))


def load_checkpoint(
    path: Path, config: dict[str, Any]
) -> tuple[Any, ModelCard, dict[str, dict[str, torch.Tensor]], TrainState]:
    """The model, card, optimizer state (by parameter index) and :class:`TrainState` of the
    checkpoint ``path``.

    Raises
    ------
    FileNotFoundError
        If there is no checkpoint.
    ValueError
        If it was written with another configuration, or is damaged.
    """
    if not (path / "state.json").is_file():
        raise FileNotFoundError(f"no training checkpoint to resume at {path}")
    try:
        meta = json.loads((path / "state.json").read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"the checkpoint {path} is damaged ({err}); start again") from None
    if meta.get("config") != config:
        saved = meta.get("config", {})
        changed = sorted(k for k in set(config) | set(saved) if config.get(k) != saved.get(k))
        raise ValueError(
            f"the checkpoint {path} was written with other settings ({', '.join(changed)}); "
            "resume with the same ones, or start again without resume"
        )
    model, card = load_package(path / "current")
    tensors = load_file(str(path / "optimizer.safetensors"))
    torch.set_rng_state(tensors.pop("torch_rng"))
    per_param: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        per_param.setdefault(index, {})[name] = value
    best = (
        load_file(str(path / "best.safetensors")) if (path / "best.safetensors").is_file() else None
    )
    state = TrainState(
        step=int(meta["step"]),
        seconds=float(meta["seconds"]),
        best_score=float("-inf") if meta["best_score"] is None else float(meta["best_score"]),
        best_step=int(meta["best_step"]),
        stale=int(meta["stale"]),
        history=list(meta["history"]),
        recent=[float(v) for v in meta.get("recent", [])],
        rng=dict(meta["rng"]),
        best=best,
    )
    return model, card, per_param, state
