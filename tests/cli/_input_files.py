"""Small input files that the CLI's bad-input and accepted-input tests write into a folder."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import tifffile
import zarr


def write_tif(d: Path, data: np.ndarray | None = None, name: str = "in.tif") -> str:
    """``data`` (default: 6 x 40 x 40 random float32) as ``d/name``; its path."""
    rng = np.random.default_rng(0)
    tifffile.imwrite(d / name, rng.random((6, 40, 40)).astype(np.float32) if data is None else data)
    return str(d / name)


def write_zarr(d: Path, data: np.ndarray, name: str = "in.zarr") -> str:
    """``data`` as a plain zarr array ``d/name``; its path."""
    zarr.create_array(store=str(d / name), data=data)
    return str(d / name)


def write_h5(d: Path, data: np.ndarray, name: str = "in.h5") -> str:
    """``data`` as dataset ``a`` of the HDF5 file ``d/name``; its path."""
    with h5py.File(d / name, "w") as f:
        f["a"] = data
    return str(d / name)


def write_file(d: Path, name: str, content: bytes) -> str:
    """``content`` as the file ``d/name``; its path."""
    (d / name).write_bytes(content)
    return str(d / name)


def write_folder(d: Path, name: str, mode: int | None = None) -> Path:
    """A new folder ``d/name``, of ``mode`` when given."""
    (d / name).mkdir()
    if mode is not None:
        (d / name).chmod(mode)
    return d / name


def workspace_target(d: Path) -> str:
    """Where a command's new workspace goes: ``d/out.zarr``."""
    return str(d / "out.zarr")
