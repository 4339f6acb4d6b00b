"""``stratoseg evaluate``: metrics of a prediction against a ground truth."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

from stratoseg.io import open_volume
from stratoseg.metrics import DEFAULT_METRICS, IMAGE_METRICS, LABEL_METRICS, evaluate

__all__ = ["register"]

_TITLES = {
    "vrand": "V_Rand (foreground-restricted, eq 15)",
    "vinfo": "V_Info (foreground-restricted)",
    "arand": "adapted Rand error",
    "voi": "variation of information (bits)",
    "pq": "instances at IoU > 0.5",
    "jaccard": "semantic classes",
    "bf1": "boundary F1",
    "psnr": "PSNR (dB, eq 16)",
    "ssim": "SSIM (eq 19)",
    "uiq": "UIQ (eq 18)",
}


def register(sub: Any) -> None:
    """Add ``evaluate`` to the ``stratoseg`` sub-parsers."""
    p = sub.add_parser(
        "evaluate",
        help="score a segmentation against a ground truth",
        description="Score PRED against GT (any image StratoSeg reads, e.g. "
        "WS.zarr/labels/segmentation/0, a TIFF, file.h5:/labels). Label metrics: "
        f"{', '.join(LABEL_METRICS)}; image metrics (regression outputs): "
        f"{', '.join(IMAGE_METRICS)}. Definitions: docs/metrics.md.",
    )
    p.add_argument("pred", help="the prediction")
    p.add_argument("gt", help="the ground truth")
    p.add_argument(
        "--metrics",
        default=None,
        metavar="LIST",
        help=f"comma-separated (default: {','.join(DEFAULT_METRICS)}; jaccard "
        "only for images with fewer than 16 labels)",
    )
    p.add_argument(
        "--ignore-label",
        type=int,
        default=None,
        metavar="L",
        help="a ground-truth label not scored (e.g. unannotated voxels)",
    )
    p.add_argument("--alpha", type=float, default=0.5, help="V_Rand/V_Info weight (0.5)")
    p.add_argument(
        "--tolerance", type=float, default=2.0, help="boundary F1 tolerance radius in voxels (2)"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_evaluate)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN (class absent) or inf (PSNR of identical images): null in JSON
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def cmd_evaluate(args: argparse.Namespace) -> int:
    metrics = None
    if args.metrics is not None:
        metrics = [m.strip().lower() for m in args.metrics.split(",") if m.strip()]
    pred, gt = open_volume(args.pred), open_volume(args.gt)
    if pred.shape != gt.shape:
        raise ValueError(
            f"pred and gt must have the same shape, got {pred.shape} ({args.pred}) "
            f"and {gt.shape} ({args.gt})"
        )
    scores = evaluate(
        pred.data,
        gt.data,
        metrics=metrics,
        ignore_label=args.ignore_label,
        alpha=args.alpha,
        tolerance=args.tolerance,
        voxel_size=None,
    )
    if args.json:
        print(
            json.dumps(
                _json_safe(
                    {"pred": args.pred, "gt": args.gt, "shape": list(pred.shape), "metrics": scores}
                )
            )
        )
        return 0
    print(f"pred  {args.pred}\ngt    {args.gt}\nshape {' x '.join(map(str, pred.shape))}")
    for name, fields in scores.items():
        print(f"\n{_TITLES[name]}")
        for key, value in fields.items():
            if key == "confusion":
                continue  # in --json only
            if isinstance(value, list):
                if len(value) > 16:
                    print(f"  {key:<13} ({len(value)} classes: see --json)")
                    continue
                value = "  ".join(
                    f"{c}:{'-' if v is None or v != v else f'{v:.4f}'}" for c, v in enumerate(value)
                )
            elif isinstance(value, float):
                value = f"{value:.4f}"
            print(f"  {key:<13} {value}")
    return 0
