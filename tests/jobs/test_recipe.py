"""The card is the default: what a segmentation applies, item by item, and where it came from."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from stratoseg.jobs import domain_notice, segment_recipe
from stratoseg.models import ModelCard, UNetConfig, domain_from_pieces

NAMES = {"window": "--window", "halo": "--halo", "passes": "--passes", "tiling": "--tiling",
         "block": "--block", "postprocess": "--postprocess", "stack": "--stack",
         "dtype": "--dtype", "tau1": "--tau1", "gamma": "--gamma",
         "min_size": "--min-size"}  # fmt: skip


def card(recommended: dict[str, Any] | None = None, *, context: int = 1, dims: int = 2,
         classes: int = 3, **fields: Any) -> ModelCard:  # fmt: skip
    cfg = UNetConfig(spatial_dims=dims, in_channels=1, out_channels=classes, depth=3,
                     base_filters=4, context=context)  # fmt: skip
    return ModelCard(
        name="m", architecture={"kind": "unet", "config": cfg},
        input={"channels": [{"source": "image"}]},
        classes=[{"name": f"c{i}"} for i in range(classes)],
        receptive_field=cfg.receptive_field, recommended=recommended or {}, **fields,
    )  # fmt: skip


RECOMMENDED = {
    "tiling": "stratified", "passes": 2, "window": 48, "halo": 16,
    "postprocess": {"kind": "watershed", "tau0": 0.6, "tau1": 0.9},
    "stack": {"kind": "split", "h": 0.5},
}  # fmt: skip


def test_every_item_of_the_card_is_applied() -> None:
    r = segment_recipe(card(RECOMMENDED), shape=(5, 64, 64))
    assert r.options == {"tiling": "stratified", "passes": 2, "window": 48, "halo": 16,
                         "block": None, "dtype": "float16"}  # fmt: skip
    assert r.method == "watershed"
    assert r.params == {"tau0": 0.6, "tau1": 0.9, "stack": {"kind": "split", "h": 0.5}}
    assert {r.sources[k] for k in ("tiling", "passes", "window", "halo", "postprocess")} == {"card"}
    assert r.sources["stack"] == "card"
    assert r.sources["dtype"].startswith("float16 because watershed")


def test_the_user_overrides_single_items() -> None:
    r = segment_recipe(card(RECOMMENDED), shape=(5, 64, 64), tiling="gaussian", window=[64, 64],
                       params={"tau1": 0.8}, dtype="float16")  # fmt: skip
    assert r.options["tiling"] == "gaussian"
    assert r.options["window"] == [64, 64]
    assert r.options["halo"] == 16  # still the card's
    assert r.params["tau1"] == 0.8
    assert r.params["tau0"] == 0.6
    assert r.sources["tiling"] == r.sources["window"] == r.sources["dtype"] == "you"
    assert r.sources["postprocess"] == "the card's, with your changes"
    # another method: its own defaults, not the card's parameters
    other = segment_recipe(card(RECOMMENDED), shape=(64, 64), postprocess="threshold")
    assert (other.method, other.params, other.sources["postprocess"]) == ("threshold", {}, "you")
    assert other.options["dtype"] == "uint8"  # thresholds at 0.5: uint8 is enough
    # the method the card recommends, named: the card's parameters
    named = segment_recipe(card(RECOMMENDED), shape=(64, 64), postprocess="watershed")
    assert named.params == {"tau0": 0.6, "tau1": 0.9}


def test_a_card_without_advice_gets_the_defaults() -> None:
    r = segment_recipe(card(), shape=(64, 64))
    assert r.options == {"tiling": "crop", "passes": 4, "window": None, "halo": None,
                         "block": None, "dtype": "uint8"}  # fmt: skip
    assert r.method == "map"
    assert r.semantic
    assert r.notices == []
    assert "tiling crop (defaults)" in r.describe()


def test_a_2d_model_on_a_stack_says_how_slices_become_objects() -> None:
    advice = {"postprocess": {"kind": "watershed"}}
    r = segment_recipe(card(advice), shape=(31, 61, 57))
    assert r.params["stack"] == {"kind": "link", "min_overlap": 0.5}
    assert r.sources["stack"] == "default"
    assert len(r.notices) == 1
    assert "m is a 2-D model: each of the 31 z slices is predicted on its own" in r.notices[0]
    assert "linked to the next slice's by overlap" in r.notices[0]
    split = segment_recipe(card(advice), shape=(31, 61, 57), stack="split", names=NAMES)
    assert split.params["stack"] == {"kind": "split", "h": 0.5}
    assert "--stack link | split | volume" in split.notices[0]
    # one slice, a 2.5D model, semantic labels: nothing to assemble, nothing to say
    assert "stack" not in segment_recipe(card(advice), shape=(61, 57)).params
    assert "stack" not in segment_recipe(card(advice, context=3), shape=(31, 61, 57)).params
    assert segment_recipe(card(), shape=(31, 61, 57)).notices == []


def test_uint8_under_a_flooding_method_gets_a_notice() -> None:
    r = segment_recipe(card(RECOMMENDED), shape=(64, 64), dtype="uint8")
    assert r.options["dtype"] == "uint8"
    assert any("rounding to 1/255" in n for n in r.notices)
    assert (
        segment_recipe(card({**RECOMMENDED, "dtype": "uint8"}), shape=(64, 64)).sources["dtype"]
        == "card"
    )


@pytest.mark.parametrize(
    ("choices", "message"),
    [
        ({"window": 50}, "--window 50: must be a multiple of 8"),
        ({"window": [48, 48, 48]}, "--window 48,48,48: give one whole number or 2"),
        ({"halo": 12}, "--halo 12: must be a multiple of 8"),
        ({"passes": 0}, "--passes 0: must be at least 1"),
        ({"tiling": "tiles"}, "--tiling 'tiles': must be one of crop, gaussian, stratified"),
        ({"postprocess": "nope"}, "--postprocess 'nope': must be 'recommended' or one of"),
        ({"stack": "slices"}, "--stack 'slices': must be one of link, split, volume"),
        ({"dtype": "float32"}, "--dtype 'float32': must be uint8 or float16"),
        ({"params": {"tau1": 2.0}}, "--tau1 2.0: tau1 must be between 0 and 1"),
        ({"params": {"gamma": 1}}, "--gamma 1: the watershed post-processing takes no gamma"),
        (
            {"halo": -16},
            "--halo -16: must be a multiple of 8 (the network's down-sampling factor), at least 0",
        ),
        ({"block": 0}, "--block 0: give whole numbers >= 1"),
        ({"block": 12, "chunks": (5, 16, 16)}, "--block 12: block (5, 12, 12) must be a multiple"),
        (
            {"postprocess": "boundary-components", "params": {"min_size": -3}},
            "--min-size -3: min_size must be a whole number >= 0",
        ),
    ],
)
def test_bad_overrides_name_the_option_and_the_value(choices: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        segment_recipe(card(RECOMMENDED), shape=(5, 64, 64), names=NAMES, **choices)


def test_a_bad_recommendation_is_the_card_s_not_the_user_s() -> None:
    with pytest.raises(ValueError, match="the card's recommended window 50: must be a multiple"):
        segment_recipe(card({"window": 50}), shape=(64, 64), names=NAMES)
    with pytest.raises(ValueError, match="the card's recommended stack 'bands'"):
        segment_recipe(card({"postprocess": {"kind": "watershed"}, "stack": "bands"}),
                       shape=(5, 64, 64), names=NAMES)  # fmt: skip
    bad = card({"postprocess": {"kind": "watershed", "tau1": 3.0}})
    with pytest.raises(ValueError, match="the card's recommended post-processing watershed: tau1"):
        segment_recipe(bad, shape=(64, 64), names=NAMES)


def test_a_run_without_labels_keeps_the_precision_its_post_processing_needs() -> None:
    r = segment_recipe(card(RECOMMENDED), shape=(5, 64, 64), postprocess=None)
    assert r.method is None
    assert r.options["dtype"] == "float16"  # for a later `stratoseg postprocess` with watershed
    assert segment_recipe(card(), shape=(64, 64), postprocess=None).options["dtype"] == "uint8"


def test_a_stack_that_cannot_apply_is_said() -> None:
    r = segment_recipe(card(), shape=(5, 64, 64), stack="split", names=NAMES)
    assert "stack" not in r.params
    assert r.notices == ["--stack split is ignored: map gives classes, not objects."]
    advice = {"postprocess": {"kind": "watershed"}}
    r = segment_recipe(card(advice, context=3), shape=(5, 64, 64), stack="link", names=NAMES)
    assert r.params["stack"]["kind"] == "link"
    assert r.notices == ["m sees 3 slices, yet its maps are post-processed slice by slice "
                         "(--stack link)."]  # fmt: skip


def test_an_unknown_recommended_method_is_reported() -> None:
    with pytest.raises(ValueError, match="recommends an unknown post-processing 'magic'"):
        segment_recipe(card({"postprocess": {"kind": "magic"}}), shape=(64, 64))


def test_domain_notice_compares_with_the_training_fingerprint() -> None:
    rng = np.random.default_rng(0)
    norm = card().input.normalisation
    noisy = [rng.normal(100, 10, (4, 64, 64)) for _ in range(5)]
    known = card(domain=domain_from_pieces(noisy, norm), voxel_size=[1.0, 0.5, 0.5],
                 unit="micrometer")  # fmt: skip
    assert domain_notice(rng.normal(100, 10, (8, 96, 96)), known) is None
    steps = np.zeros((8, 96, 96))
    steps[:, :, 48:] = 200  # two flat phases: another histogram, no texture
    notice = domain_notice(steps, known)
    assert notice is not None
    assert "unlike what m was trained on" in notice
    assert "fine-tune" in notice
    far = domain_notice(rng.normal(100, 10, (8, 96, 96)), known, voxel_size=(1.0, 2.0, 2.0),
                        unit="micrometer")  # fmt: skip
    assert far is not None
    assert "its voxels are 4 times the training data's" in far
    other_unit = domain_notice(rng.normal(100, 10, (8, 96, 96)), known,
                               voxel_size=(1.0, 2.0, 2.0), unit="nanometer")  # fmt: skip
    assert other_unit is None  # units differ: not compared
    assert domain_notice(steps, card()) is None  # no fingerprint, no notice
