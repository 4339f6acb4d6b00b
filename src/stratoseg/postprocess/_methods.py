"""The post-processing methods by name, with their defaults: what a model card recommends and
``stratoseg postprocess --method`` runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stratoseg.postprocess._agglomerate import boundary_agglomeration, boundary_components
from stratoseg.postprocess._boundary import boundary_watershed
from stratoseg.postprocess._clean import check_class, check_probabilities, fill_holes, map_classes
from stratoseg.postprocess._clean import remove_small_objects as _remove_small
from stratoseg.postprocess._instances import (
    assign_to_nearest,
    components,
    distance_watershed,
    threshold_instances,
    watershed_instances,
)
from stratoseg.postprocess._stack import assemble, check_stack

__all__ = ["METHODS", "Method", "label_classes", "map_instances", "postprocess"]


def map_instances(
    probs: Any,
    *,
    classes: Any = None,
    object_class: int = 1,
    touching_class: int | None = 2,
    fill: bool = False,
    min_size: int = 0,
) -> np.ndarray:
    """Instances from MAP: the connected components of the object class (face connectivity),
    touching voxels given to the nearest object (eq 4.4; equidistant ones to background).

    With ``classes=[0, 1, 2]`` on a 4-class map this is the gap output assignment of §5.2.3
    followed by §4.2.4's labelling. The baseline that the watersheds improve on.
    """
    z = check_probabilities(probs)
    obj = check_class(object_class, z.shape[0], "object_class")
    tch = None if touching_class is None else check_class(touching_class, z.shape[0],
                                                           "touching_class")  # fmt: skip
    labels = label_classes(map_classes(z, classes=classes), obj, tch)
    if fill:
        labels = fill_holes(labels)
    return _remove_small(labels, int(min_size)) if min_size > 1 else labels


def label_classes(
    h: np.ndarray, object_class: int = 1, touching_class: int | None = 2
) -> np.ndarray:
    """Instances from a class map: connected components of ``object_class`` (face
    connectivity), ``touching_class`` voxels to the nearest object (eq 4.4), the rest 0."""
    cells, _ = components(np.asarray(h) == int(object_class))
    if touching_class is None:
        return cells
    return assign_to_nearest(cells, np.asarray(h) == int(touching_class))


def _map(probs: Any, *, instances: bool = False, **params: Any) -> np.ndarray:
    if instances:
        return map_instances(probs, **params)
    unknown = set(params) - {"classes"}
    if unknown:
        raise ValueError(f"unknown parameters for the map method: {sorted(unknown)}")
    return map_classes(probs, **params)


def _distance(probs: Any, *, object_class: int = 1, **params: Any) -> np.ndarray:
    z = check_probabilities(probs)
    return distance_watershed(map_classes(z) == check_class(object_class, z.shape[0],
                                                             "object_class"), **params)  # fmt: skip


def _on_boundary(run: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """A method of the boundary class's map (``boundary_class``, default 1)."""

    def method(probs: Any, *, boundary_class: int = 1, **params: Any) -> np.ndarray:
        z = check_probabilities(probs)
        return run(z[check_class(boundary_class, z.shape[0], "boundary_class")], **params)

    return method


@dataclass(frozen=True)
class Method:
    """A post-processing method: what it makes, its function, its defaults, its reach."""

    name: str
    output: str  # "semantic" or "instances"
    run: Callable[..., np.ndarray]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    #: takes ``sampling`` (voxel spacing) for its distances
    sampling: bool = False
    #: floods or thresholds finely a continuous map: probabilities rounded to 1/255 make
    #: plateaus it cannot order, so a run feeding it stores float16
    needs_float: bool = False
    #: peak bytes per voxel of a block (tracemalloc on a 75 x 250 x 250 map of 2-3 classes,
    #: rounded up): the block-wise run's memory budget divides by it
    memory: int = 48

    def gives_instances(self, params: Mapping[str, Any]) -> bool:
        """Whether a run with ``params`` gives instance ids (``map`` does with
        ``instances=True``)."""
        return self.output == "instances" or bool(params.get("instances"))


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("map", "semantic", _map, {}, "the most likely class (MAP); instances=True "
               "labels the object class and gives touching voxels to the nearest object",
               memory=24),
        Method("threshold", "instances", threshold_instances, {"gamma1": 0.5, "gamma2": 0.5},
               "thresholded maps, touching voxels to the nearest object (Algorithm 2, eq 4.4)",
               sampling=True, memory=72),
        Method("watershed", "instances", watershed_instances, {"tau0": 0.5, "tau1": 0.5},
               "marker watershed on z2 - z1, seeds z0 >= tau0 or z1 >= tau1 (§4.2.4)",
               needs_float=True, memory=52),
        Method("distance-watershed", "instances", _distance, {"h": 1.0},
               "MAP object mask split at its necks by a distance-transform watershed",
               sampling=True, memory=128),
        Method("boundary-watershed", "instances", _on_boundary(boundary_watershed),
               {"threshold": 0.5, "segment_threshold": 0.3, "h": 2.0},
               "cells between membranes, open membranes closed (Herreros §3.2.8)",
               needs_float=True, memory=128),
        Method("boundary-components", "instances", _on_boundary(boundary_components),
               {"threshold": 0.5, "assign_boundaries": True},
               "connected components of b < threshold, the boundary flooded from them",
               needs_float=True, memory=40),
        Method("boundary-agglomeration", "instances", _on_boundary(boundary_agglomeration),
               {"threshold": 0.3, "h": 2.0, "merge": 0.5},
               "watershed of b from distance maxima, regions merged while the mean b of "
               "their shared face is below merge", sampling=True, needs_float=True,
               memory=128),
    )
}  # fmt: skip


def postprocess(
    probs: Any,
    method: str,
    *,
    stack: Mapping[str, Any] | str | None = None,
    sampling: Any = None,
    **params: Any,
) -> np.ndarray:
    """Labels from class probabilities ``(C, *spatial)`` by the method named ``method``.

    ``params`` override the method's defaults (:data:`METHODS`); ``map`` gives class ids
    (uint8), the others instance ids (int32, 0 = background).

    ``stack`` (for a 2-D model's maps of a 3-D stack; see :mod:`stratoseg.postprocess._stack`):
    ``"link"`` or ``"split"`` (or ``{"kind": ..., **params}``) post-process each z slice on
    its own and assemble the slices into 3-D objects; ``"volume"`` or None treat the stack as
    a volume. ``sampling`` is the voxel spacing (in units of the finest axis), passed to the
    methods that measure distances and to ``split``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    m = METHODS[method]
    kind = "volume" if stack is None else check_stack(stack)[0]
    arr = np.asarray(probs)
    slices = kind != "volume" and arr.ndim == 4 and m.gives_instances(params)
    space = None if sampling is None else tuple(float(s) for s in sampling)
    if m.sampling and space is not None:
        params = {"sampling": space[-2:] if slices else space, **params}
    try:
        if slices:
            assert stack is not None
            return assemble(arr, lambda p: m.run(p, **{**m.defaults, **params}), stack,
                            sampling=space)  # fmt: skip
        return m.run(arr, **{**m.defaults, **params})
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise ValueError(f"unknown parameter for the {method} method: {exc}") from None
        raise
