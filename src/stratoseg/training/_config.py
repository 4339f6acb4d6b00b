"""The training configuration: one pydantic model, saved with every trained package."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stratoseg.models import UNetConfig
from stratoseg.training._augment import AugmentConfig
from stratoseg.training._losses import LOSSES
from stratoseg.training._targets import TARGETS
from stratoseg.training._weights import WEIGHTS

__all__ = ["TrainConfig"]


class TrainConfig(BaseModel):
    """Everything that decides a training run (besides the data and the starting model).

    Attributes
    ----------
    name : str
        The new package's name (what ``stratoseg models list`` shows).
    target : str
        A key of :data:`~stratoseg.training.TARGETS`: ``semantic``, ``touching`` (eq 4.1),
        ``touching-gap`` (§5.2.1), ``touching-mask`` (Algorithm 1) or ``boundary``.
    target_params, loss_params, weight_params : dict
        Keyword arguments of the target, the loss and the weight map.
    loss : str
        A key of :data:`~stratoseg.training.LOSSES` (``ce``, ``focal``, ``jaccard``,
        ``jaccard2``, ``dice``, ``ce-youden``, ``ce-jaccard``); default ``ce-jaccard``, the
        cross-entropy plus Decencière's Jaccard loss, which he recommends as the baseline and
        which the scores (mean Jaccard) measure.
    weights : str
        A key of :data:`~stratoseg.training.WEIGHTS` (``none``, ``balance``, ``unet``, ``dwm``,
        ``saw``, ``w3``).
    architecture : UNetConfig, optional
        The network of a model trained from scratch (default: 2-D, depth 4, 16 filters);
        ignored when fine-tuning.
    patch, batch_size : int, optional
        Patch side per spatial axis and patches per step; default 128 and 8 for 2-D networks,
        48 and 2 for 3-D ones.
    steps, minutes : optional
        Stop after this many steps or this much time, whichever comes first (at least one).
    lr, weight_decay : float
        AdamW's learning rate and weight decay.
    warmup : float
        Share of the run over which the learning rate rises linearly (then cosine decay to
        ``lr / 100``, following the run's progress in steps or in time).
    val_fraction, val_every, patience : optional
        Share of reviewed voxels held out, steps between validations, and validations without
        improvement before stopping (default None: use the whole budget; the best weights are
        kept either way, and a small validation set is a noisy judge of "no improvement").
    rare_share : float
        Share of patches centred on rare-class voxels.
    freeze_encoder : bool
        Keep the encoder (contracting path and bottleneck) as it is when fine-tuning.
    augment : AugmentConfig
    seed : int
    device : {"auto", "cpu", "cuda", "mps"}
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    name: str = Field(
        default="finetuned", min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$"
    )
    target: str = "semantic"
    target_params: dict[str, Any] = Field(default_factory=dict)
    loss: str = "ce-jaccard"
    loss_params: dict[str, Any] = Field(default_factory=dict)
    weights: str = "none"
    weight_params: dict[str, Any] = Field(default_factory=dict)
    architecture: UNetConfig | None = None
    patch: int | None = Field(default=None, ge=8, le=1024)
    batch_size: int | None = Field(default=None, ge=1, le=256)
    steps: int | None = Field(default=500, ge=1)
    minutes: float | None = Field(default=None, gt=0)
    lr: float = Field(default=1e-3, gt=0, le=1)
    weight_decay: float = Field(default=1e-4, ge=0, le=1)
    warmup: float = Field(default=0.05, ge=0, lt=1)
    val_fraction: float = Field(default=0.2, ge=0, le=0.9)
    val_every: int = Field(default=50, ge=1)
    patience: int | None = Field(default=None, ge=1)
    rare_share: float = Field(default=0.5, ge=0, le=1)
    freeze_encoder: bool = False
    augment: AugmentConfig = Field(default_factory=lambda: AugmentConfig())
    seed: int = Field(default=0, ge=0)
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"

    @field_validator("target")
    @classmethod
    def _known_target(cls, v: str) -> str:
        if v not in TARGETS:
            raise ValueError(f"target must be one of {sorted(TARGETS)}, got {v!r}")
        return v

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, v: str) -> str:
        if v not in LOSSES:
            raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {v!r}")
        return v

    @field_validator("weights")
    @classmethod
    def _known_weights(cls, v: str) -> str:
        if v not in WEIGHTS:
            raise ValueError(f"weights must be one of {sorted(WEIGHTS)}, got {v!r}")
        return v

    @model_validator(mode="after")
    def _a_stop(self) -> TrainConfig:
        if self.steps is None and self.minutes is None:
            raise ValueError("give steps or minutes (or both): when to stop")
        return self

    def patch_for(self, spatial_dims: int) -> int:
        """The patch side for a network of ``spatial_dims``."""
        return self.patch or (128 if spatial_dims == 2 else 48)

    def batch_for(self, spatial_dims: int) -> int:
        """Patches per step for a network of ``spatial_dims``."""
        return self.batch_size or (8 if spatial_dims == 2 else 2)
