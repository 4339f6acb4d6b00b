"""What training reads: the reviewed parts of a label image, split, loaded and sampled.

- **Reviewed units.** The reviewed mask is scanned chunk by chunk (chunks never written cost
  nothing); storage chunks holding reviewed voxels are grouped by adjacency, each group is
  loaded once (its bounding box plus what the windows around its voxels reach), and its
  reviewed voxels split into connected components: the *units*.
- **Train / validation split by unit.** Units are shuffled with the seed and put in the
  validation set until it holds ``val_fraction`` of the reviewed voxels; a single unit (or the
  largest, when every unit is more than twice that share) is cut by a plane across its longest
  axis instead. A voxel is in one set only.
- **A 2-D network on a stack sees one slice**: its targets, weights and units are made slice
  by slice (a stack of unrelated images must not make objects on adjacent slices touch);
  2.5D and 3-D networks see the neighbours and get 3-D targets.
- **Unreviewed voxels count for nothing.** Their labels are set to 0 before the target is
  made, and they have mask 0: labels there can change neither the target nor the weights of
  reviewed voxels beyond what "unknown, taken as background" gives, nor reach the loss.
- **The input is what inference sees**: the same :class:`~stratoseg.inference.InputReader`
  (normalisation over the whole volume, enhancement channels, edge extension, 2.5D context).
- **Sampling**: a share of the patches is centred (with a jitter of a quarter patch) on a
  voxel of a rare class (a class with less than ``1/K`` of the training voxels: pores,
  touching, gap), the rest on any training voxel; deterministic for a given generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import dask.array as da
import numpy as np
from scipy import ndimage as ndi

from stratoseg.inference._block import read_extended
from stratoseg.training._targets import TARGETS, make_target
from stratoseg.training._weights import make_weights

__all__ = ["Batch", "Group", "TrainingData", "reviewed_groups"]

#: Voxel positions kept per group and per class for drawing patch centres (a random subset).
_MAX_POSITIONS = 2**22


def reviewed_groups(reviewed: Any) -> list[tuple[slice, ...]]:
    """Bounding boxes of the adjacent groups of storage chunks that hold reviewed voxels.

    Examples
    --------
    >>> m = np.zeros((4, 8, 8), np.uint8); m[1, 0:2, 0:2] = 1; m[3, 6:8, 6:8] = 1
    >>> reviewed_groups(da.from_array(m, chunks=(1, 4, 4)))
    [(slice(1, 2, None), slice(0, 2, None), slice(0, 2, None)), \
(slice(3, 4, None), slice(6, 8, None), slice(6, 8, None))]
    """
    if isinstance(reviewed, da.Array):
        lazy = reviewed
    else:
        chunks = getattr(reviewed, "chunks", None) or reviewed.shape
        lazy = da.from_array(reviewed, chunks=chunks, inline_array=True)
    any_in_chunk = da.map_blocks(
        lambda b: np.asarray(b).any().reshape((1,) * b.ndim),
        lazy,
        chunks=tuple((1,) * len(c) for c in lazy.chunks),
        dtype=bool,
    )
    grid = np.asarray(any_in_chunk.compute())
    components, count = ndi.label(grid, structure=np.ones((3,) * grid.ndim))
    edges = [np.concatenate([[0], np.cumsum(c)]) for c in lazy.chunks]
    boxes = []
    for box in ndi.find_objects(components)[:count]:
        assert box is not None
        outer = tuple(
            slice(int(e[s.start]), int(e[s.stop])) for s, e in zip(box, edges, strict=True)
        )
        inside = np.asarray(lazy[outer].compute(), dtype=bool)
        tight = ndi.find_objects(inside.astype(np.uint8))[0]
        assert tight is not None
        boxes.append(
            tuple(
                slice(o.start + t.start, o.start + t.stop)
                for o, t in zip(outer, tight, strict=True)
            )
        )
    return boxes


@dataclass
class Group:
    """One loaded region: input, target, weights, and which voxels train or validate.

    Attributes
    ----------
    region : tuple of slice
        Volume coordinates of the loaded arrays (the context axis may reach outside the
        volume: edge-extended).
    inputs : NetworkInput or ndarray
        ``(C, *region)`` network input.
    target : (*region) uint8
        Classes (0 outside the reviewed voxels).
    train, val : (*region) bool
        The voxels each set scores.
    weights : (*region) float32 or None
        The weight map for training voxels (geometric maps only).
    positions, rare : ndarray of int64
        Flat indices of training voxels (all, and per rare class), a random subset at most
        ``2**22`` long.
    instances : (*region) ndarray or None
        The label image's objects on reviewed voxels (instance targets only), for scoring
        the validation voxels object by object.
    """

    region: tuple[slice, ...]
    inputs: Any
    target: np.ndarray
    train: np.ndarray
    val: np.ndarray
    weights: np.ndarray | None = None
    positions: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    rare: dict[int, np.ndarray] = field(default_factory=dict)
    instances: np.ndarray | None = None


@dataclass
class Batch:
    """Patches for one step: ``x`` ``(B, C, *window)`` float32 (a 2.5D window keeps its
    context axis), ``target`` ``(B, *out)`` int64, ``mask`` and ``weight`` ``(B, *out)``
    float32 (``out``: the window without a context axis)."""

    x: np.ndarray
    target: np.ndarray
    mask: np.ndarray
    weight: np.ndarray


def _span(lo: int, hi: int, window: int, n: int, jitter: int, context: bool) -> tuple[int, int]:
    """The extent of every window centred (give or take ``jitter``) on ``[lo, hi)``: windows
    stay inside ``[0, n)`` on spatial axes; a context axis is edge-extended instead."""
    if context:
        return lo - window // 2, hi - 1 - window // 2 + window
    start = [min(max(c - window // 2, 0), n - window) for c in (lo - jitter, hi - 1 + jitter)]
    return start[0], start[1] + window


class TrainingData:
    """Patches of the reviewed voxels of a label image, for training and validation.

    Parameters
    ----------
    reader : InputReader
        The network input of any region (see :func:`stratoseg.inference._prepare.prepare`).
    labels, reviewed : array-like, (Z, Y, X) or (Y, X)
        The label image and its reviewed mask (zarr, dask or numpy).
    target : str
        A key of :data:`~stratoseg.training.TARGETS`; ``target_params`` go to it.
    num_classes : int
        The network's output classes (the target's classes must fit).
    window : sequence of int
        Patch size per volume axis: for a 2-D network on a volume ``(context, P, P)``.
    context_axis : bool
        Whether the first axis is a context axis (2-D and 2.5D networks on a volume).
    weights : str
        A key of :data:`~stratoseg.training.WEIGHTS`; ``weight_params`` go to it.
    val_fraction : float
        Share of the reviewed voxels kept for validation, in [0, 0.9].
    rare_share : float
        Share of patches centred on a rare-class voxel, in [0, 1].
    seed : int
        Fixes the split and the subsets of positions.
    """

    def __init__(
        self,
        reader: Any,
        labels: Any,
        reviewed: Any,
        *,
        target: str,
        num_classes: int,
        window: Sequence[int],
        context_axis: bool,
        target_params: dict[str, Any] | None = None,
        weights: str = "none",
        weight_params: dict[str, Any] | None = None,
        val_fraction: float = 0.2,
        rare_share: float = 0.5,
        seed: int = 0,
    ) -> None:
        shape = tuple(int(n) for n in labels.shape)
        if tuple(reviewed.shape) != shape or tuple(reader.data.shape) != shape:
            raise ValueError(
                f"image {tuple(reader.data.shape)}, labels {shape} and reviewed mask "
                f"{tuple(reviewed.shape)} must have one shape"
            )
        if target not in TARGETS:
            raise ValueError(f"target must be one of {sorted(TARGETS)}, got {target!r}")
        if not 0 <= val_fraction <= 0.9:
            raise ValueError(f"val_fraction must be in [0, 0.9], got {val_fraction}")
        if not 0 <= rare_share <= 1:
            raise ValueError(f"rare_share must be in [0, 1], got {rare_share}")
        self.window = tuple(int(w) for w in window)
        self.context_axis = bool(context_axis)
        #: a 2-D network on a volume: targets, weights and units slice by slice
        self.slice_wise = self.context_axis and self.window[0] == 1
        if len(self.window) != len(shape):
            raise ValueError(f"window {self.window} must give each of the {len(shape)} axes")
        for axis, (w, n) in enumerate(zip(self.window, shape, strict=True)):
            if w > n and not (axis == 0 and self.context_axis):
                raise ValueError(
                    f"patch {self.window} is larger than the volume {shape} along axis {axis}; "
                    f"choose a patch of at most {n}"
                )
        self.shape = shape
        self.num_classes = int(num_classes)
        self.rare_share = float(rare_share)
        kind = TARGETS[target]
        if kind.classes is not None and len(kind.classes) != self.num_classes:
            raise ValueError(
                f"target {target!r} has {len(kind.classes)} classes ({', '.join(kind.classes)}) "
                f"but the network predicts {self.num_classes}"
            )
        boxes = reviewed_groups(reviewed)
        if not boxes:
            raise ValueError(
                "the labels have no reviewed voxels: mark the slices or boxes you checked as "
                "reviewed first"
            )
        jitter = [
            0 if (a == 0 and self.context_axis) else w // 4 for a, w in enumerate(self.window)
        ]
        self.groups: list[Group] = []
        # (group, voxels, bounding box in the group's region, mask in that box)
        components: list[tuple[int, int, tuple[slice, ...], np.ndarray]] = []
        for box in boxes:
            region = tuple(
                slice(*_span(s.start, s.stop, w, n, j, a == 0 and self.context_axis))
                for a, (s, w, n, j) in enumerate(zip(box, self.window, shape, jitter, strict=True))
            )
            lab = np.array(read_extended(labels, region))
            rev = np.asarray(read_extended(reviewed, region)).astype(bool)
            inside = np.zeros(rev.shape, bool)
            inside[
                tuple(
                    slice(s.start - r.start, s.stop - r.start)
                    for s, r in zip(box, region, strict=True)
                )
            ] = True
            rev &= inside  # the edge-extended margin is not reviewed twice
            if lab.dtype.kind not in "iub":
                raise TypeError(f"labels must hold integers, got dtype {lab.dtype}")
            lab[~rev] = 0
            h = self._per_slice(
                lambda a: make_target(target, a, num_classes=self.num_classes,
                                      **(target_params or {})), lab)  # fmt: skip
            if int(h.max()) >= self.num_classes:
                raise ValueError(
                    f"target {target!r} made class {int(h.max())} but the network predicts "
                    f"{self.num_classes} classes"
                )
            parts, _ = ndi.label(rev, structure=self._connectivity(rev.ndim))
            for k, box_k in enumerate(ndi.find_objects(parts), start=1):
                if box_k is not None:
                    part = parts[box_k] == k
                    components.append((len(self.groups), int(part.sum()), box_k, part))
            empty = np.zeros(rev.shape, bool)
            grp = Group(region, reader(region), h, empty, empty.copy())
            if kind.input_kind == "instances":
                grp.instances = lab
            self.groups.append(grp)
        self._split(components, val_fraction, seed)
        self._finish(weights, weight_params or {}, seed)

    # -- construction ----------------------------------------------------------------------
    def _split(
        self,
        components: list[tuple[int, int, tuple[slice, ...], np.ndarray]],
        val_fraction: float,
        seed: int,
    ) -> None:
        total = sum(n for _, n, _, _ in components)
        want = val_fraction * total
        smallest = min(n for _, n, _, _ in components)
        # one unit, or units so few that any one of them is more than twice the share (two
        # reviewed slices for a 2-D network): cut the largest across its long axis instead
        if val_fraction > 0 and (len(components) == 1 or smallest > 2 * want):
            largest = max(range(len(components)), key=lambda i: components[i][1])
            for i, (g, n, box, part) in enumerate(components):
                if i != largest:
                    self.groups[g].train[box] |= part
                    continue
                coords = np.nonzero(part)
                axis = int(np.argmax([int(c.max() - c.min()) for c in coords]))
                cut = np.quantile(coords[axis], 1 - min(want / n, 0.9))
                val = part & (np.indices(part.shape)[axis] >= cut)
                self.groups[g].val[box] |= val
                self.groups[g].train[box] |= part & ~val
            return
        order = np.random.default_rng(seed).permutation(len(components))
        taken = 0
        for rank, i in enumerate(order):
            g, n, box, part = components[int(i)]
            no_train_yet = not any(grp.train.any() for grp in self.groups)
            if taken < want and not (rank == len(order) - 1 and no_train_yet):
                self.groups[g].val[box] |= part
                taken += n
            else:
                self.groups[g].train[box] |= part

    def _finish(self, weights: str, weight_params: dict[str, Any], seed: int) -> None:
        counts = np.zeros(self.num_classes, np.int64)
        for grp in self.groups:
            counts += np.bincount(grp.target[grp.train], minlength=self.num_classes)[
                : self.num_classes
            ]
        self.train_voxels = int(counts.sum())
        self.val_voxels = int(sum(int(grp.val.sum()) for grp in self.groups))
        if self.train_voxels == 0:
            raise ValueError("no reviewed voxel is left for training: lower val_fraction")
        self.class_counts = counts
        share = counts / counts.sum()
        self.rare_classes = [
            k for k in range(self.num_classes) if 0 < share[k] < 1 / self.num_classes
        ]
        self.balance = np.divide(
            counts.sum(),
            counts * max(int((counts > 0).sum()), 1),
            out=np.zeros(self.num_classes),
            where=counts > 0,
        )
        self.weights_name = weights
        rng = np.random.default_rng(seed)
        for grp in self.groups:
            if weights not in ("none", "balance"):
                grp.weights = self._per_slice(
                    lambda h, m: make_weights(weights, h, mask=m, **weight_params),
                    grp.target, grp.train)  # fmt: skip
            grp.positions = _subset(np.flatnonzero(grp.train), rng)
            for k in self.rare_classes:
                grp.rare[k] = _subset(np.flatnonzero(grp.train & (grp.target == k)), rng)

    def _per_slice(self, fn: Any, *arrays: np.ndarray) -> np.ndarray:
        """``fn(*arrays)``, slice by slice along z for a 2-D network on a volume."""
        if not self.slice_wise or arrays[0].ndim != 3:
            return np.asarray(fn(*arrays))
        return np.stack([fn(*parts) for parts in zip(*arrays, strict=True)])

    def _connectivity(self, ndim: int) -> np.ndarray:
        """Face connectivity, within a slice only for a 2-D network on a volume."""
        structure = ndi.generate_binary_structure(ndim, 1)
        if self.slice_wise and ndim == 3:
            structure[[0, 2]] = False
        return structure

    # -- sampling --------------------------------------------------------------------------
    @property
    def out_window(self) -> tuple[int, ...]:
        """The target's patch shape (the window without a context axis)."""
        return self.window[1:] if self.context_axis else self.window

    def sample(self, batch: int, rng: np.random.Generator) -> Batch:
        """``batch`` training patches (see the module docstring)."""
        xs, ts, ms, ws = [], [], [], []
        sizes = np.array([len(g.positions) for g in self.groups], np.float64)
        for _ in range(batch):
            if self.rare_classes and rng.random() < self.rare_share:
                k = self.rare_classes[int(rng.integers(len(self.rare_classes)))]
                pool = [(i, g.rare[k]) for i, g in enumerate(self.groups) if len(g.rare[k])]
                weights = np.array([len(p) for _, p in pool], np.float64)
                gi, pos = pool[int(rng.choice(len(pool), p=weights / weights.sum()))]
            else:
                gi = int(rng.choice(len(self.groups), p=sizes / sizes.sum()))
                pos = self.groups[gi].positions
            grp = self.groups[gi]
            centre = np.unravel_index(int(pos[int(rng.integers(len(pos)))]), grp.target.shape)
            x, t, m, w = self._cut(grp, tuple(int(c) for c in centre), rng)
            xs.append(x)
            ts.append(t)
            ms.append(m)
            ws.append(w)
        return Batch(np.stack(xs), np.stack(ts).astype(np.int64), np.stack(ms), np.stack(ws))

    def _cut(
        self, grp: Group, centre: tuple[int, ...], rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        where = []
        for a, (c, w, r) in enumerate(zip(centre, self.window, grp.region, strict=True)):
            length = r.stop - r.start
            if a == 0 and self.context_axis:
                start = c - w // 2
            else:
                c += int(rng.integers(-(w // 4), w // 4 + 1)) if w >= 4 else 0
                start = min(max(c - w // 2, 0), length - w)
            where.append(slice(start, start + w))
        key = tuple(where)
        x = np.empty((grp.inputs.shape[0], *self.window), np.float32)
        if hasattr(grp.inputs, "cut"):
            grp.inputs.cut(tuple([slice(None), *key]), out=x)
        else:
            x[...] = grp.inputs[tuple([slice(None), *key])]
        out = key
        if self.context_axis:  # the target is the central slice
            mid = key[0].start + self.window[0] // 2
            out = (slice(mid, mid + 1), *key[1:])
        target = grp.target[out]
        mask = grp.train[out].astype(np.float32)
        if grp.weights is not None:
            weight = grp.weights[out] * mask
        elif self.weights_name == "balance":
            weight = self.balance[target].astype(np.float32) * mask
        else:
            weight = mask.copy()
        if self.context_axis:
            target, mask, weight = target[0], mask[0], weight[0]
        return x, target, mask, weight

    def summary(self) -> dict[str, Any]:
        """Counts for logs and provenance."""
        return {
            "groups": len(self.groups),
            "train_voxels": self.train_voxels,
            "val_voxels": self.val_voxels,
            "class_counts": self.class_counts.tolist(),
            "rare_classes": self.rare_classes,
        }


def _subset(positions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if len(positions) <= _MAX_POSITIONS:
        return positions
    return np.sort(rng.choice(positions, _MAX_POSITIONS, replace=False))
