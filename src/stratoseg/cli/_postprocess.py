"""``stratoseg postprocess``: a prediction run into labels, by a post-processing method."""

from __future__ import annotations

import argparse
from typing import Any

from stratoseg.cli._cluster import add_cluster_arguments
from stratoseg.cli._progress import progress_bar
from stratoseg.cli._types import int_list, one_or_list

__all__ = ["METHOD_OPTIONS", "method_params", "register"]


def _yes_no(text: str) -> bool:
    if text.lower() in ("yes", "true", "1"):
        return True
    if text.lower() in ("no", "false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")


#: Method options of the command line: (flag, parameter, type, help).
METHOD_OPTIONS: list[tuple[str, str, Any, str]] = [
    ("--gamma1", "gamma1", float, "threshold: object threshold (0.5)"),
    ("--gamma2", "gamma2", float, "threshold: touching threshold (0.5)"),
    ("--tau0", "tau0", float, "watershed: background seed threshold on z0 (0.5)"),
    ("--tau1", "tau1", float, "watershed: object seed threshold on z1 (0.5)"),
    ("--h", "h", float,
     "distance-watershed, boundary-watershed and -agglomeration: marker height in voxels"),
    ("--threshold", "threshold", float,
     "boundary-watershed, -components and -agglomeration: membrane threshold"),
    ("--merge", "merge", float,
     "boundary-agglomeration: regions merge while the mean boundary of their face is below "
     "this (0.5)"),
    ("--segment-threshold", "segment_threshold", float,
     "boundary-watershed: mean membrane probability that closes a gap (0.3)"),
    ("--flood", "flood", str,
     "boundary-watershed: what the line watershed floods, 'distance' (the paper's) or "
     "'boundary' (the map: lines on its ridges)"),
    ("--assign-boundaries", "assign_boundaries", _yes_no,
     "boundary methods: 'yes' grows the cells over the membranes (dense labels)"),
    ("--min-size", "min_size", int, "remove objects smaller than this many voxels (0)"),
    ("--object-class", "object_class", int, "the object class (1)"),
    ("--touching-class", "touching_class", int, "the touching class (2)"),
    ("--boundary-class", "boundary_class", int, "boundary-watershed: the membrane class (1)"),
    ("--classes", "classes", int_list, "map: classes to choose among, e.g. 0,1,2 (the gap rule)"),
]  # fmt: skip


def register(sub: Any) -> None:
    """Add ``postprocess`` to the ``stratoseg`` sub-parsers."""
    from stratoseg.postprocess import METHODS

    p = sub.add_parser(
        "postprocess",
        help="turn a prediction run into labels (MAP, thresholds, watersheds)",
        description="Post-process predictions/RUN of a workspace into labels/NAME, block by "
        "block with instance ids stitched across blocks. Methods: "
        + "; ".join(f"{m.name}: {m.description}" for m in METHODS.values())
        + ". See docs/postprocess.md.",
    )
    p.add_argument("workspace", metavar="WS.zarr", help="the workspace")
    p.add_argument("--predictions", required=True, metavar="RUN", help="the prediction run")
    p.add_argument("--method", required=True, choices=sorted(METHODS), help="the method")
    p.add_argument("--labels", required=True, metavar="NAME", help="the label image to write")
    for flag, dest, kind, text in METHOD_OPTIONS:
        p.add_argument(flag, dest=dest, type=kind, help=text)
    p.add_argument(
        "--instances", action="store_true",
        help="map: label the object class, touching voxels to the nearest object",
    )  # fmt: skip
    p.add_argument("--no-fill", dest="fill", action="store_false", default=None,
                   help="threshold / watershed: keep the holes of objects")  # fmt: skip
    p.add_argument(
        "--stack", choices=["link", "split", "volume"],
        help="maps of a 2-D model on a 3-D stack: post-process each slice and link its objects "
        "across z by overlap (link) or split them in 3-D by distance (split); volume (the "
        "default) treats the stack as one volume",
    )  # fmt: skip
    p.add_argument("--block", type=int_list, help="block shape in voxels (whole chunks)")
    p.add_argument("--halo", type=int_list, help="voxels of context around each block (32)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing label image")
    add_cluster_arguments(p)
    p.set_defaults(func=cmd_postprocess)


def method_params(args: argparse.Namespace) -> dict[str, Any]:
    """The method options given on the command line (the method's defaults for the rest)."""
    params = {dest: getattr(args, dest) for _, dest, _, _ in METHOD_OPTIONS}
    params["fill"] = getattr(args, "fill", None)
    params["instances"] = getattr(args, "instances", False) or None
    return {k: v for k, v in params.items() if v is not None}


def cmd_postprocess(args: argparse.Namespace) -> int:
    from stratoseg._cluster import cluster_client
    from stratoseg.postprocess import postprocess_workspace
    from stratoseg.workspace import Workspace

    params = method_params(args)
    if args.stack is not None:
        params["stack"] = args.stack
    with (
        progress_bar("postprocess", unit="block") as bar,
        Workspace.open(args.workspace, mode="r+") as ws,
        cluster_client(args.scheduler, args.workers) as client,
    ):
        postprocess_workspace(
            ws, args.predictions, args.method, labels=args.labels, overwrite=args.overwrite,
            block=args.block, halo=one_or_list(args.halo), client=client, progress=bar,
            **params,
        )  # fmt: skip
        objects = ws.journal.entries("labels-written")[-1].get("objects")
        path = ws.path
    found = "classes (MAP)" if objects is None else f"{objects} objects"
    print(f"wrote {path}/labels/{args.labels} ({args.method}: {found})")
    return 0
