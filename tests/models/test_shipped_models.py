"""Every shipped model loads on the CPU, fits the package budget, carries a model card, and
segments a small crop of its own kind of data into something that is not trivial.

The expensive re-measurements (the numbers in the cards) are the ``scripts/train_*.py``
scripts, not tests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tifffile

from stratoseg.inference import predict_lazy
from stratoseg.models import BUILTIN_DIR, load_package, read_card
from stratoseg.postprocess import postprocess
from stratoseg.synthetic import make_composite

SHIPPED = sorted(p.name for p in BUILTIN_DIR.iterdir() if (p / "model.json").is_file())
MAX_BYTES = 15 * 2**20


def _composite(_: Path) -> None:
    """Three phases of a synthetic composite (the model's training kind), all present, each
    with a plausible share."""
    sample = make_composite((16, 96, 96), seed=3)
    probs = np.asarray(predict_lazy(np.asarray(sample.image), "composite-ct-3phase").compute())
    shares = np.bincount(probs.argmax(axis=0).ravel(), minlength=3) / probs[0].size
    truth = np.bincount(np.asarray(sample.labels).ravel(), minlength=3) / probs[0].size
    assert (shares > 0).all()
    assert np.abs(shares - truth).max() < 0.1


def _nuclei(data: Path) -> None:
    """A 256 x 256 crop of a held-out DSB2018 image (index 3 of the sorted names, in the test
    part of ``scripts/train_nuclei_touching.py``): background, nucleus and touching all
    predicted, and the recommended post-processing finds about as many nuclei as people drew."""
    folder = data / "dsb2018-nuclei"
    name = sorted(p.name for p in (folder / "images").glob("*.tif"))[3]
    image = tifffile.imread(folder / "images" / name)[:256, :256]
    truth = tifffile.imread(folder / "labels" / name)[:256, :256]
    probs = np.asarray(predict_lazy(image, "nuclei-touching-2d", tiling="gaussian").compute())
    assert set(np.unique(probs.argmax(axis=0)).tolist()) == {0, 1, 2}
    advice = dict(read_card(BUILTIN_DIR / "nuclei-touching-2d").recommended["postprocess"])
    labels = postprocess(probs, advice.pop("kind"), **advice)
    found, drawn = len(np.unique(labels)) - 1, len(np.unique(truth)) - 1
    assert 0.7 * drawn <= found <= 1.3 * drawn, (found, drawn)


def _membranes(data: Path) -> None:
    """A 192 x 192 crop of held-out ISBI 2012 slice 27, predicted with the card's settings:
    membrane and cell both predicted, the membrane share near the drawn one, and about as many
    cells between the thresholded membranes as people drew."""
    from scipy import ndimage as ndi

    from stratoseg.metrics import segments_from_boundaries

    folder = data / "isbi2012"
    image = tifffile.imread(folder / "train-volume.tif")[27, :192, :192]
    drawn = tifffile.imread(folder / "train-labels.tif")[27, :192, :192] == 0
    card = read_card(BUILTIN_DIR / "em-membranes-2d")
    opts = {k: card.recommended[k] for k in ("tiling", "passes", "window")}
    probs = np.asarray(predict_lazy(image, "em-membranes-2d", **opts).compute())
    membrane = probs[1]
    advice = dict(card.recommended["postprocess"])
    threshold = advice["threshold"]
    found = membrane > threshold
    assert 0 < found.mean() < 1
    assert abs(found.mean() - drawn.mean()) < 0.15, (found.mean(), drawn.mean())
    cells = len(np.unique(segments_from_boundaries(membrane, threshold=threshold))) - 1
    recommended = postprocess(probs, advice.pop("kind"), **advice)
    assert len(np.unique(recommended)) == cells  # the same cells, the membranes given out
    assert recommended.min() > 0
    truth = ndi.label(~drawn, structure=ndi.generate_binary_structure(2, 1))[1]
    assert 0.5 * truth <= cells <= 2 * truth, (cells, truth)


def _boundaries(data: Path) -> None:
    """A 32 x 128 x 128 crop of the held-out part (z >= 175) of the FIB-SEM medulla volume,
    predicted with the card's tiling: interior and boundary both predicted, the boundary share
    near that of the target made from the drawn bodies, and the recommended boundary watershed
    finds about as many bodies as people drew."""
    from stratoseg.training import make_target

    folder = data / "fibsem-medulla-250"
    crop = (slice(180, 212), slice(0, 128), slice(0, 128))
    image = tifffile.imread(folder / "raw.tif")[crop]
    truth = tifffile.imread(folder / "groundtruth.tif")[crop].astype(np.uint32)
    card = read_card(BUILTIN_DIR / "em-boundaries-3d")
    probs = np.asarray(
        predict_lazy(image, "em-boundaries-3d", tiling=card.recommended["tiling"]).compute()
    )
    found = probs.argmax(axis=0) == 1
    drawn = make_target("boundary", truth, width=1) == 1
    assert 0 < found.mean() < 1
    assert abs(found.mean() - drawn.mean()) < 0.1, (found.mean(), drawn.mean())
    advice = dict(card.recommended["postprocess"])
    bodies = len(np.unique(postprocess(probs, advice.pop("kind"), **advice))) - 1
    true_bodies = len(np.unique(truth[truth > 0]))
    assert 0.5 * true_bodies <= bodies <= 2 * true_bodies, (bodies, true_bodies)


SMOKE: dict[str, tuple[Callable[[Path], None], bool]] = {
    # name: (check, needs ../shared/data)
    "composite-ct-3phase": (_composite, False),
    "em-boundaries-3d": (_boundaries, True),
    "em-membranes-2d": (_membranes, True),
    "nuclei-touching-2d": (_nuclei, True),
}


@pytest.mark.parametrize("name", SHIPPED)
def test_the_package_loads_on_the_cpu_within_budget_with_a_card(name: str) -> None:
    path = BUILTIN_DIR / name
    size = sum(f.stat().st_size for f in path.iterdir())
    assert size < MAX_BYTES, f"{name}: {size / 2**20:.1f} MB"
    model, card = load_package(path, device="cpu")
    assert card.name == name
    assert card.description
    assert card.metrics, "the card reports what was measured"
    assert "hardware" in card.provenance
    assert next(model.parameters()).device.type == "cpu"


@pytest.mark.parametrize("name", SHIPPED)
def test_each_card_s_recommendation_runs_and_it_knows_its_training_data(name: str) -> None:
    from stratoseg.jobs import segment_recipe

    card = read_card(BUILTIN_DIR / name)
    recipe = segment_recipe(card, shape=(5, 64, 64))  # checks every recommended item
    assert recipe.method == card.recommended["postprocess"]["kind"]
    assert card.domain is not None
    assert card.domain.pieces > 1


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_model_segments_a_crop_of_its_data(
    name: str, request: pytest.FixtureRequest
) -> None:
    assert name in SMOKE, f"{name} is shipped without a check on its data here"
    check, needs_data = SMOKE[name]
    data = request.getfixturevalue("shared_data") if needs_data else Path()
    check(data)
