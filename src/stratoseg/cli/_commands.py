"""``stratoseg info``, ``import``, ``export`` and ``demo``."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from stratoseg.cli._progress import progress_bar
from stratoseg.io import Volume, open_volume, write_tiff
from stratoseg.workspace import Workspace, create_workspace, is_workspace

__all__ = ["register", "sampled_range"]

DEMO_PATH = "stratoseg-demo.zarr"
DEMO_SHAPE = (64, 128, 128)
DEMO_MODEL = "composite-ct-3phase"


def register(sub: Any) -> None:
    """Add the commands of this module to the ``stratoseg`` sub-parsers."""
    p = sub.add_parser(
        "info",
        help="show format, shape, dtype, chunks, voxel size, value range",
        description="Show what StratoSeg reads from an image or a workspace.",
    )
    p.add_argument(
        "path",
        help="image file or folder, zarr array, or workspace (file.h5:/ds for an HDF5 dataset)",
    )
    p.add_argument("--key", help="dataset inside the container (HDF5 dataset, zarr array)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "import",
        help="create a workspace from an image",
        description="Create a workspace (an OME-Zarr folder) from a source image: "
        "copied into chunked zarr for TIFF, MRC and HDF5, referenced in place for "
        "zarr and OME-Zarr sources (use --copy to copy those too).",
    )
    p.add_argument("source", help="image file or folder (file.h5:/ds for an HDF5 dataset)")
    p.add_argument("-o", "--output", required=True, metavar="WS.zarr", help="workspace to create")
    p.add_argument("--key", help="dataset inside the source container")
    p.add_argument(
        "--chunks",
        type=int,
        nargs="+",
        metavar="N",
        help="chunk edge (one value, or one per spatial axis); default 64 in 3-D, 256 in 2-D",
    )
    p.add_argument(
        "--voxel-size",
        type=float,
        nargs="+",
        metavar="S",
        help="voxel size Z Y X (or Y X, or one value) overriding the file's",
    )
    p.add_argument("--unit", help="unit of --voxel-size (default micrometer)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--copy",
        dest="copy",
        action="store_true",
        default=None,
        help="copy a zarr source into the workspace",
    )
    mode.add_argument(
        "--reference",
        dest="copy",
        action="store_false",
        help="reference a zarr source in place (the default for zarr)",
    )
    p.add_argument(
        "--labels",
        default="segmentation",
        help="name of the empty label image to create (default: segmentation)",
    )
    p.add_argument(
        "--no-labels", dest="labels", action="store_const", const=None, help="create no label image"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing workspace")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "export",
        help="write a workspace array (or any image) to TIFF",
        description="Write any array StratoSeg reads, such as "
        "WS.zarr/labels/segmentation/0 or WS.zarr (the raw image), to TIFF.",
    )
    p.add_argument("array", help="e.g. WS.zarr/labels/segmentation/0 or WS.zarr/predictions/run")
    p.add_argument("-o", "--output", required=True, metavar="OUT.tif")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "demo",
        help="create the sample workspace, segment it and score the result",
        description="Create a workspace from the embedded sample (a synthetic "
        f"glass-fibre composite tomogram, {' x '.join(map(str, DEMO_SHAPE))}, with "
        "its 3-phase ground truth as the label image 'ground_truth'), segment it with the "
        f"built-in model {DEMO_MODEL} into 'segmentation', and print the per-phase Jaccard "
        "index against the ground truth.",
    )
    p.add_argument(
        "-o",
        "--output",
        default=DEMO_PATH,
        metavar="WS.zarr",
        help=f"where to create it (default: ./{DEMO_PATH}; an earlier demo workspace "
        "there is replaced)",
    )
    p.set_defaults(func=cmd_demo)


def sampled_range(vol: Volume, *, max_blocks: int = 8) -> tuple[float, float, bool] | None:
    """Min and max of the finite values over up to ``max_blocks`` chunks spread through the
    volume (cheap), and whether NaN or infinite values were seen; None when no finite value
    was (an empty image, or one of NaN only)."""
    nblocks = vol.data.numblocks
    flat = math.prod(nblocks)
    if flat == 0:
        return None
    picks = np.unique(np.linspace(0, flat - 1, min(max_blocks, flat)).round().astype(int))
    lo, hi, nonfinite = np.inf, -np.inf, False
    for i in picks:
        block = np.asarray(vol.data.blocks[np.unravel_index(i, nblocks)].compute())
        if block.dtype.kind == "f":
            finite = np.isfinite(block)
            nonfinite = nonfinite or not finite.all()
            block = block[finite]
        if block.size:
            lo, hi = min(lo, float(block.min())), max(hi, float(block.max()))
    return (lo, hi, nonfinite) if lo <= hi else None


def _voxel_text(voxel_size: list[float], unit: str | None) -> str:
    """``[1, 0.5, 0.5], "micrometer"`` -> ``1 x 0.5 x 0.5 micrometer`` (``px`` without a unit)."""
    return f"{' x '.join(f'{v:g}' for v in voxel_size)} {unit or 'px (no physical unit)'}"


def _print_table(rows: dict[str, Any]) -> None:
    width = max(len(k) for k in rows)
    for k, v in rows.items():
        if isinstance(v, (list, tuple)):
            v = " x ".join(map(str, v)) if k in ("shape", "chunks") else ", ".join(map(str, v))
        print(f"{k:<{width}}  {v if v not in (None, '') else '-'}")


def _demo_segmentation(ws: Workspace, truth: np.ndarray, classes: list[str]) -> dict[str, str]:
    """Segment the demo workspace with the built-in model; the rows of what it scored."""
    import time

    from stratoseg.jobs import run_segment, segment_recipe
    from stratoseg.metrics import semantic_scores
    from stratoseg.models import read_card, resolve_model

    start = time.perf_counter()
    card = read_card(resolve_model(DEMO_MODEL))
    recipe = segment_recipe(card, shape=ws.spatial_shape)  # what `stratoseg segment` applies
    with progress_bar("segment", unit="voxel") as bar:
        run_segment(ws, DEMO_MODEL, recipe, labels="segmentation", overwrite=True, progress=bar)
    seconds = time.perf_counter() - start
    pred = np.asarray(ws.labels("segmentation")[...])
    score = semantic_scores(pred, truth, n_classes=len(classes))
    return {
        "model": f"{DEMO_MODEL} (built in), labels/segmentation in {seconds:.1f} s",
        "Jaccard per phase": ", ".join(
            f"{c} {j:.3f}" for c, j in zip(classes, score.jaccard, strict=True)
        ),
        "mean Jaccard": f"{score.mean_jaccard:.3f}",
    }


def _is_demo(path: Path) -> bool:
    if not is_workspace(str(path)):
        return False
    meta = json.loads((path / "zarr.json").read_text())["attributes"]["stratoseg"]
    return bool(meta.get("source", {}).get("format") == "synthetic")


def cmd_info(args: argparse.Namespace) -> int:
    vol = open_volume(args.path, key=args.key)
    info = vol.summary()
    sampled = sampled_range(vol)
    info["value_range_sampled"] = None if sampled is None else list(sampled[:2])
    info["nonfinite_sampled"] = vol.dtype.kind == "f" and (sampled is None or sampled[2])
    if is_workspace(args.path):
        with Workspace.open(args.path, mode="r") as ws:
            info["workspace"] = ws.summary()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    rows = {k: info[k] for k in ("path", "format", "key", "axes", "shape", "dtype", "chunks")}
    rows["voxel size"] = _voxel_text(info["voxel_size"], vol.unit)
    rows["levels"] = len(info["levels"])
    if sampled is None:
        rows["value range"] = "no finite value (sampled)" if vol.data.size else "empty image"
    else:
        lo, hi, nonfinite = sampled
        rows["value range"] = f"{lo:g} .. {hi:g} (sampled)" + (", and NaN or Inf" * nonfinite)
    if "workspace" in info:
        w = info["workspace"]
        rows.update(
            {
                "workspace": w["mode"],
                "channels": w["channels"] or None,
                "predictions": w["predictions"] or None,
                "labels": w["labels"] or None,
                "journal": f"{w['journal_entries']} entries",
            }
        )
    _print_table(rows)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    with progress_bar("import") as bar:
        ws = create_workspace(
            args.output,
            args.source,
            key=args.key,
            chunks=args.chunks,
            voxel_size=args.voxel_size,
            unit=args.unit,
            copy=args.copy,
            labels=args.labels,
            overwrite=args.overwrite,
            progress=bar,
        )
    with ws:
        _print_table(_ws_rows(ws))
    return 0


def _ws_rows(ws: Workspace) -> dict[str, Any]:
    s = ws.summary()
    return {
        "workspace": s["path"],
        "mode": s["mode"],
        "source": s["source"]["path"],
        "axes": s["axes"],
        "shape": s["shape"],
        "dtype": s["dtype"],
        "chunks": s["chunks"],
        "voxel size": _voxel_text(s["voxel_size"], s["unit"]),
        "pyramid levels": len(s["levels"]),
        "labels": s["labels"] or None,
    }


def cmd_export(args: argparse.Namespace) -> int:
    vol = open_volume(args.array)
    with progress_bar("export") as bar:
        out = write_tiff(
            vol.data,
            args.output,
            axes=vol.axes,
            voxel_size=vol.voxel_size,
            unit=vol.unit,
            overwrite=args.overwrite,
            progress=bar,
        )
    print(f"wrote {out} ({' x '.join(map(str, vol.shape))} {vol.dtype})")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from stratoseg.synthetic import make_composite

    out = Path(args.output)
    if out.exists() and not _is_demo(out):
        raise FileExistsError(f"{out} exists and is not a demo workspace; choose another -o")
    sample = make_composite(DEMO_SHAPE, seed=0)
    vol = Volume(
        sample.image, "zyx", sample.voxel_size, None, Path("synthetic:composite"), "synthetic"
    )
    with progress_bar("demo") as bar:
        ws = create_workspace(
            out,
            vol,
            labels="segmentation",
            label_images={"ground_truth": sample.labels},
            overwrite=True,
            progress=bar,
        )
    with ws:
        rows = _ws_rows(ws)
        gt_labels = np.asarray(ws.labels("ground_truth")[...])
        gt = np.bincount(gt_labels.ravel(), minlength=3)
        rows["ground truth"] = ", ".join(
            f"{name} {100 * gt[k] / gt.sum():.1f} %" for k, name in sample.classes.items()
        )
        rows.update(_demo_segmentation(ws, gt_labels, list(sample.classes.values())))
    _print_table(rows)
    print(f"\nnext: napari {out}   (or open it with Plugins > StratoSeg > Load / Workspace)")
    return 0
