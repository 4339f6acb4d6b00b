"""``stratoseg models list|show|export|import``: the installed model packages, and moving
them between machines."""

from __future__ import annotations

import argparse
import json
from typing import Any

from stratoseg.models import (
    BUILTIN_DIR,
    ENV_MODEL_DIR,
    ModelCard,
    export_package,
    import_package,
    list_models,
    read_card,
    resolve_model,
    shadows_builtin,
    user_model_dir,
)

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``models`` (``list``, ``show``, ``export``, ``import``) to the sub-parsers."""
    p = sub.add_parser(
        "models",
        help="list, show, export or import model packages",
        description="Model packages are folders (or zips) with model.json and "
        f"model.safetensors. User packages live in ${ENV_MODEL_DIR} when set, else in the user "
        "data folder; they shadow built-in packages of the same name. See docs/models.md.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = actions.add_parser("list", help="one row per package: name, source, dims, classes, path")
    q.add_argument("--json", action="store_true", help="print a JSON list")
    q.set_defaults(func=cmd_list)
    q = actions.add_parser("show", help="show the card of a package")
    q.add_argument("model", metavar="NAME_OR_PATH", help="a registered name, or a package path")
    q.add_argument("--json", action="store_true", help="print the card as JSON")
    q.set_defaults(func=cmd_show)
    q = actions.add_parser(
        "export", help="write a package as one zip, to pass on",
        description="Check a package (card, safetensors weights, every tensor against the "
        "architecture) and write it as OUT.zip with model.json and model.safetensors.",
    )  # fmt: skip
    q.add_argument("model", metavar="NAME_OR_PATH", help="a registered name, or a package path")
    q.add_argument("out", metavar="OUT.zip", help="the zip to write")
    q.add_argument("--overwrite", action="store_true", help="replace an existing OUT.zip")
    q.set_defaults(func=cmd_export)
    q = actions.add_parser(
        "import", help="install a package zip or folder into your model folder",
        description="Validate a package (no path traversal in the zip, safetensors only, a "
        "known architecture, every tensor fits it) and install it as NAME/ in the user model "
        f"folder (${ENV_MODEL_DIR} when set). A package named like a built-in one shadows it.",
    )  # fmt: skip
    q.add_argument("source", metavar="ZIP_OR_FOLDER", help="the package to install")
    q.add_argument("--name", help="the name to register it under (default: its card's name)")
    q.add_argument("--overwrite", action="store_true", help="replace an installed package")
    q.set_defaults(func=cmd_import)


def cmd_list(args: argparse.Namespace) -> int:
    entries = list_models()
    if args.json:
        print(json.dumps([e.summary() for e in entries], indent=2))
        return 0
    if not entries:
        print(
            f"no models installed; put packages (NAME/ folders or NAME.zip) in "
            f"{user_model_dir()} (set ${ENV_MODEL_DIR} to use another folder); built-in "
            f"packages go in {BUILTIN_DIR}"
        )
        return 0
    rows = [("NAME", "SOURCE", "DIMS", "CLASSES", "PATH")]
    for e in entries:
        source = f"{e.source} (shadowed)" if e.shadowed else e.source
        if e.card is None:
            rows.append((e.name, source, "?", f"unreadable: {e.error}", str(e.path)))
            continue
        s = e.card.summary()
        rows.append((e.name, source, s["dims"], ",".join(s["classes"]), str(e.path)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(f"{r[i]:<{widths[i]}}" for i in range(4)) + "  " + r[4])
    return 0


def _kv(rows: dict[str, Any]) -> None:
    width = max(len(k) for k in rows)
    for k, v in rows.items():
        print(f"{k:<{width}}  {v if v not in (None, '', [], {}) else '-'}")


def _compact(d: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in d.items())


def _card_rows(card: ModelCard) -> dict[str, Any]:
    cfg = card.architecture.config
    channels = []
    for ch in card.input.channels:
        channels.append(ch.source if not ch.params else f"{ch.source} ({_compact(ch.params)})")
    norm = card.input.normalisation
    classes = card.classes
    if norm.kind in ("percentile", "fixed"):
        norm_text = f"{norm.kind} {norm.low:g} .. {norm.high:g}"
    else:
        norm_text = norm.kind
    voxel = None
    if card.voxel_size is not None:
        voxel = f"{' x '.join(f'{v:g}' for v in card.voxel_size)} {card.unit or '(no unit)'}"
    return {
        "name": card.name,
        "description": card.description,
        "architecture": (
            f"{card.architecture.kind} {card.summary()['dims']}, depth {cfg.depth}, "
            f"{cfg.base_filters} base filters, norm {cfg.norm}"
            + (f" ({cfg.groups} groups)" if cfg.norm == "group" else "")
            + f", {cfg.activation}, upsample {cfg.upsample}"
        ),
        "input channels": "; ".join(channels),
        "normalisation": norm_text,
        "classes": "; ".join(f"{c.name}: {c.meaning}" if c.meaning else c.name for c in classes),
        "target": card.target,
        "receptive field": (
            f"{card.receptive_field} (halo {cfg.halo}, window sizes multiples of {cfg.divisor})"
            + (f"; {cfg.context} slices in z" if cfg.context > 1 else "")
        ),
        "voxel size": voxel,
        "recommended": _compact(card.recommended),
        **_applied(card),
        "provenance": _compact(card.provenance),
        "metrics": ", ".join(f"{k}={v:.4g}" for k, v in card.metrics.items()),
    }


def _applied(card: ModelCard) -> dict[str, str]:
    """What ``stratoseg segment`` applies with this card's defaults (on a volume and, for a
    2-D model, on a stack), and whether inputs are checked against its training data."""
    from stratoseg.jobs import segment_recipe, stack_note

    try:
        recipe = segment_recipe(card, shape=(2, 64, 64))
    except ValueError as exc:  # a card whose recommendation cannot run
        return {"segment applies": f"nothing: {exc}"}
    rows = {"segment applies": recipe.describe().split(": ", 1)[1]}
    stack = recipe.params.get("stack")
    if stack and recipe.notices:  # a 2-D model whose objects are assembled from slices
        rows["on a 3-D stack"] = stack_note(card.name, stack["kind"], option="--stack")
    domain = card.domain
    rows["domain check"] = (
        f"inputs compared with the training data's fingerprint ({domain.pieces} pieces)"
        if domain is not None else "none (the card has no training-data fingerprint)"
    )  # fmt: skip
    return rows


def cmd_show(args: argparse.Namespace) -> int:
    path = resolve_model(args.model)
    card = read_card(path)
    if args.json:
        print(card.model_dump_json(indent=2))
        return 0
    rows = _card_rows(card)
    rows["path"] = str(path)
    _kv(rows)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    out = export_package(args.model, args.out, overwrite=args.overwrite)
    print(f"exported {args.model} to {out} ({out.stat().st_size / 2**20:.1f} MB)")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    path = import_package(args.source, name=args.name, overwrite=args.overwrite)
    print(f"imported {args.source} as {path.name} into {path.parent}")
    if shadows_builtin(path.name):
        print(f"note: it shadows the built-in package {path.name}; remove {path} to use that again")
    return 0
