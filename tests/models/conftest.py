"""Small model configurations and cards shared by the model tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stratoseg.models import ModelCard, UNetConfig


def card_for(config: UNetConfig, name: str = "tiny", **fields: Any) -> ModelCard:
    """A valid card for ``config`` (image channels, classes c0, c1, ...), fields overridden."""
    data: dict[str, Any] = {
        "name": name,
        "description": "a test model",
        "architecture": {"kind": "unet", "config": config.model_dump()},
        "input": {"channels": [{"source": "image"}] * config.in_channels},
        "classes": [{"name": f"c{i}", "meaning": f"class {i}"} for i in range(config.out_channels)],
        "receptive_field": config.receptive_field,
        "recommended": {"tiling": "gaussian", "window": [64, 64]},
        "provenance": {"steps": 0},
        "metrics": {"dice": 0.5},
    }
    data.update(fields)
    return ModelCard.model_validate(data)


@pytest.fixture
def tiny_config() -> UNetConfig:
    """2-D, 1 channel in, 3 classes, depth 2, 4 base filters."""
    return UNetConfig(spatial_dims=2, in_channels=1, out_channels=3, depth=2, base_filters=4)


@pytest.fixture
def make_card() -> Callable[..., ModelCard]:
    return card_for
