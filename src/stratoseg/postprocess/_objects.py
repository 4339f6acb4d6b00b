"""Per-object statistics of a label image, read chunk by chunk: size, centre, uncertainty,
reviewed share; and the order in which the Correct widget visits objects."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ORDERS", "ObjectTable", "object_table"]

#: How objects can be visited: smallest first, most uncertain first, not yet reviewed first.
ORDERS = ("size", "uncertainty", "unreviewed")


@dataclass(frozen=True)
class ObjectTable:
    """One row per object (id > 0): ``ids``, ``sizes`` (voxels), ``centres`` (voxel
    coordinates, the mean position), ``uncertainty`` (mean normalised entropy of the class
    probabilities over the object, NaN without probabilities) and ``reviewed`` (share of the
    object's voxels in the reviewed mask)."""

    ids: np.ndarray
    sizes: np.ndarray
    centres: np.ndarray
    uncertainty: np.ndarray
    reviewed: np.ndarray

    def order(self, by: str) -> np.ndarray:
        """Row indices in visiting order ``by`` (one of :data:`ORDERS`)."""
        if by == "size":
            return np.argsort(self.sizes, kind="stable")
        if by == "uncertainty":
            return np.argsort(-np.nan_to_num(self.uncertainty, nan=-1.0), kind="stable")
        if by == "unreviewed":
            rows = np.flatnonzero(self.reviewed < 1.0)
            return rows[np.argsort(-self.sizes[rows], kind="stable")]
        raise ValueError(f"order must be one of {ORDERS}, got {by!r}")


def _entropy(p: np.ndarray) -> np.ndarray:
    """Normalised entropy ``-sum_c p_c log p_c / log C`` over the first axis."""
    z = np.clip(p, 1e-7, 1.0)
    return -(z * np.log(z)).sum(axis=0) / np.log(p.shape[0])


def object_table(labels: Any, *, probs: Any = None, reviewed: Any = None) -> ObjectTable:
    """The :class:`ObjectTable` of ``labels`` (a zarr or numpy array), read chunk by chunk.

    ``probs`` (``(C, *spatial)``, uint8 0-255 or float) gives the uncertainty; ``reviewed``
    (a mask on the same grid) the reviewed share.
    """
    shape = tuple(int(s) for s in labels.shape)
    chunks = tuple(int(c) for c in getattr(labels, "chunks", shape))
    sums: dict[str, list[np.ndarray]] = {k: [] for k in ("ids", "n", "c", "h", "r")}
    for origin in itertools.product(*(range(0, s, c) for s, c in zip(shape, chunks, strict=True))):
        box = tuple(slice(o, min(o + c, s)) for o, c, s in zip(origin, chunks, shape, strict=True))
        block = np.asarray(labels[box])
        if not block.any():
            continue
        ids, inv = np.unique(block, return_inverse=True)
        inv = inv.reshape(-1)
        n = np.bincount(inv, minlength=len(ids)).astype(np.float64)
        pos = np.indices(block.shape).reshape(block.ndim, -1) + np.array(origin)[:, None]
        c = np.stack([np.bincount(inv, weights=p, minlength=len(ids)) for p in pos], axis=1)
        h: np.ndarray = np.zeros(len(ids))
        if probs is not None:
            z = np.asarray(probs[tuple([slice(None), *box])])
            z = z.astype(np.float32) / 255.0 if z.dtype == np.uint8 else z.astype(np.float32)
            h = np.bincount(inv, weights=_entropy(z).reshape(-1), minlength=len(ids))
        r: np.ndarray = np.zeros(len(ids))
        if reviewed is not None:
            mask = (np.asarray(reviewed[box]) > 0).reshape(-1).astype(np.float64)
            r = np.bincount(inv, weights=mask, minlength=len(ids))
        for key, value in zip(["ids", "n", "c", "h", "r"], (ids, n, c, h, r), strict=True):
            sums[key].append(value)
    if not sums["ids"]:
        empty = np.zeros(0)
        return ObjectTable(empty.astype(np.int64), empty, np.zeros((0, len(shape))), empty, empty)
    all_ids = np.concatenate(sums["ids"])
    ids, inv = np.unique(all_ids, return_inverse=True)

    def total(key: str) -> np.ndarray:
        values = np.concatenate(sums[key])
        if values.ndim == 1:
            return np.bincount(inv, weights=values, minlength=len(ids))
        return np.stack([np.bincount(inv, weights=v, minlength=len(ids)) for v in values.T], 1)

    n, keep = total("n"), ids > 0
    table = ObjectTable(
        ids=ids[keep].astype(np.int64),
        sizes=n[keep],
        centres=(total("c") / n[:, None])[keep],
        uncertainty=(total("h") / n)[keep] if probs is not None else np.full(keep.sum(), np.nan),
        reviewed=(total("r") / n)[keep],
    )
    return table
