"""Argument types shared by the block-wise commands (``segment``, ``postprocess``)."""

from __future__ import annotations

import argparse

__all__ = ["int_list", "one_or_list"]


def int_list(text: str) -> list[int]:
    """``"16,64,64"`` as ``[16, 64, 64]`` (an argparse ``type``); a usage error otherwise."""
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer or a list like 16,64,64: {text!r}"
        ) from None


def one_or_list(values: list[int] | None) -> int | list[int] | None:
    """A one-entry list as its entry (the same for every axis), longer lists as they are."""
    if values is None:
        return None
    return values[0] if len(values) == 1 else values
