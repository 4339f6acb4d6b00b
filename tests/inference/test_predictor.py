"""The predictor's traced network: the eager network's numbers, one trace per window shape."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from stratoseg.inference._predictor import TRACED_SHAPES, Predictor
from stratoseg.models import UNetConfig, build_model


def trained_like(**config: Any) -> torch.nn.Module:
    """A small UNet whose batch-norm statistics are not the identity (so folding shows)."""
    cfg = UNetConfig(in_channels=1, out_channels=3, base_filters=4, **config)
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.mark.parametrize(
    ("config", "window"),
    [
        ({"spatial_dims": 2, "depth": 2}, (1, 1, 1, 32, 48)),  # 2-D on a volume: z folded
        ({"spatial_dims": 2, "depth": 2, "context": 3}, (2, 1, 3, 32, 32)),  # 2.5D
        ({"spatial_dims": 3, "depth": 2}, (1, 1, 16, 24, 16)),
        (
            {
                "spatial_dims": 2,
                "depth": 2,
                "upsample": "interp",
                "norm": "instance",
                "activation": "gelu",
            },
            (1, 1, 1, 32, 32),
        ),
        ({"spatial_dims": 3, "depth": 1, "norm": "group", "groups": 2}, (1, 1, 8, 8, 8)),
    ],
)
def test_the_traced_network_gives_the_eager_numbers(
    config: dict[str, Any], window: tuple[int, ...]
) -> None:
    model = trained_like(**config)
    tiles = np.random.default_rng(0).random(window, dtype=np.float32)
    traced = Predictor(model, device="cpu")
    eager = Predictor(model, device="cpu", jit=False)
    assert traced.jit
    assert not eager.jit
    got, want = traced(tiles), eager(tiles)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert len(traced._checked) == 1
    assert traced._checked[next(iter(traced._checked))] is traced._script  # really traced


def test_one_trace_checked_per_input_shape_and_the_oldest_let_go() -> None:
    predictor = Predictor(trained_like(spatial_dims=2, depth=1), device="cpu")
    first = np.zeros((1, 1, 1, 8, 8), np.float32)
    predictor(first)
    script = predictor._script
    predictor(first + 1)
    assert list(predictor._checked.values()) == [script]
    for k in range(TRACED_SHAPES + 1):
        tiles = np.random.default_rng(k).random((1 + k % 2, 1, 1, 8, 8 + 2 * k + 2))
        np.testing.assert_allclose(
            predictor(tiles), Predictor(predictor.model, jit=False)(tiles), atol=1e-5
        )
    assert predictor._script is script  # traced once, on a small input, for every shape
    assert len(predictor._checked) == TRACED_SHAPES
    assert (1, 1, 8, 8) not in predictor._checked


def test_a_trace_that_differs_from_the_network_is_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    predictor = Predictor(trained_like(spatial_dims=2, depth=1), device="cpu")
    predictor._script = lambda x: torch.zeros(x.shape[0], 3, *x.shape[2:])  # a wrong "trace"
    tiles = np.random.default_rng(2).random((1, 1, 1, 8, 8), dtype=np.float32)
    want = Predictor(predictor.model, jit=False)(tiles)
    np.testing.assert_allclose(predictor(tiles), want, atol=1e-6)
    assert next(iter(predictor._checked.values())) is predictor.model


def test_a_network_that_cannot_be_traced_runs_eagerly(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("not traceable")

    monkeypatch.setattr(torch.jit, "trace", refuse)
    model = trained_like(spatial_dims=2, depth=1)
    predictor = Predictor(model, device="cpu")
    tiles = np.random.default_rng(1).random((1, 1, 1, 8, 8), dtype=np.float32)
    np.testing.assert_array_equal(predictor(tiles), Predictor(model, jit=False)(tiles))
    assert predictor._script is False
    assert next(iter(predictor._checked.values())) is predictor.model


def test_bad_jit_option() -> None:
    with pytest.raises(ValueError, match="jit must be True, False or 'auto', got 'yes'"):
        Predictor(trained_like(spatial_dims=2, depth=1), device="cpu", jit="yes")  # type: ignore[arg-type]
