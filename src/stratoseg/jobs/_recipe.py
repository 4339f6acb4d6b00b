"""What a segmentation will do: the model card's recommendation, item by item, unless the user
overrides it. One resolver for the command line and the Segment widget, so both apply the same
settings and say the same about them.

The card's ``recommended`` dict may hold ``tiling``, ``passes``, ``window``, ``halo``,
``block``, ``dtype``, ``postprocess`` (``{"kind": method, **params}``) and ``stack`` (how a 2-D
model's slices become 3-D objects: ``{"kind": "link" | "split" | "volume", **params}``).
Anything it leaves out takes the program's default; the storage precision, when neither card
nor user sets it, follows the post-processing (float16 for the methods that flood or finely
threshold the maps, uint8 otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["SegmentRecipe", "segment_recipe", "stack_note"]

TILINGS = ("crop", "gaussian", "stratified")
DTYPES = ("uint8", "float16")
_DEFAULTS: dict[str, Any] = {"tiling": "crop", "passes": 4, "window": None, "halo": None,
                             "block": None}  # fmt: skip


def _name(names: Mapping[str, str], item: str) -> str:
    return names.get(item, item)


def _spatial(value: Any, item: str, names: Mapping[str, str], *, dims: int,
             unit: int, least: int) -> int | list[int] | None:  # fmt: skip
    """``value`` (an int, or one per network axis) checked against the network's divisor."""
    if value is None:
        return None
    values = [value] if isinstance(value, (int, np.integer)) else list(value)
    shown = value if isinstance(value, (int, np.integer)) else ",".join(map(str, values))
    if len(values) not in (1, dims) or any(int(v) != v for v in values):
        raise ValueError(
            f"{_name(names, item)} {shown}: give one whole number or {dims} (one per axis of "
            "the network)"
        )
    if any(int(v) < least or int(v) % unit for v in values):
        raise ValueError(
            f"{_name(names, item)} {shown}: must be a multiple of {unit} (the network's "
            f"down-sampling factor){', at least ' + str(unit) if least else ''}"
        )
    ints = [int(v) for v in values]
    return ints[0] if len(ints) == 1 else ints


@dataclass(frozen=True)
class SegmentRecipe:
    """Everything one segmentation applies, with where each item came from.

    Attributes
    ----------
    model : str
        The card's name.
    options : dict
        Keyword arguments of :func:`~stratoseg.inference.segment_workspace` (tiling, passes,
        window, halo, block, dtype).
    method : str or None
        The post-processing method (None: no labels are written).
    params : dict
        Its parameters (the card's when it recommends that method), ``stack`` included for
        a 2-D model on a stack.
    sources : dict
        Item -> ``"card"``, ``"you"`` or ``"default"`` (``dtype`` may say why it was chosen).
    notices : list of str
        What the user should know before the run (2-D model on a stack, a precision below
        what the post-processing needs).
    """

    model: str
    options: dict[str, Any]
    method: str | None
    params: dict[str, Any]
    sources: dict[str, str]
    notices: list[str] = field(default_factory=list)

    @property
    def semantic(self) -> bool:
        """Whether the labels are classes (MAP) rather than objects."""
        from stratoseg.postprocess import METHODS

        return self.method is None or not METHODS[self.method].gives_instances(self.params)

    def describe(self) -> str:
        """One line: what will be applied and where each item came from."""
        o = self.options
        parts, items = [f"tiling {o['tiling']}"], ["tiling"]
        if o["tiling"] == "stratified":
            parts.append(f"{o['passes']} passes")
            items.append("passes")
        for item in ("window", "halo", "block"):
            if o.get(item) is not None:
                value = o[item]
                text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
                parts.append(f"{item} {text}")
                items.append(item)
        parts[-1] += f" ({self._from(*items)})"
        if self.method is not None:
            shown = {k: v for k, v in self.params.items() if k != "stack"}
            args = ", ".join(f"{k}={v}" for k, v in shown.items())
            parts.append(f"post-processing {self.method}" + (f" ({args})" if args else "")
                         + f" ({_said(self.sources['postprocess'])})")  # fmt: skip
            if "stack" in self.params:
                stack = dict(self.params["stack"])
                kind = stack.pop("kind")
                extra = ", ".join(f"{k}={v}" for k, v in stack.items())
                parts.append(f"slices assembled by {kind}" + (f" ({extra})" if extra else "")
                             + f" ({_said(self.sources['stack'])})")  # fmt: skip
        parts.append(f"probabilities stored as {o['dtype']} ({_said(self.sources['dtype'])})")
        return f"{self.model}: " + "; ".join(parts)

    def _from(self, *items: str) -> str:
        seen = {self.sources[i] for i in items if i in self.sources}
        if "you" in seen:
            return "yours and the card's" if "card" in seen else "yours"
        return "the card's" if "card" in seen else "defaults"


