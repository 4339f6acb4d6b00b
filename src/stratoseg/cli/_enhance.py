"""``stratoseg enhance``: geodesic enhancement channels into a workspace."""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import ValidationError

from stratoseg.cli._cluster import add_cluster_arguments
from stratoseg.cli._progress import progress_bar
from stratoseg.cli._target import target_workspace
from stratoseg.enhance import EnhanceParams, describe_params_error, write_enhanced_channel
from stratoseg.workspace import check_name

__all__ = ["params_from_args", "register"]


def register(sub: Any) -> None:
    """Add ``enhance`` to the ``stratoseg`` sub-parsers."""
    p = sub.add_parser(
        "enhance",
        help="add a geodesic enhancement channel to a workspace",
        description="Compute I_e = I + alpha DT - beta DT_c (Hammoumi et al. 2021, eqs 1-10) "
        "and store it as channels/NAME. SRC is a workspace, or an image from which the "
        "workspace -o is created first. With --max-distance the maps are clipped and computed "
        "block by block (exactly); without it the volume is computed whole. See docs/enhance.md.",
    )
    p.add_argument("source", metavar="SRC_OR_WS", help="a workspace, or an image to import")
    p.add_argument(
        "-o",
        "--output",
        metavar="WS.zarr",
        help="the workspace (default: SRC when it is a workspace)",
    )
    p.add_argument(
        "--method",
        choices=["binary", "grayscale", "projected", "geodesic"],
        default="binary",
        help="which distance maps (default: binary)",
    )
    p.add_argument("--alpha", type=float, default=1.0, help="weight of DT (1)")
    p.add_argument("--beta", type=float, default=1.0, help="weight of DT_c (1)")
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="foreground threshold in [0, 1] of the normalised image (default: Otsu)",
    )
    p.add_argument("--levels", type=int, default=16, help="level sets, grayscale method (16)")
    p.add_argument("--gamma", type=float, default=1.0, help="geodesic factor of eq 2 (1)")
    p.add_argument(
        "--max-distance",
        type=float,
        default=None,
        metavar="D",
        help="clip distances at D physical units and scale them to [0, 1]",
    )
    p.add_argument("--mode", choices=["2d", "3d"], default="3d", help="per slice or 3-D (3d)")
    p.add_argument("--name", help="channel name (default: the method)")
    p.add_argument(
        "--seeds",
        metavar="LABELS",
        help="geodesic method: seeds are the voxels > 0 of this label image of the "
        "workspace (default: the voxels below the threshold)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing channel")
    add_cluster_arguments(p)
    p.set_defaults(func=cmd_enhance)


def params_from_args(args: argparse.Namespace) -> EnhanceParams:
    """The parameters; invalid ones become one line naming the option and the value."""
    try:
        return EnhanceParams(
            method=args.method,
            alpha=args.alpha,
            beta=args.beta,
            threshold=args.threshold,
            levels=args.levels,
            gamma=args.gamma,
            max_distance=args.max_distance,
            mode=args.mode,
        )
    except ValidationError as exc:
        raise ValueError(describe_params_error(exc, as_flags=True)) from None


def cmd_enhance(args: argparse.Namespace) -> int:
    from stratoseg._cluster import cluster_client

    params = params_from_args(args)
    if args.name is not None:
        check_name(args.name, what="--name")
    with (
        progress_bar("enhance") as bar,
        target_workspace(args.source, args.output, what="enhancement", progress=bar) as ws,
        cluster_client(args.scheduler, args.workers) as client,
    ):
        arr = write_enhanced_channel(
            ws,
            params,
            name=args.name,
            overwrite=args.overwrite,
            seeds_labels=args.seeds,
            client=client,
            progress=bar,
        )
        target = ws.path
    print(
        f"wrote {target}/channels/{args.name or params.method} ({params.method}, "
        f"{' x '.join(map(str, arr.shape))} float32)"
    )
    return 0
