"""napari integration without Qt: the npe2 reader, sample data and layer data builders.

The widgets live in :mod:`stratoseg.widgets`; nothing here imports Qt or napari itself.
"""

from stratoseg.napari._layers import (
    LayerData,
    labels_layer_data,
    volume_layer_data,
    workspace_layer_data,
)
from stratoseg.napari._reader import get_reader
from stratoseg.napari._samples import cells_sample, composite_sample

__all__ = [
    "LayerData",
    "cells_sample",
    "composite_sample",
    "get_reader",
    "labels_layer_data",
    "volume_layer_data",
    "workspace_layer_data",
]
