"""Training and fine-tuning from reviewed labels (see ``docs/training.md``).

- targets (``_targets``): semantic, touching (eq 4.1), touching-gap (§5.2.1), Algorithm 1,
  boundary;
- weight maps (``_weights``): class balance, U-Net (eq 2.7), DWM (eq 3.2), SAW (eqs 3.3-3.4),
  W3 (eq 4.3);
- losses (``_losses``): cross-entropy (weighted, focal), Jaccard j and j2, Dice, CE + Youden
  (eq 5.3);
- data (``_data``): the reviewed regions, split into training and validation, sampled as
  patches (rare classes first); augmentation (``_augment``, incl. §4.2.2);
- the loop (``_loop``), validation (``_validate``), checkpoints (``_checkpoint``) and the entry
  points :func:`train` and :func:`train_workspace` (``_run``), configured by
  :class:`TrainConfig`.

Importing this package imports torch.
"""

from stratoseg.training._augment import AugmentConfig, augment
from stratoseg.training._config import TrainConfig
from stratoseg.training._data import Batch, TrainingData, reviewed_groups
from stratoseg.training._loop import TrainProgress, learning_rate
from stratoseg.training._losses import LOSSES, make_loss
from stratoseg.training._run import TrainResult, train, train_workspace
from stratoseg.training._targets import (
    TARGETS,
    TargetKind,
    augment_touching,
    boundary_target,
    make_target,
    semantic_target,
    touching_gap_target,
    touching_target,
)
from stratoseg.training._weights import (
    WEIGHTS,
    class_balance,
    distance_weight_map,
    make_weights,
    shape_aware_weight_map,
    triplex_weight_map,
    unet_weight_map,
)

__all__ = [
    "LOSSES",
    "TARGETS",
    "WEIGHTS",
    "AugmentConfig",
    "Batch",
    "TargetKind",
    "TrainConfig",
    "TrainProgress",
    "TrainResult",
    "TrainingData",
    "augment",
    "augment_touching",
    "boundary_target",
    "class_balance",
    "distance_weight_map",
    "learning_rate",
    "make_loss",
    "make_target",
    "make_weights",
    "reviewed_groups",
    "semantic_target",
    "shape_aware_weight_map",
    "touching_gap_target",
    "touching_target",
    "train",
    "train_workspace",
    "triplex_weight_map",
    "unet_weight_map",
]
