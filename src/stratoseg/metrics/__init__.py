"""Segmentation and image-quality metrics, exact and fast on volumes.

- Rand family: :func:`v_rand` (foreground-restricted V_Rand, Hammoumi et al. eq 15, split and
  merge), :func:`adapted_rand_error` (CREMI/SNEMI, as scikit-image).
- Information: :func:`voi` (VOI with split/merge), :func:`v_info` (V_Info).
- Instances: :func:`match_instances` (PQ, SQ, RQ, precision, recall, F1, mean matched IoU).
- Semantic: :func:`semantic_scores` (confusion matrix, per-class Jaccard and Dice).
- Boundaries: :func:`boundary_f1` (tolerance radius), :func:`segments_from_boundaries`.
- Image quality: :func:`psnr`, :func:`ssim`, :func:`uiq`, :func:`mse` (eqs 16-19).
- :func:`evaluate`: several of them from one contingency table (what ``stratoseg evaluate`` runs).

Definitions, formulas and sources: ``docs/metrics.md``.
"""

from stratoseg.metrics._boundary import BoundaryScore, boundary_f1, label_boundaries
from stratoseg.metrics._contingency import Contingency, check_label_pair, contingency
from stratoseg.metrics._evaluate import DEFAULT_METRICS, IMAGE_METRICS, LABEL_METRICS, evaluate
from stratoseg.metrics._image import mse, psnr, ssim, uiq
from stratoseg.metrics._instances import InstanceScore, instances_from_table, match_instances
from stratoseg.metrics._rand import (
    AdaptedRand,
    RandScore,
    adapted_rand_error,
    adapted_rand_from_table,
    rand_from_table,
    v_rand,
)
from stratoseg.metrics._segments import segments_from_boundaries
from stratoseg.metrics._semantic import (
    MAX_CLASSES,
    SemanticScore,
    confusion_from_table,
    semantic_from_table,
    semantic_scores,
)
from stratoseg.metrics._voi import (
    InfoScore,
    VOIScore,
    entropies,
    info_from_table,
    v_info,
    voi,
    voi_from_table,
)

__all__ = [
    "DEFAULT_METRICS",
    "IMAGE_METRICS",
    "LABEL_METRICS",
    "MAX_CLASSES",
    "AdaptedRand",
    "BoundaryScore",
    "Contingency",
    "InfoScore",
    "InstanceScore",
    "RandScore",
    "SemanticScore",
    "VOIScore",
    "adapted_rand_error",
    "adapted_rand_from_table",
    "boundary_f1",
    "check_label_pair",
    "confusion_from_table",
    "contingency",
    "entropies",
    "evaluate",
    "info_from_table",
    "instances_from_table",
    "label_boundaries",
    "match_instances",
    "mse",
    "psnr",
    "rand_from_table",
    "segments_from_boundaries",
    "semantic_from_table",
    "semantic_scores",
    "ssim",
    "uiq",
    "v_info",
    "v_rand",
    "voi",
    "voi_from_table",
]
