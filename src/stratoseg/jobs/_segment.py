"""One segmentation as the user runs it: prediction, then the recipe's post-processing, with the
notices a user should read first (a 2-D model on a stack, an input unlike the training data)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from stratoseg._progress import ProgressFn, StopFn
from stratoseg.jobs._recipe import SegmentRecipe
from stratoseg.workspace import PredictionRun, Workspace

__all__ = ["domain_notice", "run_segment"]

#: Voxel sizes further apart than this factor (in-plane, same unit) get a notice.
VOXEL_RATIO = 2.0


def domain_notice(
    image: Any, card: Any, *, voxel_size: Sequence[float] | None = None, unit: str | None = None
) -> str | None:
    """A notice when ``image`` (2-D or 3-D, any array) is far from the model's training data:
    its intensity fingerprint more than :data:`~stratoseg.models.OUT_OF_DOMAIN` spreads away
    (:mod:`stratoseg.models._domain`, read from a few MB of the image), or its in-plane voxel
    size more than twice or less than half the card's, in the same unit. None otherwise, and
    for cards without a fingerprint."""
    from stratoseg.models import OUT_OF_DOMAIN, domain_sample, image_features

    reasons = []
    if card.domain is not None:
        features = image_features(domain_sample(image), card.input.normalisation)
        far, feature = card.domain.distance(features)
        if far > OUT_OF_DOMAIN:
            what = "texture" if feature.startswith("grad") else "intensity histogram"
            reasons.append(f"its {what} is {far:.1f} spreads from the training data's "
                           f"({feature})")  # fmt: skip
    if voxel_size is not None and card.voxel_size is not None and unit and unit == card.unit:
        ratio = float(np.mean(voxel_size[-2:])) / float(np.mean(card.voxel_size[-2:]))
        if not 1 / VOXEL_RATIO <= ratio <= VOXEL_RATIO:
            reasons.append(f"its voxels are {ratio:.2g} times the training data's")
    if not reasons:
        return None
    return (
        f"this image is unlike what {card.name} was trained on: {' and '.join(reasons)}. "
        "Expect poor results; fine-tune it on a few corrected slices (stratoseg train "
        "--base-model) or pick another model (stratoseg models list)."
    )


def run_segment(
    ws: Workspace,
    model: str | os.PathLike[str],
    recipe: SegmentRecipe,
    *,
    run: str | None = None,
    labels: str | None = "segmentation",
    seed: int = 0,
    device: str = "auto",
    batch_size: int = 4,
    resume: bool = False,
    overwrite: bool = False,
    client: Any = None,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> PredictionRun:
    """Segment ``ws`` with ``model`` as ``recipe`` says: ``predictions/<run>`` (default: the
    model's name), then ``labels/<labels>`` by the recipe's post-processing (MAP labels are
    written during the prediction itself). ``labels`` None writes probabilities only."""
    from stratoseg.inference import segment_workspace
    from stratoseg.postprocess import postprocess_workspace

    method = None if labels is None else recipe.method
    during = method == "map" and not recipe.params  # MAP labels come with the prediction
    if (
        labels is not None
        and method is not None
        and not during
        and ws.labels_in_use(labels)
        and not overwrite
    ):
        raise FileExistsError(
            f"labels {labels!r} already exist in {ws.path} (pass overwrite to replace them)"
        )
    out = segment_workspace(
        ws, model, run=run, labels=labels if during else None, seed=seed, device=device,
        batch_size=batch_size, resume=resume, overwrite=overwrite, client=client,
        progress=progress, should_stop=should_stop, **recipe.options,
    )  # fmt: skip
    if method is not None and not during:
        assert labels is not None
        postprocess_workspace(
            ws, run or recipe.model, method, labels=labels, overwrite=overwrite, client=client,
            progress=progress, should_stop=should_stop, **recipe.params,
        )  # fmt: skip
    return out
