"""Block-wise inference: window tilings (crop, gaussian, stratified), block prediction.

See ``docs/inference.md``. The tiler knows nothing about the network: a predictor is any
callable from a batch of windows to class probabilities.
"""

from stratoseg._malloc import tune_malloc
from stratoseg.inference._block import Predict, predict_block, read_extended
from stratoseg.inference._inputs import InputReader, NetworkInput, normalisation_range
from stratoseg.inference._lazy import predict_lazy
from stratoseg.inference._plan import SegmentPlan, block_bytes_per_voxel, block_seed, plan_segment
from stratoseg.inference._scale import (
    ScaledPrediction,
    choose_scale,
    foreground_confidence,
    predict_at_scale,
    predict_scaled,
)
from stratoseg.inference._segment import segment_workspace
from stratoseg.inference._tiling import Axis, Tiling, Window, gaussian_weights, plan_block

__all__ = [
    "Axis",
    "InputReader",
    "NetworkInput",
    "Predict",
    "ScaledPrediction",
    "SegmentPlan",
    "Tiling",
    "Window",
    "block_bytes_per_voxel",
    "block_seed",
    "choose_scale",
    "foreground_confidence",
    "gaussian_weights",
    "normalisation_range",
    "plan_block",
    "plan_segment",
    "predict_at_scale",
    "predict_block",
    "predict_lazy",
    "predict_scaled",
    "read_extended",
    "segment_workspace",
    "tune_malloc",
]
