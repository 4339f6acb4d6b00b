"""The ``--scheduler`` / ``--workers`` options of the block-wise commands."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_cluster_arguments"]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of workers: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 worker, got {value}")
    return value


def add_cluster_arguments(parser: Any) -> None:
    """Add ``--scheduler ADDRESS`` and ``--workers N`` (one or the other) to ``parser``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the blocks on an existing dask.distributed scheduler (e.g. "
        "tcp://10.0.0.5:8786); the workspace must be on storage every worker sees",
    )
    group.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="run the blocks on a local dask cluster of N worker processes",
    )
