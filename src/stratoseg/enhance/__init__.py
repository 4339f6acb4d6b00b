"""Geodesic enhancement channels (Hammoumi et al. 2021, §4.1, eqs (1)-(10)).

- :func:`distance_to`, :func:`split_distances`, :func:`level_set_distances`,
  :func:`geodesic_distance`, :func:`geodesic_distances`, :func:`geodesic_split`: the distance
  maps of eqs (1)/(3), (5)/(6) and (2).
- :class:`EnhanceParams`, :func:`enhance_array`: the enhanced image ``I + alpha DT - beta DT_c``
  (eqs 4, 7, 10) of an array; :func:`enhance_volume`: the same, lazily and block by block
  (exact with ``max_distance``); :func:`write_enhanced_channel`: into a workspace.

See ``docs/enhance.md``.
"""

from stratoseg.enhance._distance import distance_to, level_set_distances, split_distances
from stratoseg.enhance._enhance import (
    EnhanceParams,
    Globals,
    bytes_per_voxel,
    describe_params_error,
    enhance_array,
    enhance_volume,
    global_values,
    halo,
)
from stratoseg.enhance._geodesic import geodesic_distance, geodesic_distances, geodesic_split
from stratoseg.enhance._workspace import write_enhanced_channel

__all__ = [
    "EnhanceParams",
    "Globals",
    "bytes_per_voxel",
    "describe_params_error",
    "distance_to",
    "enhance_array",
    "enhance_volume",
    "geodesic_distance",
    "geodesic_distances",
    "geodesic_split",
    "global_values",
    "halo",
    "level_set_distances",
    "split_distances",
    "write_enhanced_channel",
]
