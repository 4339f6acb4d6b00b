"""Block-wise inference: window tilings (crop, gaussian, stratified), block prediction.

See ``docs/inference.md``. The tiler knows nothing about the network: a predictor is any
callable from a batch of windows to class probabilities.
"""

from stratoseg.inference._block import Predict, predict_block, read_extended
from stratoseg.inference._tiling import Axis, Tiling, Window, gaussian_weights, plan_block

__all__ = [
    "Axis",
    "Predict",
    "Tiling",
    "Window",
    "gaussian_weights",
    "plan_block",
    "predict_block",
    "read_extended",
]
