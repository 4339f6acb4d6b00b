"""``stratoseg segment``: a model over a whole volume, block by block, into a workspace."""

from __future__ import annotations

import argparse
from typing import Any

from stratoseg.cli._cluster import add_cluster_arguments
from stratoseg.cli._progress import progress_bar
from stratoseg.cli._target import target_workspace
from stratoseg.cli._types import int_list, one_or_list

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``segment`` to the ``stratoseg`` sub-parsers."""
    p = sub.add_parser(
        "segment",
        help="segment a volume with a model, block by block",
        description="Run a U-Net model package over the whole image of a workspace (or of an "
        "image, importing it to -o first), block by block, on the GPU when there is one. "
        "Writes class probabilities to predictions/RUN and MAP labels to labels/NAME. "
        "Interrupted runs continue with --resume. See docs/inference.md.",
    )
    p.add_argument("source", metavar="SRC_OR_WS", help="a workspace, or an image to import")
    p.add_argument("-o", "--output", metavar="WS.zarr", help="the workspace to create from SRC")
    p.add_argument(
        "--model", required=True, help="a model name (`stratoseg models list`) or package path"
    )
    p.add_argument(
        "--tiling",
        choices=["crop", "gaussian", "stratified"],
        default="crop",
        help="how windows are combined (default: crop)",
    )
    p.add_argument("--passes", type=int, default=4, help="stratified passes (4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the stratified draws (0)")
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda", "mps"],
        default="auto",
        help="where the network runs (auto: CUDA, then MPS, then CPU)",
    )
    p.add_argument("--block", type=int_list, help="block shape in voxels, a multiple of the chunks")
    p.add_argument("--window", type=int_list, help="network window (default: fitted to the blocks)")
    p.add_argument("--halo", type=int_list, help="voxels of context per window side")
    p.add_argument("--batch-size", type=int, default=4, help="windows per forward pass (4)")
    p.add_argument("--run", help="prediction run name (default: the model's name)")
    p.add_argument(
        "--labels", default="segmentation", help="label image for the MAP labels (segmentation)"
    )
    p.add_argument("--no-labels", action="store_true", help="write probabilities only")
    p.add_argument(
        "--postprocess",
        metavar="METHOD",
        help="labels by a post-processing method instead of MAP: 'recommended' (the model's "
        "recommendation, with its settings) or a method of `stratoseg postprocess`",
    )
    p.add_argument(
        "--dtype", choices=["uint8", "float16"], default="uint8", help="probability storage"
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run and labels")
    add_cluster_arguments(p)
    p.set_defaults(func=cmd_segment)


def cmd_segment(args: argparse.Namespace) -> int:
    from stratoseg._cluster import cluster_client
    from stratoseg.inference import segment_workspace
    from stratoseg.models import read_card, resolve_model

    if args.passes < 1:
        raise ValueError(f"--passes must be >= 1, got {args.passes}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    package = resolve_model(args.model)  # unknown models fail before any workspace is made
    card = read_card(package)
    labels = None if args.no_labels else args.labels
    method, params = _postprocessing(args.postprocess, card)
    if method is not None and labels is None:
        raise ValueError("--postprocess writes labels; it cannot go with --no-labels")
    with (
        progress_bar("segment", unit="voxel") as bar,
        target_workspace(args.source, args.output, what="segmenting", progress=bar) as ws,
        cluster_client(args.scheduler, args.workers) as client,
    ):
        if method is not None and ws.labels_in_use(str(labels)) and not args.overwrite:
            raise FileExistsError(
                f"labels {labels!r} already exist in {ws.path} (pass --overwrite to replace them)"
            )
        run = segment_workspace(
            ws,
            package,
            run=args.run,
            labels=None if method is not None else labels,
            tiling=args.tiling,
            passes=args.passes,
            seed=args.seed,
            device=args.device,
            window=one_or_list(args.window),
            halo=one_or_list(args.halo),
            block=one_or_list(args.block),
            batch_size=args.batch_size,
            dtype=args.dtype,
            resume=args.resume,
            overwrite=args.overwrite,
            client=client,
            progress=bar,
        )
        if method is not None:
            from stratoseg.postprocess import postprocess_workspace

            postprocess_workspace(ws, args.run or card.name, method, labels=str(labels),
                                  overwrite=args.overwrite, progress=bar, **params)  # fmt: skip
        target = ws.path
    shape = " x ".join(map(str, run.array.shape))
    print(f"wrote {target}/predictions/{args.run or card.name} ({shape}, {args.dtype})")
    if labels and method is not None:
        print(f"wrote {target}/labels/{labels} ({method} post-processing)")
    elif labels:
        print(f"wrote {target}/labels/{labels} (MAP of {len(card.classes)} classes)")
    return 0


def _postprocessing(choice: str | None, card: Any) -> tuple[str | None, dict[str, Any]]:
    """The method and settings of ``--postprocess``: the card's recommendation for
    ``recommended`` (and for the method it recommends), the method's defaults otherwise."""
    from stratoseg.postprocess import METHODS

    if choice is None:
        return None, {}
    advice = dict(card.recommended.get("postprocess") or {"kind": "map"})
    kind = advice.pop("kind", "map")
    if choice == "recommended" or choice == kind:
        if kind not in METHODS:
            raise ValueError(f"the model recommends an unknown post-processing {kind!r}")
        return kind, advice
    if choice not in METHODS:
        raise ValueError(
            f"--postprocess must be 'recommended' or one of {sorted(METHODS)}, got {choice!r}"
        )
    return choice, {}
