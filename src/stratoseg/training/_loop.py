"""The training loop: AdamW with warm-up and cosine decay, validation, early stopping, a time
budget, checkpoints, resume, callbacks.

One step draws a batch of patches (:meth:`~stratoseg.training._data.TrainingData.sample`),
augments it, and takes one AdamW step on the chosen loss. The learning rate follows the run's
progress, the larger of ``step / steps`` and ``seconds / budget``: a linear warm-up over
``warmup`` of it, then a cosine down to ``lr / 100``, so a time budget gets a full schedule
too. Every ``val_every`` steps (and at the end) the network is scored on the validation voxels;
the best weights are kept (the package gets them) and a checkpoint is written; after
``patience`` validations without improvement the run stops. ``should_stop`` ends it at the
next step, still with the best weights. Mixed precision (bfloat16, or float16 with loss
scaling) on a GPU; float32 on the CPU.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from stratoseg.inference._predictor import Predictor, _set_threads_once
from stratoseg.models import ModelCard
from stratoseg.training._augment import augment
from stratoseg.training._checkpoint import TrainState, load_checkpoint, save_checkpoint
from stratoseg.training._config import TrainConfig
from stratoseg.training._data import TrainingData
from stratoseg.training._losses import make_loss
from stratoseg.training._targets import TARGETS
from stratoseg.training._validate import validate

__all__ = ["TrainProgress", "fit", "learning_rate"]


@dataclass
class TrainProgress:
    """What a progress callback receives after each step.

    Attributes
    ----------
    step, steps : int, int or None
        Steps done, and the step limit (None: a time budget only).
    seconds, budget : float, float or None
        Time spent (resumed runs included) and the time budget in seconds.
    fraction : float
        Progress in [0, 1] (what the learning rate follows).
    loss, lr : float
        This step's loss (a running mean over the last 20 steps) and learning rate.
    validation : dict or None
        The scores of a validation made at this step, else None.
    history : list of dict
        One entry per validation: ``step``, ``seconds``, ``loss`` and the scores.
    """

    step: int
    steps: int | None
    seconds: float
    budget: float | None
    fraction: float
    loss: float
    lr: float
    validation: dict[str, float] | None
    history: list[dict[str, Any]] = field(default_factory=list)


def learning_rate(config: TrainConfig, fraction: float) -> float:
    """The learning rate at ``fraction`` of the run: linear warm-up, then cosine decay to
    ``lr / 100``.

    Examples
    --------
    >>> cfg = TrainConfig(lr=1e-3, warmup=0.1)
    >>> [round(learning_rate(cfg, f), 6) for f in (0.05, 0.1, 0.55, 1.0)]
    [0.0005, 0.001, 0.000505, 1e-05]
    """
    f = min(max(fraction, 0.0), 1.0)
    if config.warmup and f < config.warmup:
        return config.lr * f / config.warmup
    low = config.lr / 100
    span = (f - config.warmup) / (1 - config.warmup)
    return low + (config.lr - low) * 0.5 * (1 + math.cos(math.pi * span))


def _fold(x: torch.Tensor, spatial_dims: int) -> torch.Tensor:
    """``(B, C, context, Y, X)`` -> ``(B, C * context, Y, X)``, as the predictor folds it."""
    if x.ndim - 2 > spatial_dims:
        b, c, z = x.shape[:3]
        return x.reshape(b, c * z, *x.shape[3:])
    return x


def _freeze_encoder(model: torch.nn.Module) -> list[torch.nn.Module]:
    """Keep the contracting path and the bottleneck as they are; returns those modules."""
    net: Any = model
    frozen: list[torch.nn.Module] = [*net.encoders, net.bottleneck]
    for module in frozen:
        for p in module.parameters():
            p.requires_grad_(False)
    return frozen


def fit(
    model: torch.nn.Module,
    card: ModelCard,
    data: TrainingData,
    config: TrainConfig,
    *,
    checkpoint: Path,
    resume: bool = False,
    isotropic: bool = False,
    progress: Callable[[TrainProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[torch.nn.Module, TrainState, str]:
    """Train ``model`` on ``data``; returns it with the best weights, the final state and why
    it stopped (``"steps"``, ``"time"``, ``"early"`` or ``"stopped"``).

    ``checkpoint`` is the folder written at every validation (read back with ``resume``);
    ``isotropic`` lets 3-D patches have their axes permuted.
    """
    from stratoseg.inference._predictor import pick_device

    device = pick_device(config.device)
    if device.type == "cpu":
        _set_threads_once()
    cfg: Any = model.config
    spatial = int(cfg.spatial_dims)
    kind = TARGETS[config.target]
    instances = kind.input_kind == "instances" and kind.classes is not None
    touching = 2 if kind.classes is not None and "touching" in kind.classes else None
    image_channels = [i for i, c in enumerate(card.input.channels) if c.source == "image"]
    class_names = [c.name for c in card.classes]
    loss_fn = make_loss(config.loss, **config.loss_params)
    frozen = _freeze_encoder(model) if config.freeze_encoder else []
    model.to(device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    settings = config.model_dump(mode="json")
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    state = TrainState()
    if resume:
        saved, _, per_param, state = load_checkpoint(checkpoint, settings)
        model.load_state_dict(saved.state_dict())
        for i, p in enumerate(trainable):
            if str(i) in per_param:
                optimizer.state[p] = {k: v.to(device) for k, v in per_param[str(i)].items()}
        rng.bit_generator.state = dict(state.rng)
    amp = None
    scaler = None
    if device.type == "cuda":
        amp = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        scaler = torch.amp.GradScaler("cuda") if amp == torch.float16 else None
    budget = None if config.minutes is None else 60.0 * config.minutes
    batch_size = config.batch_for(spatial)
    start = time.perf_counter() - state.seconds
    reason = "steps"

    def fraction() -> float:
        parts = []
        if config.steps is not None:
            parts.append(state.step / config.steps)
        if budget is not None:
            parts.append((time.perf_counter() - start) / budget)
        return max(parts)

    def report(lr: float, scores: dict[str, float] | None) -> TrainProgress:
        return TrainProgress(
            step=state.step,
            steps=config.steps,
            seconds=time.perf_counter() - start,
            budget=budget,
            fraction=min(fraction(), 1.0),
            loss=float(np.mean(state.recent)) if state.recent else float("nan"),
            lr=lr,
            validation=scores,
            history=state.history,
        )

    def run_validation() -> dict[str, float] | None:
        model.eval()
        predictor = Predictor(model, device=device.type, jit=False)
        scores = validate(predictor, data, class_names=class_names, instances=instances,
                          object_class=kind.object_class)  # fmt: skip
        model.train()
        for module in frozen:
            module.eval()
        state.seconds = time.perf_counter() - start
        loss = float(np.mean(state.recent)) if state.recent else None
        entry = {"step": state.step, "seconds": round(state.seconds, 2), "loss": loss, **scores}
        state.history.append(entry)
        score = scores.get(kind.select_by if instances else "mean_jaccard")
        if score is None or score > state.best_score + 1e-4:
            state.best_score = float("-inf") if score is None else score
            state.best_step = state.step
            state.stale = 0
            state.best = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            state.stale += 1
        state.rng = dict(rng.bit_generator.state)
        save_checkpoint(checkpoint, model, card, optimizer, state, settings)
        return scores

    model.train()
    for module in frozen:
        module.eval()
    while True:
        f = fraction()
        if f >= 1:
            reason = "steps" if config.steps is not None and state.step >= config.steps else "time"
            break
        if should_stop is not None and should_stop():
            reason = "stopped"
            break
        lr = learning_rate(config, f)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = augment(
            data.sample(batch_size, rng),
            rng,
            config.augment,
            spatial_dims=spatial,
            image_channels=image_channels,
            isotropic=isotropic,
            touching_class=touching,
        )
        x = _fold(torch.from_numpy(batch.x), spatial).to(device)
        target = torch.from_numpy(batch.target).to(device)
        mask = torch.from_numpy(batch.mask).to(device)
        weight = torch.from_numpy(batch.weight).to(device)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            logits = model(x)
        loss = loss_fn(logits.float(), target, mask, weight)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"the loss became {float(loss)} at step {state.step}: lower lr (now {lr:.2g})"
            )
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        state.step += 1
        state.recent = [*state.recent[-19:], float(loss.detach())]
        scores = None
        if data.val_voxels and state.step % config.val_every == 0:
            scores = run_validation()
        if progress is not None:
            progress(report(lr, scores))
        if config.patience is not None and state.stale >= config.patience:
            reason = "early"
            break
    if data.val_voxels and (not state.history or state.history[-1]["step"] != state.step):
        scores = run_validation()
        if progress is not None:
            progress(report(0.0, scores))
    state.seconds = time.perf_counter() - start
    if state.best is not None:
        model.load_state_dict(state.best)
    model.eval()
    return model.cpu(), state, reason