def _said(source: str) -> str:
    return {"card": "the card's", "you": "yours"}.get(source, source)


def _method(card: Any, choice: str | None, overrides: Mapping[str, Any],
            names: Mapping[str, str]) -> tuple[str | None, dict[str, Any], str]:  # fmt: skip
    """The post-processing method, its parameters and where they came from."""
    from stratoseg.postprocess import METHODS

    if choice is None:
        return None, {}, "you"
    advice = dict(card.recommended.get("postprocess") or {"kind": "map"})
    kind = advice.pop("kind", "map")
    if choice == "recommended" or choice == kind:
        if kind not in METHODS:
            raise ValueError(
                f"the model {card.name!r} recommends an unknown post-processing {kind!r}; "
                f"choose one with {_name(names, 'postprocess')}"
            )
        method, params, source = kind, advice, "card"
    elif choice in METHODS:
        method, params, source = choice, {}, "you"
    else:
        raise ValueError(
            f"{_name(names, 'postprocess')} {choice!r}: must be 'recommended' or one of "
            f"{', '.join(sorted(METHODS))}"
        )
    if overrides:
        params = {**params, **overrides}
        source = "you" if source == "you" else "the card's, with your changes"
    return method, params, source


def segment_recipe(
    card: Any,
    *,
    shape: Sequence[int] | None = None,
    tiling: str | None = None,
    passes: int | None = None,
    window: int | Sequence[int] | None = None,
    halo: int | Sequence[int] | None = None,
    block: int | Sequence[int] | None = None,
    dtype: str | None = None,
    postprocess: str | None = "recommended",
    params: Mapping[str, Any] | None = None,
    stack: str | None = None,
    names: Mapping[str, str] | None = None,
) -> SegmentRecipe:
    """The settings of a segmentation with ``card``: each item the user's when given (not
    None), else the card's recommendation, else the default. Checks every item before any
    work starts; errors name the option as the user knows it (``names``: item -> name, e.g.
    ``{"window": "--window"}``) and the value.

    Parameters
    ----------
    card : ModelCard
    shape : sequence of int, optional
        The image's spatial shape: a 2-D model on a stack of more than one slice gets its
        slices assembled (``stack``) and a notice.
    postprocess : str or None
        ``"recommended"`` (the card's method and parameters), a method of
        :data:`~stratoseg.postprocess.METHODS` (the card's parameters when the card
        recommends that method, else its defaults), or None (no labels).
    params : mapping, optional
        Parameters of the post-processing method that replace the card's.
    stack : str, optional
        ``link``, ``split`` or ``volume`` instead of the card's (default ``link``).
    """
    names = dict(names or {})
    rec = dict(card.recommended)
    cfg = card.architecture.config
    given = {"tiling": tiling, "passes": passes, "window": window, "halo": halo, "block": block}
    options: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for item, value in given.items():
        if value is not None:
            options[item], sources[item] = value, "you"
        elif rec.get(item) is not None:
            options[item], sources[item] = rec[item], "card"
        else:
            options[item], sources[item] = _DEFAULTS[item], "default"
    if options["tiling"] not in TILINGS:
        raise ValueError(f"{_name(names, 'tiling')} {options['tiling']!r}: must be one of "
                         f"{', '.join(TILINGS)}")  # fmt: skip
    if int(options["passes"]) != options["passes"] or int(options["passes"]) < 1:
        raise ValueError(f"{_name(names, 'passes')} {options['passes']}: must be at least 1")
    unit, dims = int(cfg.divisor), int(cfg.spatial_dims)
    options["window"] = _spatial(options["window"], "window", names, dims=dims, unit=unit,
                                 least=unit)  # fmt: skip
    options["halo"] = _spatial(options["halo"], "halo", names, dims=dims, unit=unit, least=0)
    if shape is not None:  # the network fits the image (a 2.5D model on a 2-D image does not)
        from stratoseg.inference import plan_segment

        plan_segment(cfg, shape, shape, window=options["window"], halo=options["halo"],
                     classes=len(card.classes), tiling=options["tiling"])  # fmt: skip
    method, pp, sources["postprocess"] = _method(card, postprocess, params or {}, names)
    notices: list[str] = []
    slices = int(shape[0]) if shape is not None and len(shape) == 3 else 1
    two_d = dims == 2 and int(cfg.context) == 1
    _stack(card, method, pp, stack, names, sources, notices, slices=slices, two_d=two_d)
    options["dtype"], sources["dtype"] = _dtype(card, method, dtype, names, notices)
    if method is not None:
        _check_params(method, pp, len(card.classes), names)
    return SegmentRecipe(card.name, options, method, pp, sources, notices)


