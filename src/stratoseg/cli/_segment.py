"""``stratoseg segment``: a model over a whole volume, block by block, into a workspace, with
everything its card recommends unless an option says otherwise."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from stratoseg.cli._cluster import add_cluster_arguments
from stratoseg.cli._postprocess import METHOD_OPTIONS, method_params
from stratoseg.cli._progress import progress_bar
from stratoseg.cli._target import target_workspace
from stratoseg.cli._types import int_list, one_or_list

__all__ = ["OPTION_NAMES", "register"]

#: How the recipe's items are called on this command line (for its error messages).
OPTION_NAMES = {
    **{
        item: f"--{item}"
        for item in ("tiling", "passes", "window", "halo", "block", "dtype", "postprocess", "stack")
    },
    **{dest: flag for flag, dest, _, _ in METHOD_OPTIONS},
}
_CARD = "default: the model's recommendation"


def register(sub: Any) -> None:
    """Add ``segment`` to the ``stratoseg`` sub-parsers."""
    p = sub.add_parser(
        "segment",
        help="segment a volume with a model, block by block",
        description="Run a U-Net model package over the whole image of a workspace (or of an "
        "image, importing it to -o first), block by block, on the GPU when there is one. "
        "Applies everything the model's card recommends (tiling, passes, window, halo, "
        "post-processing and its parameters, storage precision; `stratoseg models show "
        "MODEL` lists them) unless an option below overrides an item. Writes class "
        "probabilities to predictions/RUN and labels to labels/NAME. Interrupted runs "
        "continue with --resume. See docs/inference.md.",
    )
    p.add_argument("source", metavar="SRC_OR_WS", help="a workspace, or an image to import")
    p.add_argument("-o", "--output", metavar="WS.zarr", help="the workspace to create from SRC")
    p.add_argument(
        "--model", required=True, help="a model name (`stratoseg models list`) or package path"
    )
    p.add_argument("--tiling", choices=["crop", "gaussian", "stratified"],
                   help=f"how windows are combined ({_CARD}, else crop)")  # fmt: skip
    p.add_argument("--passes", type=int, help=f"stratified passes ({_CARD}, else 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the stratified draws (0)")
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda", "mps"],
        default="auto",
        help="where the network runs (auto: CUDA, then MPS, then CPU)",
    )
    p.add_argument("--block", type=int_list, help="block shape in voxels, a multiple of the chunks")
    p.add_argument("--window", type=int_list,
                   help=f"network window ({_CARD}, else fitted to the blocks)")  # fmt: skip
    p.add_argument(
        "--halo", type=int_list,
        help=f"voxels of context per window side ({_CARD}, else the network's reach)",
    )  # fmt: skip
    p.add_argument("--batch-size", type=int, default=4, help="windows per forward pass (4)")
    p.add_argument("--run", help="prediction run name (default: the model's name)")
    p.add_argument("--labels", default="segmentation", help="the label image (segmentation)")
    p.add_argument("--no-labels", action="store_true", help="write probabilities only")
    p.add_argument(
        "--postprocess", metavar="METHOD", default="recommended",
        help="how probabilities become labels: 'recommended' (the default: the card's method "
        "with its parameters), 'map' (the most likely class) or a method of `stratoseg "
        "postprocess`; the method options below override single parameters",
    )  # fmt: skip
    p.add_argument(
        "--stack", choices=["link", "split", "volume"],
        help="a 2-D model's slices of a 3-D stack into objects: link (per slice, linked "
        "across z by overlap), split (per slice, touching objects split in 3-D by distance), "
        f"volume (the stacked maps as one volume) ({_CARD}, else link)",
    )  # fmt: skip
    method = p.add_argument_group(
        "post-processing parameters", "each replaces one parameter of the card's method (or of "
        "the method --postprocess names)",
    )  # fmt: skip
    for flag, dest, kind, text in METHOD_OPTIONS:
        method.add_argument(flag, dest=dest, type=kind, help=text)
    p.add_argument(
        "--dtype", choices=["uint8", "float16"],
        help=f"probability storage ({_CARD}, else what the post-processing needs)",
    )  # fmt: skip
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run and labels")
    add_cluster_arguments(p)
    p.set_defaults(func=cmd_segment)


def cmd_segment(args: argparse.Namespace) -> int:
    from stratoseg._cluster import cluster_client
    from stratoseg.jobs import domain_notice, run_segment, segment_recipe
    from stratoseg.models import read_card, resolve_model

    if args.batch_size < 1:
        raise ValueError(f"--batch-size {args.batch_size}: must be at least 1")
    package = resolve_model(args.model)  # unknown models fail before any workspace is made
    card = read_card(package)
    labels = None if args.no_labels else args.labels
    overrides = method_params(args)
    if labels is None and (args.postprocess != "recommended" or overrides or args.stack):
        raise ValueError("--no-labels writes no labels: leave out the post-processing options")
    choices = dict(
        tiling=args.tiling, passes=args.passes, window=one_or_list(args.window),
        halo=one_or_list(args.halo), block=one_or_list(args.block), dtype=args.dtype,
        postprocess=None if labels is None else args.postprocess, params=overrides,
        stack=args.stack, names=OPTION_NAMES,
    )  # fmt: skip
    segment_recipe(card, **choices)  # every option checked before a workspace is made
    with (
        progress_bar("segment", unit="voxel") as bar,
        target_workspace(args.source, args.output, what="segmenting", progress=bar) as ws,
        cluster_client(args.scheduler, args.workers) as client,
    ):
        recipe = segment_recipe(card, shape=ws.spatial_shape, chunks=ws.chunks, **choices)
        notice = domain_notice(ws.image().data, card, voxel_size=ws.voxel_size, unit=ws.unit)
        _tell(recipe.describe(), *(f"note: {n}" for n in recipe.notices),
              *([f"note: {notice}"] if notice else []))  # fmt: skip
        run = run_segment(
            ws, package, recipe, run=args.run, labels=labels, seed=args.seed,
            device=args.device, batch_size=args.batch_size, resume=args.resume,
            overwrite=args.overwrite, client=client, progress=bar,
        )  # fmt: skip
        target = ws.path
    shape = " x ".join(map(str, run.array.shape))
    print(f"wrote {target}/predictions/{args.run or card.name} ({shape}, {run.array.dtype})")
    if labels and not recipe.semantic:
        print(f"wrote {target}/labels/{labels} ({recipe.method} post-processing: objects)")
    elif labels:
        print(f"wrote {target}/labels/{labels} ({recipe.method} of {len(card.classes)} classes)")
    return 0


def _tell(*lines: str) -> None:
    """Lines for the user before the work, above the progress bar (on stdout, with the
    results: stderr carries the bar and errors)."""
    from tqdm import tqdm

    for line in lines:
        tqdm.write(line, file=sys.stdout)
