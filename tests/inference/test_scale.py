"""Prediction at another scale and the scale chosen by the network's confidence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from stratoseg.inference import (
    foreground_confidence,
    predict_at_scale,
    predict_lazy,
    predict_scaled,
)
from stratoseg.models import BUILTIN_DIR, read_card

EM = "em-membranes-2d"


@pytest.fixture(scope="module")
def cells() -> np.ndarray:
    """Bright 2-D cells between dark membranes (the em model's kind of image)."""
    y, x = np.mgrid[:96, :96]
    image = 150 + 40 * np.sin(y / 7.0) * np.sin(x / 9.0)
    image[(y % 24 < 2) | (x % 30 < 2)] = 40
    return image.astype(np.float32)


def test_confidence_is_the_mean_top_probability_over_the_foreground() -> None:
    p = np.zeros((3, 2, 2), np.float32)
    p[0] = [[0.8, 0.4], [0.2, 0.5]]  # foreground: background < 0.5, pixels (0,1) and (1,0)
    p[1] = [[0.1, 0.5], [0.3, 0.25]]
    p[2] = [[0.1, 0.1], [0.5, 0.25]]
    assert foreground_confidence(p) == pytest.approx((0.5 + 0.5) / 2)
    p[0] = 1.0
    assert foreground_confidence(p) == 1.0  # no foreground at all


def test_scale_one_is_the_plain_prediction(cells: np.ndarray) -> None:
    plain = np.asarray(predict_lazy(cells, EM).compute())
    np.testing.assert_array_equal(predict_at_scale(cells, EM, 1.0), plain)


@pytest.mark.parametrize("scale", [0.5, 1.5])
def test_another_scale_comes_back_at_the_image_shape(cells: np.ndarray, scale: float) -> None:
    probs = predict_at_scale(cells, EM, scale)
    assert probs.shape == (2, *cells.shape)
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=1e-5)
    plain = predict_at_scale(cells, EM, 1.0)
    assert not np.allclose(probs, plain)  # it really predicted at another size


def test_the_margin_decides_whether_another_scale_is_taken(cells: np.ndarray) -> None:
    free = predict_scaled(cells, EM, scales=[0.5, 2.0], margin=0.0)
    assert set(free.confidence) == {0.5, 1.0, 2.0}
    top = max(free.confidence, key=lambda s: free.confidence[s])
    assert free.scale == (top if free.confidence[top] > free.confidence[1.0] else 1.0)
    np.testing.assert_array_equal(free.probs, predict_at_scale(cells, EM, free.scale))
    kept = predict_scaled(cells, EM, scales=[0.5, 2.0], margin=1.0)
    assert kept.scale == 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scales": [0.0]}, "scales must be between 0.1 and 10, got 0.0"),
        ({"scales": [20]}, "scales must be between 0.1 and 10, got 20"),
        ({"margin": -0.1}, "margin must be >= 0, got -0.1"),
    ],
)
def test_bad_scales_are_refused(cells: np.ndarray, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        predict_scaled(cells, EM, **kwargs)


def test_large_nuclei_are_found_at_scale_1_and_the_choice_keeps_it(shared_data: Path) -> None:
    """DSB2018 image 516a0e20 (held out, nuclei about three times the training median). A
    model trained on touching targets made in 3-D across the stacked training images cut its
    22 nuclei into 77 pieces at scale 1 (half size mended it); the model trained slice by
    slice finds them at scale 1, and the scale choice keeps 1 (more confident there)."""
    from stratoseg.metrics import match_instances
    from stratoseg.postprocess import postprocess

    folder = shared_data / "dsb2018-nuclei"
    name = next(p.name for p in (folder / "images").glob("516a0e20*.tif"))
    image = tifffile.imread(folder / "images" / name)
    truth = tifffile.imread(folder / "labels" / name).astype(np.uint32)
    rec = read_card(BUILTIN_DIR / "nuclei-touching-2d").recommended
    choice = predict_scaled(image, "nuclei-touching-2d", scales=(1.0, 0.5), margin=0.0,
                            tiling=rec["tiling"])  # fmt: skip
    assert choice.scale == 1.0
    assert choice.confidence[1.0] > choice.confidence[0.5]
    advice = dict(rec["postprocess"])
    found = match_instances(postprocess(choice.probs, advice.pop("kind"), **advice), truth)
    assert found.f1 > 0.9
    assert found.pq > 0.8