def _stack(card: Any, method: str | None, params: dict[str, Any], choice: str | None,
           names: Mapping[str, str], sources: dict[str, str], notices: list[str], *,
           slices: int, two_d: bool) -> None:  # fmt: skip
    """Set ``params["stack"]`` for a 2-D model's objects on a stack, with the notice."""
    from stratoseg.postprocess import METHODS, check_stack

    rec = card.recommended.get("stack")
    instances = method is not None and METHODS[method].gives_instances(params)
    if choice is not None:
        try:
            kind, sp = check_stack(rec if rec and dict(rec).get("kind") == choice else choice)
        except ValueError:
            raise ValueError(f"{_name(names, 'stack')} {choice!r}: must be one of link, "
                             "split, volume") from None  # fmt: skip
        sources["stack"] = "you"
    elif two_d:
        kind, sp = check_stack(rec or "link")
        sources["stack"] = "card" if rec else "default"
    else:
        return
    if not (instances and slices > 1):
        return
    params["stack"] = {"kind": kind, **sp}
    if two_d:
        notices.append(stack_note(card.name, kind, slices, _name(names, "stack")))


def stack_note(model: str, kind: str, slices: int | None = None, option: str = "stack") -> str:
    """What happens to a 2-D model's slices of a stack (``slices``: how many, if known)."""
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


def _dtype(card: Any, method: str | None, choice: str | None, names: Mapping[str, str],
           notices: list[str]) -> tuple[str, str]:  # fmt: skip
    from stratoseg.postprocess import METHODS

    needs = method is not None and METHODS[method].needs_float
    if choice is not None:
        if choice not in DTYPES:
            raise ValueError(f"{_name(names, 'dtype')} {choice!r}: must be uint8 or float16")
        if choice == "uint8" and needs:
            notices.append(
                f"probabilities stored as uint8: {method} works on the maps' fine "
                "differences, which rounding to 1/255 flattens; float16 (the default for it) "
                "is what the card's figures were measured with."
            )
        return choice, "you"
    if card.recommended.get("dtype") in DTYPES:
        return str(card.recommended["dtype"]), "card"
    if needs:
        return "float16", f"float16 because {method} needs the maps' fine differences"
    return "uint8", "default"


def _check_params(method: str, params: Mapping[str, Any], classes: int,
                  names: Mapping[str, str]) -> None:  # fmt: skip
    """Run the method on a tiny map, so that a bad parameter fails now, not after the
    prediction."""
    from stratoseg.postprocess import postprocess

    probe = np.full((classes, 3, 8, 8), 1.0 / max(classes, 1), np.float32)
    try:
        postprocess(probe, method, **params)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{_name(names, 'postprocess')} {method}: {exc}") from None
