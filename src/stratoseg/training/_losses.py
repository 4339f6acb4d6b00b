"""Losses for segmentation training, chosen by name (Guerrero Peña eqs 2.5-2.8, 5.3;
Decencière's Jaccard losses j and j2).

Every loss is called as ``loss(logits, target, mask, weight=None)``:

- ``logits``: ``(N, C, *spatial)`` network output (before the softmax);
- ``target``: ``(N, *spatial)`` int64 classes;
- ``mask``: ``(N, *spatial)`` float, 1 where a voxel counts (reviewed, in the training split),
  0 elsewhere. Voxels with mask 0 never reach the value or the gradient: their labels are
  multiplied by 0 before any sum (the test plants wrong labels there and compares gradients);
- ``weight``: optional ``(N, *spatial)`` weight map (``training._weights``), used by the
  cross-entropy family; region losses use the mask only.

Sums run over the whole batch (all patches as one region); a class with no counted voxel in the
batch is left out of the region losses' class mean.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["LOSSES", "Loss", "make_loss"]

Loss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


def _one_hot(target: torch.Tensor, classes: int, mask: torch.Tensor) -> torch.Tensor:
    """``y_l(p) * mask(p)`` as ``(N, C, *spatial)`` float."""
    y = F.one_hot(target.clamp(0, classes - 1), classes).movedim(-1, 1).to(mask.dtype)
    return y * mask.unsqueeze(1)


def _check(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> None:
    if logits.ndim < 3 or target.shape != logits.shape[:1] + logits.shape[2:]:
        raise ValueError(
            f"target shape {tuple(target.shape)} does not match logits {tuple(logits.shape)} "
            "(expected logits (N, C, *spatial) and target (N, *spatial))"
        )
    if mask.shape != target.shape:
        raise ValueError(
            f"mask shape {tuple(mask.shape)} differs from target {tuple(target.shape)}"
        )


def _real(t: torch.Tensor) -> torch.Tensor:
    """Half-precision logits are computed in float32; float32 and float64 stay as they are."""
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


def _sum_spatial(t: torch.Tensor) -> torch.Tensor:
    """Sum over the batch and the spatial axes of ``(N, C, *spatial)``: one value per class."""
    return t.transpose(0, 1).reshape(t.shape[1], -1).sum(dim=1)


def cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    gamma: float = 0.0,
) -> torch.Tensor:
    """Weighted cross-entropy (eqs 2.5, 2.6), focal when ``gamma > 0`` (eq 2.8, gamma = 2).

    ``-(1 / sum m) sum_p sum_l (1 - z_l)^gamma w(p) m(p) y_l(p) log z_l(p)``, normalised by the
    number of counted voxels ``sum m`` rather than ``|Omega|``, so that unreviewed voxels do
    not dilute it.
    """
    _check(logits, target, mask)
    logz = F.log_softmax(_real(logits), dim=1)
    m = mask.to(logz.dtype)
    y = _one_hot(target, logits.shape[1], m)
    w = y if weight is None else y * weight.to(logz.dtype).unsqueeze(1)
    term = w * logz
    if gamma:
        term = term * (1 - logz.exp()) ** gamma
    return -term.sum() / m.sum().clamp_min(1.0)


def _region(
    logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Softmax ``z`` and one-hot ``y``, both zero outside the mask, and which classes the
    counted voxels hold."""
    _check(logits, target, mask)
    z = F.softmax(_real(logits), dim=1)
    m = mask.to(z.dtype)
    z = z * m.unsqueeze(1)
    y = _one_hot(target, logits.shape[1], m)
    present = _sum_spatial(y) > 0
    return z, y, present


def jaccard(
    logits: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    eps: float = 1e-6,
    squared: bool = False,
) -> torch.Tensor:
    """Soft Jaccard loss j (Decencière), or j2 with ``squared``, averaged over the classes.

    ``j = 1 - sum y z / (sum y + sum z - sum y z + eps)``;
    ``j2 = 1 - sum y z / (sum y^2 + sum z^2 - sum y z + eps)``, per class over the counted
    voxels.
    """
    z, y, present = _region(logits, target, mask)
    inter = _sum_spatial(y * z)
    if squared:
        union = _sum_spatial(y * y) + _sum_spatial(z * z) - inter
    else:
        union = _sum_spatial(y) + _sum_spatial(z) - inter
    per_class = 1 - inter / (union + eps)
    return per_class[present].mean() if present.any() else per_class.sum() * 0


