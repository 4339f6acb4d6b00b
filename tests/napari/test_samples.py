"""npe2 sample data: synthetic images with their ground truth."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Layer

from stratoseg.napari import cells_sample, composite_sample


def test_composite_sample() -> None:
    layers = composite_sample()
    assert [(kwargs["name"], kind) for _, kwargs, kind in layers] == [
        ("composite", "image"),
        ("composite ground truth", "labels"),
    ]
    (image, _, _), (labels, kwargs, _) = layers
    assert isinstance(image, np.ndarray)
    assert image.dtype == np.uint8
    assert image.shape == labels.shape == (64, 128, 128)
    assert set(np.unique(labels)) == {0, 1, 2}
    assert list(kwargs["features"]["class"]) == ["matrix", "fibre", "pore"]


def test_cells_sample() -> None:
    layers = cells_sample()
    assert [kind for _, _, kind in layers] == ["image", "labels"]
    (image, _, _), (labels, kwargs, _) = layers
    assert image.shape == labels.shape == (32, 128, 128)
    assert image.dtype == np.uint8
    assert labels.dtype == np.uint32
    assert kwargs["name"] == "cells ground truth"
    assert len(np.unique(labels)) > 3  # background and several cells


@pytest.mark.parametrize("sample", [composite_sample, cells_sample])
def test_sample_kwargs_make_napari_layers(sample: object) -> None:
    for data, kwargs, kind in sample():  # type: ignore[operator]
        layer = Layer.create(data, kwargs, kind)
        assert layer.data.shape == data.shape
