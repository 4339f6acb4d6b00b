"""The items of a segmentation recipe, each resolved and checked on its own: the user's value,
else the card's, else the default; errors name the item as the user knows it (an option for a
value the user gave, "the card's recommended ..." for one the card gave) and the value."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DTYPES", "TILINGS", "Items", "shown", "stack_note"]

TILINGS = ("crop", "gaussian", "stratified")
DTYPES = ("uint8", "float16")


def stack_note(model: str, kind: str, slices: int | None = None, option: str = "stack") -> str:
    """What happens to a 2-D model's slices of a stack (``slices``: how many, if known).

    Examples
    --------
    >>> stack_note("m", "link", 3, "--stack")[:58]
    'm is a 2-D model: each of the 3 z slices is predicted on i'
    """
    how = {
        "link": "each slice is post-processed on its own and its objects are linked to the "
        "next slice's by overlap",
        "split": "each slice is post-processed on its own, then touching objects are split in "
        "3-D by distance (the voxel size's anisotropy counted)",
        "volume": "the stacked maps are post-processed as one volume, which joins objects "
        "across z wherever they overlap",
    }[kind]
    each = f"each of the {slices} z slices" if slices else "each z slice"
    return (f"{model} is a 2-D model: {each} is predicted on its own; {how} ({option} link | "
            "split | volume to choose).")  # fmt: skip


def shown(value: Any) -> str:
    """A value as the user typed it: ``16,64,64`` for a list."""
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


@dataclass
class Items:
    """The card, the user's names for the items, and where each resolved item came from."""

    card: Any
    names: Mapping[str, str]
    sources: dict[str, str]

    def label(self, item: str) -> str:
        """How an error names ``item``: the user's option, or the card's recommendation."""
        if self.sources.get(item) == "card":
            return f"the card's recommended {item}"
        return self.names.get(item, item)

    def pick(self, item: str, value: Any, default: Any) -> Any:
        """The user's ``value`` when given, else the card's, else ``default``."""
        rec = self.card.recommended.get(item)
        if value is not None:
            self.sources[item] = "you"
            return value
        if rec is not None:
            self.sources[item] = "card"
            return rec
        self.sources[item] = "default"
        return default

    def spatial(self, item: str, value: Any, *, dims: int, unit: int, least: int) -> Any:
        """A window or halo: one whole number or one per network axis, a multiple of the
        network's divisor ``unit``, at least ``least``."""
        if value is None:
            return None
        values = [value] if isinstance(value, (int, np.integer)) else list(value)
        if len(values) not in (1, dims) or any(int(v) != v for v in values):
            raise ValueError(f"{self.label(item)} {shown(value)}: give one whole number or "
                             f"{dims} (one per axis of the network)")  # fmt: skip
        if any(int(v) < least or int(v) % unit for v in values):
            raise ValueError(f"{self.label(item)} {shown(value)}: must be a multiple of {unit} "
                             f"(the network's down-sampling factor), at least {least}")  # fmt: skip
        ints = [int(v) for v in values]
        return ints[0] if len(ints) == 1 else ints

    def block(self, value: Any, shape: Sequence[int] | None) -> Any:
        """A block: one whole number >= 1, or one per axis of the image."""
        if value is None:
            return None
        values = [value] if isinstance(value, (int, np.integer)) else list(value)
        axes = (1, len(shape)) if shape is not None else (1, 2, 3)
        if len(values) not in axes or any(int(v) != v or int(v) < 1 for v in values):
            raise ValueError(f"{self.label('block')} {shown(value)}: give whole numbers >= 1, "
                             "one or one per axis of the image")  # fmt: skip
        return value

    def method(self, choice: str | None, overrides: Mapping[str, Any]) -> tuple[Any, dict]:
        """The post-processing method and its parameters (the card's when it recommends that
        method); ``overrides`` replace single parameters."""
        from stratoseg.postprocess import METHODS

        if choice is None:
            self.sources["postprocess"] = "you"
            return None, {}
        advice = dict(self.card.recommended.get("postprocess") or {"kind": "map"})
        kind = advice.pop("kind", "map")
        if choice == "recommended" or choice == kind:
            if kind not in METHODS:
                raise ValueError(
                    f"the model {self.card.name!r} recommends an unknown post-processing "
                    f"{kind!r}; choose one with {self.names.get('postprocess', 'postprocess')}"
                )
            method, params, source = kind, advice, "card"
        elif choice in METHODS:
            method, params, source = choice, {}, "you"
        else:
            raise ValueError(
                f"{self.names.get('postprocess', 'postprocess')} {choice!r}: must be "
                f"'recommended' or one of {', '.join(sorted(METHODS))}"
            )
        if overrides:
            params = {**params, **overrides}
            source = "you" if source == "you" else "the card's, with your changes"
        self.sources["postprocess"] = source
        return method, params

    def recommended_method(self) -> str | None:
        """The method the card recommends (for the precision of a run without labels)."""
        from stratoseg.postprocess import METHODS

        kind = dict(self.card.recommended.get("postprocess") or {"kind": "map"}).get("kind")
        return kind if kind in METHODS else None

    def stack(self, method: str | None, params: dict[str, Any], choice: str | None, *,
              slices: int, two_d: bool, notices: list[str]) -> None:  # fmt: skip
        """``params["stack"]`` for a model's objects on a stack, with what to tell the user."""
        from stratoseg.postprocess import METHODS, check_stack

        rec = self.card.recommended.get("stack")
        option = self.names.get("stack", "stack")
        if choice is not None:
            if choice not in ("link", "split", "volume"):
                raise ValueError(f"{option} {choice!r}: must be one of link, split, volume")
            same = rec is not None and (rec if isinstance(rec, str) else dict(rec).get("kind"))
            kind, sp = check_stack(rec if same == choice else choice)
            self.sources["stack"] = "you"
        elif two_d:
            try:
                kind, sp = check_stack(rec or "link")
            except ValueError as exc:
                raise ValueError(f"the card's recommended stack {rec!r}: {exc}") from None
            self.sources["stack"] = "card" if rec else "default"
        else:
            return
        instances = method is not None and METHODS[method].gives_instances(params)
        if slices <= 1:
            return
        if not instances:
            if choice is not None:
                notices.append(f"{option} {choice} is ignored: {method or 'no post-processing'} "
                               "gives classes, not objects.")  # fmt: skip
            return
        params["stack"] = {"kind": kind, **sp}
        if two_d:
            notices.append(stack_note(self.card.name, kind, slices, option))
        else:
            cfg = self.card.architecture.config
            seen = f"sees {cfg.context} slices" if cfg.context > 1 else "is a 3-D model"
            notices.append(f"{self.card.name} {seen}, yet its maps are post-processed slice by "
                           f"slice ({option} {kind}).")  # fmt: skip

    def dtype(self, method: str | None, choice: str | None, notices: list[str]) -> str:
        """The storage precision: the user's, the card's, or what the post-processing needs
        (the card's recommended one when no labels are written now)."""
        from stratoseg.postprocess import METHODS

        consumer = method or self.recommended_method()
        needs = consumer is not None and METHODS[consumer].needs_float
        if choice is not None:
            if choice not in DTYPES:
                raise ValueError(f"{self.names.get('dtype', 'dtype')} {choice!r}: must be "
                                 "uint8 or float16")  # fmt: skip
            if choice == "uint8" and needs:
                notices.append(
                    f"probabilities stored as uint8: {consumer} works on the maps' fine "
                    "differences, which rounding to 1/255 flattens; float16 (the default for "
                    "it) is what the card's figures were measured with."
                )
            self.sources["dtype"] = "you"
            return choice
        if self.card.recommended.get("dtype") in DTYPES:
            self.sources["dtype"] = "card"
            return str(self.card.recommended["dtype"])
        if needs:
            self.sources["dtype"] = f"float16 because {consumer} needs the maps' fine differences"
            return "float16"
        self.sources["dtype"] = "default"
        return "uint8"

    def check_params(self, method: str, params: Mapping[str, Any],
                     overrides: Mapping[str, Any]) -> None:  # fmt: skip
        """Run the method on a tiny map, so that a bad parameter fails now, not after the
        prediction; a parameter the user gave is named by its option."""
        from stratoseg.postprocess import postprocess

        classes = len(self.card.classes)
        probe = np.full((classes, 3, 8, 8), 1.0 / max(classes, 1), np.float32)
        try:
            postprocess(probe, method, **params)
        except (ValueError, TypeError) as exc:
            text = str(exc)
            found = re.search(r"unexpected keyword argument '(\w+)'", text)
            bad = found.group(1) if found else next((k for k in overrides if k in text), "")
            if bad in overrides:
                what = f"the {method} post-processing takes no {bad}" if found else text
                raise ValueError(f"{self.names.get(bad, bad)} {shown(overrides[bad])}: {what}"
                                 ) from None  # fmt: skip
            where = self.names.get("postprocess", "postprocess")
            if self.sources.get("postprocess") == "card":
                where = "the card's recommended post-processing"
            raise ValueError(f"{where} {method}: {text}") from None
