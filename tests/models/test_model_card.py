"""ModelCard: consistency with the architecture, enhance channels, JSON, clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from stratoseg.models import ModelCard, NormSpec, UNetConfig, describe_card_error

MakeCard = Callable[..., ModelCard]


def _error(make_card: MakeCard, config: UNetConfig, **fields: Any) -> str:
    with pytest.raises(ValidationError) as info:
        make_card(config, **fields)
    return describe_card_error(info.value)


def test_valid_card_round_trips_through_json(make_card: MakeCard, tiny_config) -> None:
    card = make_card(tiny_config, voxel_size=[1.0, 0.5, 0.5], unit="nanometer")
    text = card.model_dump_json(indent=2)
    data = json.loads(text)  # plain JSON, nothing Python-specific
    assert data["format_version"] == 1
    assert data["architecture"]["config"]["depth"] == 2
    assert data["input"]["normalisation"] == {"kind": "percentile", "low": 1.0, "high": 99.0}
    assert ModelCard.model_validate_json(text) == card
    assert card.summary() == {
        "name": "tiny",
        "dims": "2D",
        "classes": ["c0", "c1", "c2"],
        "channels": ["image"],
        "receptive_field": 44,
    }


def test_receptive_field_must_match(make_card: MakeCard, tiny_config) -> None:
    msg = _error(make_card, tiny_config, receptive_field=43)
    assert "receptive_field is 43 but the architecture's is 44" in msg


def test_unknown_architecture_kind(make_card: MakeCard, tiny_config) -> None:
    arch = {"kind": "resnet", "config": tiny_config.model_dump()}
    msg = _error(make_card, tiny_config, architecture=arch)
    assert "architecture.kind: unknown architecture kind 'resnet'; supported: 'unet'" in msg


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"name": "../evil"}, "name"),
        ({"name": ""}, "name"),
        ({"input": {"channels": [{"source": "image"}] * 2}}, "input.channels has 2 entries"),
        ({"input": {"channels": [{"source": "labels"}]}}, "input.channels.0.source"),
        ({"input": {"channels": [{"source": "image", "params": {"a": 1}}]}}, "takes no params"),
        ({"classes": [{"name": "a"}]}, "classes has 1 entries"),
        ({"classes": [{"name": "a"}, {"name": "a"}, {"name": "b"}]}, "unique"),
        ({"voxel_size": [1.0, -1.0]}, "voxel_size"),
        ({"voxel_size": [1.0]}, "voxel_size"),
        ({"metrics": {"dice": float("nan")}}, "metrics.dice"),
        ({"recommended": {"window": {1, 2}}}, "recommended: the value must be JSON"),
        ({"provenance": {"x": float("inf")}}, "provenance"),
        ({"format_version": 2}, "format_version"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_fields_are_named(
    make_card: MakeCard, tiny_config, fields: dict[str, Any], where: str
) -> None:
    assert where in _error(make_card, tiny_config, **fields)


def test_enhance_channel_params_are_validated_and_completed(make_card: MakeCard) -> None:
    from stratoseg.enhance import EnhanceParams

    cfg = UNetConfig(spatial_dims=2, in_channels=2, out_channels=2, depth=1, base_filters=4)
    channels = [{"source": "image"}, {"source": "enhance", "params": {"method": "grayscale"}}]
    card = make_card(cfg, input={"channels": channels})
    params = card.input.channels[1].params
    assert params == EnhanceParams(method="grayscale").model_dump()  # defaults written out
    assert EnhanceParams(**params).levels == 16
    bad = [{"source": "image"}, {"source": "enhance", "params": {"levels": 0}}]
    msg = _error(make_card, cfg, input={"channels": bad})
    assert "input.channels.1: enhance params: levels" in msg
    unknown = [{"source": "image"}, {"source": "enhance", "params": {"sigma": 1}}]
    assert "sigma" in _error(make_card, cfg, input={"channels": unknown})


def test_normalisation_spec() -> None:
    assert NormSpec().kind == "percentile"
    assert NormSpec(kind="fixed", low=-100, high=2000).high == 2000
    assert NormSpec(kind="minmax", low=5, high=1).kind == "minmax"  # bounds ignored
    with pytest.raises(ValueError, match="low must be < high"):
        NormSpec(kind="fixed", low=3, high=3)
    with pytest.raises(ValueError, match="0 <= low < high <= 100"):
        NormSpec(low=1, high=101)


def test_25d_and_3d_summaries(make_card: MakeCard) -> None:
    c25 = UNetConfig(
        spatial_dims=2, in_channels=1, out_channels=2, depth=1, base_filters=4, context=3
    )
    c3 = UNetConfig(spatial_dims=3, in_channels=1, out_channels=2, depth=1, base_filters=4)
    assert make_card(c25).summary()["dims"] == "2.5D (3 slices)"
    assert make_card(c3).summary()["dims"] == "3D"
    assert "voxel_size" in _error(make_card, c3, voxel_size=[1.0, 1.0])


def test_cards_are_frozen_and_updated_by_validated_copies(make_card: MakeCard, tiny_config) -> None:
    card = make_card(tiny_config)
    with pytest.raises(ValidationError, match="frozen"):
        card.receptive_field = 10  # type: ignore[misc]
    with pytest.raises(ValidationError, match="receptive_field is 10"):
        card.updated(receptive_field=10)
    new = card.updated(description="changed", metrics={"dice": 0.75})
    assert (new.description, new.metrics, card.description) == (
        "changed",
        {"dice": 0.75},
        "a test model",
    )
    assert new.architecture == card.architecture
