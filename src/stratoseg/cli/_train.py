"""``stratoseg train``: train or fine-tune a model on the reviewed labels of a workspace."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

__all__ = ["register"]

# the names of stratoseg.training's TARGETS, LOSSES and WEIGHTS (that package imports torch;
# the command line does not until it runs; tests/cli/test_cli_train.py checks they agree)
TARGET_NAMES = ["boundary", "semantic", "touching", "touching-gap", "touching-mask"]
LOSS_NAMES = ["ce", "focal", "jaccard", "jaccard2", "dice", "ce-youden", "ce-jaccard"]
WEIGHT_NAMES = ["none", "balance", "unet", "dwm", "saw", "w3"]


def register(sub: Any) -> None:
    """Add ``train`` to the ``stratoseg`` sub-parsers."""
    p = sub.add_parser(
        "train",
        help="train or fine-tune a model on reviewed labels",
        description="Train a U-Net (or fine-tune --base-model) on the voxels of a label image "
        "that are marked reviewed, and write a model package to -o, registered under its name "
        "in your model folder. A checkpoint beside -o lets an interrupted run continue with "
        "--resume. See docs/training.md.",
    )
    p.add_argument("workspace", metavar="WS.zarr", help="the workspace holding the labels")
    p.add_argument("-o", "--output", required=True, metavar="MODEL", help="the package to "
                   "write: a folder, or a .zip")  # fmt: skip
    p.add_argument("--labels", required=True, help="the label image to learn from")
    p.add_argument("--image", metavar="PATH_IN_WS", help="the workspace array to learn from "
                   "(default: the raw image)")  # fmt: skip
    p.add_argument("--base-model", metavar="M", help="a model name or package to fine-tune "
                   "(default: a new network)")  # fmt: skip
    p.add_argument("--name", help="the new model's name (default: the output's name)")
    p.add_argument("--target", choices=TARGET_NAMES, default="semantic",
                   help="what the network learns from the labels (semantic)")  # fmt: skip
    p.add_argument("--loss", choices=LOSS_NAMES, default="ce-jaccard",
                   help="the loss (ce-jaccard)")  # fmt: skip
    p.add_argument("--patience", type=int, help="validations without improvement before "
                   "stopping (default: use the whole budget)")  # fmt: skip
    p.add_argument("--weights", choices=WEIGHT_NAMES, default="none",
                   help="the weight map of the cross-entropy losses (none)")  # fmt: skip
    p.add_argument("--patch", type=int, help="patch side (128 for 2-D, 48 for 3-D networks)")
    p.add_argument("--batch-size", type=int, help="patches per step (8 for 2-D, 2 for 3-D)")
    stop = p.add_mutually_exclusive_group()
    stop.add_argument("--steps", type=int, help="steps to take (default 500)")
    stop.add_argument("--minutes", type=float, help="time to train for")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate (0.001)")
    p.add_argument("--val-fraction", type=float, default=0.2,
                   help="share of reviewed voxels held out for validation (0.2)")  # fmt: skip
    p.add_argument("--val-every", type=int, default=50, help="steps between validations (50)")
    p.add_argument("--freeze-encoder", action="store_true", help="fine-tune the decoder only")
    p.add_argument("--classes", help="names of the semantic classes, comma separated")
    p.add_argument("--dims", type=int, choices=[2, 3], default=2, help="a new network: 2 or 3")
    p.add_argument("--context", type=int, default=1, help="a new 2-D network: slices seen (1)")
    p.add_argument("--depth", type=int, default=4, help="a new network: down-samplings (4)")
    p.add_argument("--filters", type=int, default=16, help="a new network: filters (16)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and the patches (0)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto",
                   help="where to train (auto: CUDA, then MPS, then CPU)")  # fmt: skip
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--overwrite", action="store_true", help="replace -o and a user model of "
                   "the same name")  # fmt: skip
    p.add_argument("--no-register", action="store_true", help="do not copy the package into "
                   "your model folder")  # fmt: skip
    p.set_defaults(func=cmd_train)


def config_from_args(args: argparse.Namespace, classes: int | None) -> Any:
    """The :class:`TrainConfig`; invalid values become one line naming the options."""
    from stratoseg.enhance import describe_params_error
    from stratoseg.models import UNetConfig
    from stratoseg.training import TrainConfig

    out = Path(args.output)
    name = args.name or (out.stem if out.suffix.lower() == ".zip" else out.name)
    settings: dict[str, Any] = {
        "name": name, "target": args.target, "loss": args.loss, "weights": args.weights,
        "patch": args.patch, "batch_size": args.batch_size, "lr": args.lr,
        "val_fraction": args.val_fraction, "val_every": args.val_every,
        "freeze_encoder": args.freeze_encoder, "seed": args.seed, "device": args.device,
        "patience": args.patience,
        "steps": args.steps if args.minutes is None else None, "minutes": args.minutes,
    }  # fmt: skip
    if settings["steps"] is None and args.minutes is None:
        settings["steps"] = 500
    if args.base_model is None and classes is not None:
        try:
            settings["architecture"] = UNetConfig(
                spatial_dims=args.dims, in_channels=1, out_channels=classes,
                depth=args.depth, base_filters=args.filters, context=args.context,
            )  # fmt: skip
        except ValidationError as exc:
            raise ValueError(_architecture_error(exc)) from None
    try:
        return TrainConfig(**settings)
    except ValidationError as exc:
        raise ValueError(describe_params_error(exc, as_flags=True)) from None


#: The options that set the fields of a new network's UNetConfig.
_ARCHITECTURE_FLAGS = {"spatial_dims": "--dims", "depth": "--depth", "base_filters": "--filters",
                       "context": "--context", "out_channels": "--classes"}  # fmt: skip


def _architecture_error(exc: ValidationError) -> str:
    """One line naming the option behind each bad field of a new network; the checks that
    concern several fields (the network's size, an even context) keep their own message."""
    parts = []
    for err in exc.errors():
        msg = err["msg"].removeprefix("Value error, ")
        if not err["loc"]:
            parts.append(msg)
            continue
        field = str(err["loc"][0])
        flag = _ARCHITECTURE_FLAGS.get(field, field)
        parts.append(f"{flag} {msg[:1].lower()}{msg[1:]}, got {err['input']!r}")
    return "; ".join(parts)


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from stratoseg.models import resolve_model
    from stratoseg.training import TARGETS, train_workspace
    from stratoseg.training._run import _semantic_classes
    from stratoseg.workspace import Workspace

    base = None if args.base_model is None else resolve_model(args.base_model)
    names = [c.strip() for c in args.classes.split(",")] if args.classes else None
    with Workspace.open(args.workspace, mode="r+") as ws:
        labels, reviewed = ws.labels(args.labels), ws.reviewed(args.labels)
        fixed = TARGETS[args.target].classes
        classes = len(fixed) if fixed else (len(names) if names else None)
        if base is None and classes is None:
            classes = _semantic_classes(labels, reviewed)
        config = config_from_args(args, classes)
        bar = tqdm(desc="train", total=1000, unit="", bar_format="{l_bar}{bar}| {elapsed}<"
                   "{remaining}{postfix}", disable=None, leave=False)  # fmt: skip

        def progress(p: Any) -> None:
            bar.n = int(1000 * p.fraction)
            bar.set_postfix_str(f"step {p.step} loss {p.loss:.3f}", refresh=True)
            if p.validation:
                tqdm.write(f"step {p.step}: loss {p.loss:.3f}, validation " + ", ".join(
                    f"{k.removeprefix('jaccard_')} {v:.3f}" for k, v in p.validation.items()
                    if k.startswith("jaccard_") or k in ("mean_jaccard", "pq")))  # fmt: skip

        try:
            result = train_workspace(
                ws, args.labels, out=args.output, image=args.image, config=config,
                base_model=base, class_names=names, resume=args.resume,
                overwrite=args.overwrite, register=not args.no_register, progress=progress,
            )  # fmt: skip
        except KeyboardInterrupt:
            bar.close()
            print(f"error: interrupted; continue with the same command and --resume "
                  f"(checkpoint {args.output}.checkpoint)", file=sys.stderr)  # fmt: skip
            return 130
        finally:
            bar.close()
    card = result.card
    print(f"wrote {result.path} ({card.name}: {result.steps} steps in {result.seconds:.0f} s, "
          f"stopped by {result.stopped})")  # fmt: skip
    if result.registered is not None:
        print(f"registered as {card.name!r} ({result.registered})")
    if card.metrics:
        print("validation: " + ", ".join(f"{k.removeprefix('val_')} {v:.3f}"
                                         for k, v in card.metrics.items()))  # fmt: skip
    return 0
