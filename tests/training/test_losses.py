"""Losses: values on tiny tensors worked by hand, gradient checks, masked voxels ignored."""

from __future__ import annotations

import math

import pytest
import torch

from stratoseg.training import LOSSES, make_loss


def _half() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # two pixels, z = 0.5 everywhere, targets 0 and 1
    return torch.zeros(1, 2, 1, 2), torch.tensor([[[0, 1]]]), torch.ones(1, 1, 2)


def _skewed() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # z_0 = (0.8, 0.3), z_1 = (0.2, 0.7); targets 0 and 1
    logits = torch.zeros(1, 2, 1, 2, dtype=torch.float64)
    logits[0, 0, 0] = torch.tensor([math.log(4.0), math.log(3 / 7)], dtype=torch.float64)
    return logits, torch.tensor([[[0, 1]]]), torch.ones(1, 1, 2, dtype=torch.float64)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ce", math.log(2)),
        ("focal", 0.25 * math.log(2)),
        ("jaccard", 2 / 3),  # 1 - 0.5 / (1 + 1 - 0.5) per class
        ("jaccard2", 0.5),  # 1 - 0.5 / (1 + 0.5 - 0.5)
        ("dice", 0.5),  # 1 - 2 * 0.5 / 2
        ("ce-youden", 2 * math.log(2)),  # CE + the two pairs' -log(1/2), lambda = 1 / 2 each
        ("ce-jaccard", math.log(2) + 2 / 3),
    ],
)
def test_loss_values_at_one_half(name: str, expected: float) -> None:
    assert float(make_loss(name)(*_half())) == pytest.approx(expected, rel=1e-5)


def test_loss_values_on_a_skewed_prediction() -> None:
    logits, target, mask = _skewed()
    ce = -(math.log(0.8) + math.log(0.7)) / 2
    assert float(make_loss("ce")(logits, target, mask)) == pytest.approx(ce)
    # eq 5.3: both pairs give 1/2 + 0.8/2 - 0.3/2 = 0.75 and 1/2 - 0.2/2 + 0.7/2 = 0.75
    assert float(make_loss("ce-youden")(logits, target, mask)) == pytest.approx(ce - math.log(0.75))
    # Jaccard class 0: 0.8 / (1 + 1.1 - 0.8); class 1: 0.7 / (1 + 0.9 - 0.7)
    eps = 1e-6  # Decencière's epsilon, in the denominators
    j = 1 - (0.8 / (1.3 + eps) + 0.7 / (1.2 + eps)) / 2
    assert float(make_loss("jaccard")(logits, target, mask)) == pytest.approx(j, rel=1e-9)
    # weighted CE: pixel weights 3 and 1, normalised by the counted voxels (2)
    w = torch.tensor([[[3.0, 1.0]]], dtype=torch.float64)
    wce = -(3 * math.log(0.8) + math.log(0.7)) / 2
    assert float(make_loss("ce")(logits, target, mask, w)) == pytest.approx(wce)
    # masked: only the first pixel counts
    m = torch.tensor([[[1.0, 0.0]]], dtype=torch.float64)
    assert float(make_loss("ce")(logits, target, m)) == pytest.approx(-math.log(0.8))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradients_match_finite_differences(name: str) -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 3, (2, 4, 4))
    mask = (torch.rand(2, 4, 4) > 0.3).double()
    weight = torch.rand(2, 4, 4, dtype=torch.float64) + 0.5
    loss = make_loss(name)
    assert torch.autograd.gradcheck(lambda x: loss(x, target, mask, weight), (logits,))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_unreviewed_voxels_never_influence_the_loss(name: str) -> None:
    torch.manual_seed(1)
    logits = torch.randn(2, 3, 6, 6, requires_grad=True)
    target = torch.randint(0, 3, (2, 6, 6))
    mask = torch.zeros(2, 6, 6)
    mask[:, 1:4, 2:5] = 1
    wrong = target.clone()
    wrong[mask == 0] = (target[mask == 0] + 1) % 3  # planted wrong labels outside the mask
    weight = torch.rand(2, 6, 6) + 0.5
    loss = make_loss(name)
    grads = []
    for t in (target, wrong):
        logits.grad = None
        value = loss(logits, t, mask, weight)
        value.backward()
        grads.append((value.detach().clone(), logits.grad.clone()))
    assert torch.equal(grads[0][0], grads[1][0])
    assert torch.equal(grads[0][1], grads[1][1])
    assert (grads[0][1][:, :, 0] == 0).all()  # and no gradient reaches them at all


def test_loss_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="loss must be one of"):
        make_loss("l2")
    with pytest.raises(ValueError, match=r"takes parameters \['gamma'\], got \['alpha'\]"):
        make_loss("focal", alpha=1)
    with pytest.raises(ValueError, match="does not match logits"):
        make_loss("ce")(
            torch.zeros(1, 2, 3, 3), torch.zeros(1, 4, 4, dtype=torch.long), torch.ones(1, 4, 4)
        )
