"""Metrics on real ground truth from ../shared/data (skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from stratoseg.io import open_volume
from stratoseg.metrics import evaluate, segments_from_boundaries, v_rand

pytestmark = pytest.mark.shared_data


def test_isbi_ground_truth_scores_itself_and_its_thinned_boundaries(shared_data: Path) -> None:
    labels = np.asarray(open_volume(shared_data / "isbi2012" / "train-labels.tif").data[0])
    membrane = labels == 0  # the challenge's convention: 255 = cell interior, 0 = membrane
    gt, n = ndi.label(~membrane, structure=ndi.generate_binary_structure(2, 1))
    assert n > 100
    assert v_rand(gt, gt).score == 1.0
    thinned = segments_from_boundaries(membrane, thin=True)
    assert (thinned == 0).sum() < membrane.sum()  # thinner boundaries ...
    assert len(np.unique(thinned)) - 1 == n  # ... and not one region merged or lost
    # the freed voxels lie on the ground-truth membrane, which V_Rand does not score
    assert v_rand(thinned, gt).score == 1.0


def test_fibsem_instances_against_a_shifted_copy(shared_data: Path) -> None:
    gt = np.asarray(
        open_volume(shared_data / "fibsem-medulla-250" / "groundtruth.tif").data[:64, :128, :128]
    )
    same = evaluate(gt, gt, metrics=["voi", "pq", "bf1"])
    assert same["voi"]["total"] == 0.0
    assert same["pq"]["pq"] == 1.0
    shifted = evaluate(np.roll(gt, 2, axis=2), gt, metrics=["voi", "arand", "pq", "bf1"])
    assert 0 < shifted["voi"]["total"] < 2
    assert 0 < shifted["pq"]["pq"] < 1
    assert shifted["bf1"]["f1"] > 0.9  # a 2-voxel shift is within the default tolerance