def dice(
    logits: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Soft Dice loss ``1 - 2 sum y z / (sum y + sum z + eps)``, averaged over the classes."""
    z, y, present = _region(logits, target, mask)
    per_class = 1 - 2 * _sum_spatial(y * z) / (_sum_spatial(y) + _sum_spatial(z) + eps)
    return per_class[present].mean() if present.any() else per_class.sum() * 0


def youden(
    logits: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    lam: float = 1.0,
) -> torch.Tensor:
    """The Youden J regularisation term (eq 5.3).

    ``L_J = -sum_i sum_k lambda_ik log[1/2 + sum_p z_i(p) (y_i(p) / (2 n_i) - y_k(p) / (2 n_k))]``
    with ``lambda_ik = lam / (C (C - 1))`` for ``i != k`` (the terms with ``i = k`` are the
    constant ``log 1/2``), over the pairs of classes present in the batch.
    """
    z, y, present = _region(logits, target, mask)
    n = _sum_spatial(y)
    c = logits.shape[1]
    total = z.sum() * 0
    pairs = 0
    yn = y / (2 * n.clamp_min(1.0)).view(1, -1, *([1] * (y.ndim - 2)))
    for i in range(c):
        for k in range(c):
            if i == k or not (present[i] and present[k]):
                continue
            inner = 0.5 + (z[:, i] * (yn[:, i] - yn[:, k])).sum()
            total = total - torch.log(inner.clamp_min(1e-12))
            pairs += 1
    return total * (lam / (c * (c - 1))) if pairs else total


def ce_youden(
    logits: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    weight: torch.Tensor | None = None,
    *,
    lam: float = 1.0,
) -> torch.Tensor:
    """``L = L_CE + L_J`` (§5.2.2, eq 5.3): cross-entropy with the Youden regularisation."""
    return cross_entropy(logits, target, mask, weight) + youden(logits, target, mask, lam=lam)


#: name -> (function, its parameters and defaults, whether it uses the weight map)
LOSSES: dict[str, tuple[Callable[..., torch.Tensor], dict[str, float], bool]] = {
    "ce": (cross_entropy, {}, True),
    "focal": (cross_entropy, {"gamma": 2.0}, True),
    "jaccard": (jaccard, {"eps": 1e-6}, False),
    "jaccard2": (lambda *a, **k: jaccard(*a, squared=True, **k), {"eps": 1e-6}, False),
    "dice": (dice, {"eps": 1e-6}, False),
    "ce-youden": (ce_youden, {"lam": 1.0}, True),
    "ce-jaccard": (
        lambda lg, t, m, w=None, eps=1e-6: cross_entropy(lg, t, m, w) + jaccard(lg, t, m, eps=eps),
        {"eps": 1e-6},
        True,
    ),
}


def make_loss(name: str, **params: Any) -> Loss:
    """The loss ``name`` (a key of :data:`LOSSES`) with ``params`` (checked against its own).

    Examples
    --------
    >>> loss = make_loss("focal", gamma=1.0)
    >>> logits = torch.zeros(1, 2, 1, 2); target = torch.tensor([[[0, 1]]])
    >>> round(float(loss(logits, target, torch.ones(1, 1, 2))), 4)  # (1 - 1/2) * log 2
    0.3466
    """
    if name not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {name!r}")
    fn, defaults, _ = LOSSES[name]
    unknown = set(params) - set(defaults)
    if unknown:
        raise ValueError(
            f"loss {name!r} takes parameters {sorted(defaults) or 'none'}, got {sorted(unknown)}"
        )
    full = {**defaults, **params}

    def loss(
        logits: torch.Tensor,
        target: torch.Tensor,
        mask: torch.Tensor,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return fn(logits, target, mask, weight, **full)

    return loss
