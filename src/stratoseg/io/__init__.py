"""Volume I/O: open any supported image lazily, export arrays to TIFF.

Formats: multi-page TIFF and BigTIFF (ImageJ and OME tags), folders of 2-D TIFF slices, zarr v2
and v3 arrays, OME-Zarr images (NGFF 0.4/0.5, with their pyramid), HDF5 datasets and MRC/REC.
"""

from stratoseg.io._atomic import atomic_output, check_output_path
from stratoseg.io._export import write_tiff, write_tiffs
from stratoseg.io._open import SUPPORTED, can_open, open_volume, split_inner_key
from stratoseg.io._volume import Volume, normalize_axes, normalize_unit

__all__ = [
    "SUPPORTED",
    "Volume",
    "atomic_output",
    "can_open",
    "check_output_path",
    "normalize_axes",
    "normalize_unit",
    "open_volume",
    "split_inner_key",
    "write_tiff",
    "write_tiffs",
]
