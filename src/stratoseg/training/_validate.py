"""Scoring a network on the validation voxels of a :class:`~stratoseg.training._data.TrainingData`.

Each group's validation voxels are predicted as one block (the bounding box of those voxels,
``crop`` tiling with the default windows and halo, read from the group's loaded input and
edge-extended beyond it) by the same :func:`~stratoseg.inference.predict_block` as inference,
then scored with :mod:`stratoseg.metrics`: the confusion matrix over all validation voxels
gives per-class Jaccard (the hard version of Decencière's Jaccard) and accuracy; for targets
made from instances, the objects (connected components of the MAP object class) are matched
to the true objects for panoptic quality (Guerrero Peña 2019, ch. 5 tables), slice by slice
for a 2-D network on a stack.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

from stratoseg.inference import plan_segment, predict_block
from stratoseg.inference._block import split_region
from stratoseg.metrics import match_instances, semantic_scores
from stratoseg.training._data import Group, TrainingData

__all__ = ["match_objects", "validate"]

_IGNORE = 255  # the ground-truth class of voxels that are not scored


def _reader(grp: Group) -> Any:
    """``read(region)`` in group coordinates: the loaded input, edge-extended beyond it."""
    shape = grp.target.shape

    def read(region: tuple[slice, ...]) -> np.ndarray:
        inside, pad = split_region(region, shape)
        part = np.asarray(grp.inputs[tuple([slice(None), *inside])], dtype=np.float32)
        if any(a or b for a, b in pad):
            part = np.pad(part, [(0, 0), *pad], mode="edge")
        return part

    return read


def match_objects(
    pred: np.ndarray, gt: np.ndarray, val: np.ndarray, object_class: int, slice_wise: bool
) -> dict[str, float]:
    """Matched-object counts (``tp``, ``fp``, ``fn`` and the summed ``iou`` of the matches)
    of the connected components of ``object_class`` in the class map ``pred`` against the
    objects ``gt``, on the voxels ``val`` only; slice by slice along z when ``slice_wise``
    (a 2-D network on a stack, whose slices may be unrelated images).

    Examples
    --------
    >>> pred = np.ones((2, 3, 3), np.uint8); gt = np.ones((2, 3, 3), np.int64)
    >>> val = np.ones((2, 3, 3), bool)
    >>> [match_objects(pred, gt, val, 1, s)["tp"] for s in (False, True)]
    [1, 2]
    """
    gt = gt.astype(np.int64)
    gt[~val] = -1  # not scored
    pairs = zip(pred, gt, val, strict=True) if slice_wise else [(pred, gt, val)]
    out: dict[str, float] = {"tp": 0, "fp": 0, "fn": 0, "iou": 0.0}
    for p, g, v in pairs:
        objects, _ = ndi.label(p == object_class)
        objects[~v] = 0
        score = match_instances(objects, g, ignore_labels=(-1,))
        out["tp"] += score.tp
        out["fp"] += score.fp
        out["fn"] += score.fn
        out["iou"] += score.mean_iou * score.tp
    return out


def validate(
    predictor: Any,
    data: TrainingData,
    *,
    class_names: list[str],
    instances: bool,
    object_class: int = 1,
) -> dict[str, float]:
    """Scores of ``predictor`` (a :class:`~stratoseg.inference._predictor.Predictor`) on the
    validation voxels: ``mean_jaccard``, ``accuracy``, ``jaccard_<class>`` and, when
    ``instances``, ``pq``, ``sq``, ``rq`` of the connected components of ``object_class``
    (the interior, 0, for the boundary target). Empty when nothing is held out."""
    config = predictor.config
    k = data.num_classes
    confusion = np.zeros((k, k), np.int64)
    matched: dict[str, float] = {
        "tp": 0,
        "fp": 0,
        "fn": 0,
        "iou": 0.0,
        "groups": 0,
    }  # objects, over the groups
    for grp in data.groups:
        if not grp.val.any():
            continue
        box = ndi.find_objects(grp.val.astype(np.uint8))[0]
        assert box is not None
        shape = tuple(s.stop - s.start for s in box)
        plan = plan_segment(config, shape, shape, classes=k, in_channels=int(grp.inputs.shape[0]))
        read = _reader(grp)

        def shifted(region: tuple[slice, ...], read: Any = read, box: Any = box) -> np.ndarray:
            moved = zip(region, box, strict=True)
            return read(tuple(slice(r.start + b.start, r.stop + b.start) for r, b in moved))

        block = tuple(slice(0, n) for n in shape)
        probs = predict_block(block, plan.axes, shifted, predictor)
        pred = probs.argmax(axis=0).astype(np.uint8)
        val = grp.val[box]
        truth = np.where(val, grp.target[box], _IGNORE).astype(np.uint8)
        confusion += semantic_scores(pred, truth, n_classes=k, ignore_label=_IGNORE).confusion[
            :k, :k
        ]
        if instances and grp.instances is not None:
            gt = np.asarray(grp.instances[box])
            for key, value in match_objects(pred, gt, val, object_class, data.slice_wise).items():
                matched[key] += value
            matched["groups"] += 1
    if not confusion.any():
        return {}
    tp = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - tp
    present = union > 0
    jaccard = np.divide(tp, union, out=np.full(k, np.nan), where=present)
    out: dict[str, float] = {
        "mean_jaccard": float(np.nanmean(jaccard)),
        "accuracy": float(tp.sum() / confusion.sum()),
    }
    for name, j in zip(class_names, jaccard, strict=True):
        if np.isfinite(j):
            out[f"jaccard_{name}"] = float(j)
    if matched["groups"]:
        t, fp, fn = int(matched["tp"]), int(matched["fp"]), int(matched["fn"])
        sq = float(matched["iou"]) / t if t else 0.0
        denom = t + 0.5 * fp + 0.5 * fn
        rq = t / denom if denom else 1.0
        out.update({"pq": sq * rq, "sq": sq, "rq": rq})
    return out
