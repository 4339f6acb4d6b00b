"""Post-processing: class probabilities to semantic or instance labels.

MAP and the gap rule (Guerrero Peña §5.2.3), thresholded maps with touching voxels given to the
nearest object (Algorithm 2, eq 4.4), the marker watershed on ``z2 - z1`` (§4.2.4), the
distance-transform watershed for masks of touching objects, the boundary watershed that closes
open membranes (Herreros §3.2.8) and the boundary agglomeration that merges over-segmented
regions by the mean boundary of their faces, a 2-D model's slices linked or split into 3-D
objects, hole filling and small-object removal. numpy in, labels out,
2-D and 3-D; see ``docs/postprocess.md``.
"""

from stratoseg.postprocess._agglomerate import boundary_agglomeration, boundary_components
from stratoseg.postprocess._blockwise import postprocess_blockwise
from stratoseg.postprocess._boundary import boundary_watershed
from stratoseg.postprocess._clean import fill_holes, map_classes, remove_small_objects
from stratoseg.postprocess._edit import (
    TOOLS,
    correct,
    delete_object,
    fill_object,
    instances_from_classes,
    keep_ids,
    merge_objects,
    object_box,
    rerun_region,
    review_objects,
    split_object,
)
from stratoseg.postprocess._instances import (
    assign_to_nearest,
    distance_watershed,
    threshold_instances,
    watershed_instances,
)
from stratoseg.postprocess._methods import METHODS, Method, map_instances, postprocess
from stratoseg.postprocess._objects import ORDERS, ObjectTable, object_table
from stratoseg.postprocess._stack import (
    STACKS,
    check_stack,
    link_slices,
    relative_spacing,
    split_stack,
)
from stratoseg.postprocess._workspace import DEFAULT_HALO, postprocess_workspace

__all__ = [
    "DEFAULT_HALO",
    "METHODS",
    "ORDERS",
    "STACKS",
    "TOOLS",
    "Method",
    "ObjectTable",
    "assign_to_nearest",
    "boundary_agglomeration",
    "boundary_components",
    "boundary_watershed",
    "check_stack",
    "correct",
    "delete_object",
    "distance_watershed",
    "fill_holes",
    "fill_object",
    "instances_from_classes",
    "keep_ids",
    "link_slices",
    "map_classes",
    "map_instances",
    "merge_objects",
    "object_box",
    "object_table",
    "postprocess",
    "postprocess_blockwise",
    "postprocess_workspace",
    "relative_spacing",
    "remove_small_objects",
    "rerun_region",
    "review_objects",
    "split_object",
    "split_stack",
    "threshold_instances",
    "watershed_instances",
]
