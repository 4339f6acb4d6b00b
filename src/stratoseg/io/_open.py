"""``open_volume``: one entry point for every supported format."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

from stratoseg.io._hdf5 import HDF5_SUFFIXES, open_hdf5
from stratoseg.io._mrc import MRC_SUFFIXES, open_mrc
from stratoseg.io._tiff import TIFF_SUFFIXES, open_tiff, open_tiff_folder
from stratoseg.io._volume import Volume
from stratoseg.io._zarr import is_zarr, open_zarr, reference_of

__all__ = ["SUPPORTED", "can_open", "open_volume", "split_inner_key"]

SUPPORTED = (
    "TIFF/BigTIFF (.tif, .tiff), a folder of 2-D TIFF slices, zarr v2/v3 arrays and OME-Zarr "
    "(folders with zarr metadata), HDF5 (.h5, .hdf5; file.h5:/group/dataset), MRC (.mrc, .rec)"
)

_H5_INNER = re.compile(r"^(?P<file>.+?\.(?:h5|hdf5|hdf|he5)):(?P<key>/?.*)$", re.IGNORECASE)


def split_inner_key(path: str | os.PathLike[str]) -> tuple[Path, str | None]:
    """Split ``file.h5:/group/dataset`` into the file and the dataset path.

    Examples
    --------
    >>> split_inner_key("/data/a.h5:/raw/volume")
    (PosixPath('/data/a.h5'), '/raw/volume')
    >>> split_inner_key("/data/a.tif")
    (PosixPath('/data/a.tif'), None)
    """
    text = os.fspath(path)
    m = _H5_INNER.match(text)
    if m and not Path(text).exists():
        return Path(m.group("file")), m.group("key") or None
    return Path(text), None


_FILE_SUFFIXES = TIFF_SUFFIXES + HDF5_SUFFIXES + MRC_SUFFIXES
_ZARR_META = ("zarr.json", ".zarray", ".zgroup")


def can_open(path: str | os.PathLike[str]) -> bool:
    """A quick check on the name and kind of ``path``; reads no file content.

    True for existing folders (zarr, OME-Zarr or a folder of slices: :func:`open_volume`
    decides) and for files with a supported suffix; a True answer does not promise that the file
    is valid.

    Examples
    --------
    >>> can_open("/no/such/file.tif"), can_open(".")
    (False, True)
    """
    p, _ = split_inner_key(path)
    if p.is_dir():
        return True
    if not p.is_file():
        return False
    name = p.name.lower()
    return name.endswith(_FILE_SUFFIXES) or name in _ZARR_META


def open_volume(path: str | os.PathLike[str], *, key: str | None = None) -> Volume:
    """Open an image volume lazily and read its metadata.

    Parameters
    ----------
    path : str or path-like
        A TIFF/BigTIFF file, a folder of 2-D TIFF slices (natural sort order), a zarr v2/v3 array
        or group, an OME-Zarr image (also an array inside one, such as ``ws.zarr/labels/x/0``),
        an HDF5 file (``file.h5:/group/dataset``, or the file when it has one dataset) or an
        MRC/REC file.
    key : str, optional
        The dataset inside a container: HDF5 dataset path, array path inside a zarr group, TIFF
        series index.

    Returns
    -------
    Volume
        ``volume.data`` is a dask array: nothing is read until it is computed.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        For an unknown format, a corrupt or truncated file, a missing dataset, or an array that
        is not 2-D to 4-D.
    TypeError
        For complex, object or string dtypes.

    Examples
    --------
    >>> import numpy as np, tifffile, tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "a.tif")
    >>> tifffile.imwrite(f, np.zeros((5, 8, 8), np.uint8))
    >>> v = open_volume(f)
    >>> v.shape, v.axes, v.format
    ((5, 8, 8), 'zyx', 'tiff')
    """
    p, inner = split_inner_key(path)
    if inner is not None:
        if key is not None and key != inner:
            raise ValueError(
                f"key {key!r} conflicts with the dataset in the path {os.fspath(path)!r}"
            )
        key = inner
    if not p.exists():
        raise FileNotFoundError(f"path does not exist: {p}")
    if p.is_dir():
        if is_zarr(p):
            meta = reference_of(p) if key is None else None
            if meta is not None:  # a workspace whose raw image stays in its source zarr
                vol = open_volume(meta["source"]["path"], key=meta["source"].get("key"))
                return replace(vol, voxel_size=tuple(meta["voxel_size"]), unit=meta.get("unit"))
            return open_zarr(p, key=key)
        if p.suffix.lower() == ".zarr":
            raise ValueError(f"{p} has no zarr metadata (zarr.json, .zarray or .zgroup)")
        return open_tiff_folder(p)
    name = p.name.lower()
    if name.endswith(TIFF_SUFFIXES):
        return open_tiff(p, key=key)
    if name.endswith(HDF5_SUFFIXES):
        return open_hdf5(p, key=key)
    if name.endswith(MRC_SUFFIXES):
        return open_mrc(p)
    if name in ("zarr.json", ".zarray", ".zgroup"):
        return open_zarr(p.parent, key=key)
    raise ValueError(
        f"unknown format for {p} (extension {p.suffix or 'none'!r}); supported: {SUPPORTED}"
    )
