"""``stratoseg synth``: synthetic images with ground truth, written to TIFF or zarr."""

from __future__ import annotations

import argparse
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import dask.array as da
import zarr

from stratoseg._progress import dask_progress
from stratoseg._threads import joined_store
from stratoseg.cli._progress import progress_bar
from stratoseg.io import atomic_output, check_output_path, write_tiffs

__all__ = ["gt_path", "register"]

KINDS = ("composite", "cells", "membranes")
#: Bytes per voxel of the ground truth of each kind (uint8 classes, uint32 instance ids); the
#: image is uint8.
GT_BYTES = {"composite": 1, "cells": 4, "membranes": 4}


def register(sub: Any) -> None:
    """Add ``synth`` to the ``stratoseg`` sub-parsers."""
    p = sub.add_parser(
        "synth",
        help="generate a synthetic image with ground truth",
        description="Generate a synthetic image and its ground truth, written beside it as "
        "OUT_gt: 'composite' (glass-fibre composite CT: 0 matrix, 1 fibre, 2 pore), 'cells' "
        "(touching cells, instance labels), 'membranes' (EM-like, instance labels, 0 on "
        "membranes). Generated block by block, so large shapes fit in memory.",
    )
    p.add_argument("kind", choices=KINDS)
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output .tif/.tiff or .zarr; the ground truth goes to OUT_gt.<suffix>",
    )
    p.add_argument(
        "--shape",
        type=int,
        nargs="+",
        required=True,
        metavar="N",
        help="Z Y X (or Y X for 2-D cells and membranes)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--chunks", type=int, nargs="+", metavar="N", help="zarr chunk edge(s)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.set_defaults(func=cmd_synth)


def gt_path(out: Path) -> Path:
    """``a/vol.tif`` -> ``a/vol_gt.tif`` (the suffix is kept, ``.ome.tif`` too)."""
    name = out.name
    for suffix in (".ome.tiff", ".ome.tif", ".tiff", ".tif", ".zarr"):
        if name.lower().endswith(suffix):
            return out.with_name(name[: -len(suffix)] + "_gt" + name[-len(suffix) :])
    return out.with_name(name + "_gt")


def cmd_synth(args: argparse.Namespace) -> int:
    from stratoseg import synthetic

    out = Path(args.output)
    suffix = out.name.lower()
    if not suffix.endswith((".tif", ".tiff", ".zarr")):
        raise ValueError(f"output must end in .tif, .tiff or .zarr, got {out}")
    gt = gt_path(out)
    kind: Literal["file", "folder"] = "folder" if suffix.endswith(".zarr") else "file"
    check_output_path(out, overwrite=args.overwrite, kind=kind)
    check_output_path(gt, overwrite=args.overwrite, name="ground-truth output", kind=kind)
    _check_space(out, gt, args.kind, args.shape)
    makers: dict[str, Callable[..., synthetic.SyntheticVolume]] = {
        "composite": synthetic.make_composite,
        "cells": synthetic.make_cells,
        "membranes": synthetic.make_membranes,
    }
    make = makers[args.kind]
    vol = make(tuple(args.shape), seed=args.seed, chunks=args.chunks)
    with progress_bar(f"synth {args.kind}") as bar:
        if suffix.endswith(".zarr"):
            with atomic_output(out) as t_img, atomic_output(gt) as t_gt, dask_progress(bar):
                targets = [
                    _zarr_like(t_img, vol.image, vol.voxel_size),
                    _zarr_like(t_gt, vol.labels, vol.voxel_size, classes=vol.classes),
                ]
                joined_store([vol.image, vol.labels], targets)
        else:
            write_tiffs(
                [vol.image, vol.labels],
                [out, gt],
                voxel_size=vol.voxel_size,
                overwrite=args.overwrite,
                progress=bar,
            )
    print(
        f"wrote {out} ({' x '.join(map(str, vol.image.shape))} {vol.image.dtype}) and {gt} "
        f"({vol.labels.dtype}, {vol.kind} ground truth)"
    )
    return 0


def _check_space(out: Path, gt: Path, kind: str, shape: list[int]) -> None:
    """Refuse a shape whose outputs cannot fit on the disk, before anything is drawn (the
    generators draw every object of the volume up front: a huge shape fails in memory)."""
    if not all(n > 0 for n in shape):
        return  # the generator names the bad shape
    need = math.prod(shape) * (1 + GT_BYTES[kind])
    free = shutil.disk_usage(out.parent).free
    if need > free:
        raise ValueError(
            f"--shape {' '.join(map(str, shape))} needs up to {need / 2**30:,.1f} GiB for "
            f"{out.name} and {gt.name} (uncompressed), but {out.parent} has "
            f"{free / 2**30:,.1f} GiB free"
        )


def _zarr_like(
    path: Path, arr: da.Array, voxel_size: tuple[float, ...], **attrs: Any
) -> zarr.Array:
    attrs = {
        "voxel_size": list(voxel_size),
        **{k: {str(i): n for i, n in v.items()} for k, v in attrs.items()},
    }
    return zarr.create_array(
        store=str(path),
        shape=arr.shape,
        dtype=arr.dtype,
        chunks=tuple(int(c[0]) for c in arr.chunks),
        attributes=attrs,
        fill_value=0,
    )
