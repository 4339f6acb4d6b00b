"""Training data: reviewed regions found chunk by chunk, split by unit, sampled; unreviewed
labels change nothing."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
import zarr

from stratoseg.inference import InputReader
from stratoseg.synthetic import make_cells, make_composite
from stratoseg.training import TrainingData, make_loss, reviewed_groups

IMAGE = [SimpleNamespace(source="image")]
NORM = SimpleNamespace(kind="percentile", low=1, high=99)


def composite() -> tuple[np.ndarray, np.ndarray]:
    vol = make_composite((12, 96, 96), seed=4)
    return np.asarray(vol.image), np.asarray(vol.labels)


def data(image: np.ndarray, labels: Any, reviewed: Any, **kwargs: Any) -> TrainingData:
    reader = InputReader(image, IMAGE, NORM, (1.0, 1.0, 1.0))
    kwargs.setdefault("target", "semantic")
    kwargs.setdefault("num_classes", 3)
    kwargs.setdefault("window", (1, 32, 32))
    kwargs.setdefault("context_axis", True)
    return TrainingData(reader, labels, reviewed, **kwargs)


def test_reviewed_groups_from_the_chunks_that_hold_reviewed_voxels(tmp_path: Path) -> None:
    mask = zarr.create_array(store=str(tmp_path / "m"), shape=(8, 64, 64), chunks=(4, 16, 16),
                             dtype="uint8", fill_value=0)  # fmt: skip
    mask[1, 3:20, 5:9] = 1  # two chunks side by side: one group
    mask[6, 40:42, 50:60] = 1  # far away: another
    assert reviewed_groups(mask) == [
        (slice(1, 2), slice(3, 20), slice(5, 9)),
        (slice(6, 7), slice(40, 42), slice(50, 60)),
    ]
    assert reviewed_groups(np.zeros((4, 4), np.uint8)) == []


def test_five_reviewed_slices_split_by_slice_and_never_shared() -> None:
    image, labels = composite()
    reviewed = np.zeros(labels.shape, np.uint8)
    reviewed[[1, 3, 5, 7, 9]] = 1
    d = data(image, labels, reviewed, val_fraction=0.2, seed=3)
    train = np.zeros(labels.shape, bool)
    val = np.zeros(labels.shape, bool)
    for g in d.groups:
        train[g.region] |= g.train
        val[g.region] |= g.val
    assert not (train & val).any()
    np.testing.assert_array_equal(train | val, reviewed.astype(bool))
    assert sorted(np.flatnonzero(val.any(axis=(1, 2))).tolist()) in ([1], [3], [5], [7], [9])
    assert d.val_voxels == 96 * 96
    assert d.train_voxels == 4 * 96 * 96


def test_a_single_reviewed_box_is_cut_across_its_longest_axis() -> None:
    image, labels = composite()
    reviewed = np.zeros(labels.shape, np.uint8)
    reviewed[4, 10:30, 0:90] = 1  # longest along x
    d = data(image, labels, reviewed, val_fraction=0.25)
    (g,) = d.groups
    xs_train = np.nonzero(g.train)[2] + g.region[2].start
    xs_val = np.nonzero(g.val)[2] + g.region[2].start
    assert xs_train.max() < xs_val.min()
    assert d.val_voxels / (d.val_voxels + d.train_voxels) == pytest.approx(0.25, abs=0.02)


@pytest.mark.parametrize("weights", ["none", "balance", "unet", "w3"])
def test_labels_outside_the_reviewed_voxels_change_no_gradient(weights: str) -> None:
    cells = make_cells((6, 64, 64), seed=1)
    image, instances = np.asarray(cells.image), np.asarray(cells.labels).astype(np.int32)
    reviewed = np.zeros(instances.shape, np.uint8)
    reviewed[2, 8:56, 8:56] = 1
    reviewed[4] = 1
    planted = instances.copy()
    outside = reviewed == 0
    planted[outside] = np.random.default_rng(0).integers(0, 50, int(outside.sum()))
    grads = []
    for lab in (instances, planted):
        d = data(image, lab, reviewed, target="touching", window=(1, 32, 32), weights=weights,
                 val_fraction=0.0)  # fmt: skip
        batch = d.sample(6, np.random.default_rng(5))
        torch.manual_seed(0)
        logits = torch.randn(6, 3, 32, 32, requires_grad=True)
        target, mask = torch.from_numpy(batch.target), torch.from_numpy(batch.mask)
        loss = make_loss("ce")(logits, target, mask, torch.from_numpy(batch.weight))
        loss.backward()
        assert logits.grad is not None
        grads.append(logits.grad.clone())
    assert torch.equal(grads[0], grads[1])


def test_rare_classes_are_found_and_sampled() -> None:
    image, labels = composite()
    reviewed = np.ones(labels.shape, np.uint8)
    d = data(image, labels, reviewed, rare_share=1.0, val_fraction=0.0)
    assert d.rare_classes == [2]  # pores: a few percent of the voxels
    batch = d.sample(16, np.random.default_rng(0))
    assert all((t == 2).any() for t in batch.target)  # every patch holds a pore voxel
    plain = data(image, labels, reviewed, rare_share=0.0, val_fraction=0.0)
    share = np.mean([(t == 2).mean() for t in plain.sample(16, np.random.default_rng(0)).target])
    rare = np.mean([(t == 2).mean() for t in batch.target])
    assert rare > 1.5 * share  # 9.6 % against 5.3 % here


def test_a_25d_window_gives_context_slices_and_the_central_target() -> None:
    image, labels = composite()
    reviewed = np.zeros(labels.shape, np.uint8)
    reviewed[0] = 1  # the first slice: its context below the volume is edge-extended
    d = data(image, labels, reviewed, window=(3, 32, 32), val_fraction=0.0)
    batch = d.sample(2, np.random.default_rng(1))
    assert batch.x.shape == (2, 1, 3, 32, 32)
    assert batch.target.shape == (2, 32, 32)
    np.testing.assert_array_equal(batch.x[:, :, 0], batch.x[:, :, 1])  # slice -1 = slice 0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"reviewed": "none"}, ValueError, "no reviewed voxels"),
        ({"window": (1, 128, 32)}, ValueError, r"patch \(1, 128, 32\) is larger than the volume"),
        ({"num_classes": 2}, ValueError, r"labels hold class \[2\] but the target has 2 classes"),
        ({"target": "touching-gap"}, ValueError, "has 4 classes .* the network predicts 3"),
        ({"val_fraction": 1.0}, ValueError, r"val_fraction must be in \[0, 0.9\]"),
    ],
)
def test_bad_training_data(kwargs: dict[str, Any], error: type, message: str) -> None:
    image, labels = composite()
    reviewed = np.zeros(labels.shape, np.uint8)
    reviewed[3] = 1
    if kwargs.pop("reviewed", None) == "none":
        reviewed[:] = 0
    with pytest.raises(error, match=message):
        data(image, labels, reviewed, **kwargs)


def test_a_2d_network_on_a_stack_makes_its_targets_and_units_slice_by_slice() -> None:
    """A 2-D network sees one slice: two different objects on the same pixels of adjacent
    slices (a stack of unrelated images) do not touch, and each slice is its own unit."""
    labels = np.zeros((4, 32, 32), np.uint32)
    labels[:, 8:20, 8:20] = np.arange(1, 5)[:, None, None]  # a new object on every slice
    labels[2, 8:20, 20:28] = 9  # touches object 3 within slice 2 only
    image = (labels > 0).astype(np.float32)
    reviewed = np.ones(labels.shape, np.uint8)
    d = data(image, labels, reviewed, target="touching", window=(1, 16, 16), val_fraction=0.25)
    target = np.zeros(labels.shape, np.uint8)
    val = np.zeros(labels.shape, bool)
    for g in d.groups:
        target[g.region] = g.target
        val[g.region] |= g.val
    touching = np.flatnonzero((target == 2).any(axis=(1, 2))).tolist()
    assert touching == [2]  # stacked in 3-D, every slice would touch its neighbours
    assert int((target[2] == 2).sum()) == 2 * 12  # one pixel each side of the contact
    assert val.any(axis=(1, 2)).sum() == 1
    assert val[val.any(axis=(1, 2))].all()
    # a 2.5D network sees the neighbours: its target stays 3-D
    d3 = data(image, labels, reviewed, target="touching", window=(3, 16, 16))
    assert sum(int((g.target == 2).sum()) for g in d3.groups) > 4 * 12 * 12


def test_two_reviewed_slices_of_a_2d_network_keep_the_validation_share() -> None:
    """Each slice is a unit for a 2-D network; with two of them a whole slice would be half
    the data, so the larger one is cut across its long axis at the share instead."""
    image, labels = composite()
    reviewed = np.zeros(labels.shape, np.uint8)
    reviewed[[4, 5]] = 1
    d = data(image, labels, reviewed, val_fraction=0.2)
    share = d.val_voxels / (d.val_voxels + d.train_voxels)
    assert share == pytest.approx(0.2, abs=0.02)
