"""npe2 sample data: small synthetic volumes with their ground truth (computed in memory)."""

from __future__ import annotations

from typing import Any

import dask
import numpy as np

from stratoseg.napari._layers import LayerData

__all__ = ["cells_sample", "composite_sample"]

COMPOSITE_SHAPE = (64, 128, 128)
CELLS_SHAPE = (32, 128, 128)


def _sample_layers(volume: Any, name: str) -> list[LayerData]:
    """Image and ground-truth layers of a :class:`~stratoseg.synthetic.SyntheticVolume`."""
    image, labels = dask.compute(volume.image, volume.labels)  # one pass over the shared graph
    scale = tuple(float(v) for v in volume.voxel_size)
    axes = ("z", "y", "x")[-image.ndim :]
    common = {"scale": scale, "axis_labels": axes}
    meta = {"stratoseg": {"sample": volume.kind, "classes": dict(volume.classes)}}
    label_kwargs: dict[str, Any] = {"name": f"{name} ground truth", "metadata": meta, **common}
    if volume.kind == "composite":  # semantic classes: name them in the status bar
        index = sorted(volume.classes)
        label_kwargs["features"] = {"index": index, "class": [volume.classes[i] for i in index]}
    return [
        (
            np.asarray(image),
            {"name": name, "contrast_limits": [0, 255], "metadata": meta, **common},
            "image",
        ),
        (np.asarray(labels), label_kwargs, "labels"),
    ]


def composite_sample() -> list[LayerData]:
    """A synthetic glass-fibre composite tomogram (64 x 128 x 128, uint8) with ground truth.

    Returns
    -------
    list of (data, kwargs, layer_type)
        The image and a labels layer ``"composite ground truth"``: 0 matrix, 1 fibre, 2 pore.
    """
    from stratoseg.synthetic import make_composite

    return _sample_layers(make_composite(COMPOSITE_SHAPE, seed=0), "composite")


def cells_sample() -> list[LayerData]:
    """A synthetic stack of touching cells (32 x 128 x 128, uint8) with instance ground truth.

    Returns
    -------
    list of (data, kwargs, layer_type)
        The image and a labels layer ``"cells ground truth"`` (one id per cell, 0 background).
    """
    from stratoseg.synthetic import make_cells

    return _sample_layers(make_cells(CELLS_SHAPE, seed=0), "cells")
