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

from stratoseg.jobs._items import TILINGS, Items, shown

__all__ = ["SegmentRecipe", "segment_recipe"]

_DEFAULTS: dict[str, Any] = {"tiling": "crop", "passes": 4, "window": None, "halo": None,
                             "block": None}  # fmt: skip


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
                parts.append(f"{item} {shown(o[item])}")
                items.append(item)
        parts[-1] += f" ({self._from(*items)})"
        if self.method is not None:
            args = ", ".join(f"{k}={v}" for k, v in self.params.items() if k != "stack")
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


def segment_recipe(
    card: Any,
    *,
    shape: Sequence[int] | None = None,
    chunks: Sequence[int] | None = None,
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
    work starts; errors name the item as the user knows it (``names``: item or parameter ->
    name, e.g. ``{"window": "--window", "tau1": "--tau1"}``; a value from the card is named as
    the card's) and the value.

    Parameters
    ----------
    card : ModelCard
        The model's card.
    shape : sequence of int, optional
        The image's spatial shape: the network is checked against it, and a 2-D model on a
        stack of more than one slice gets its slices assembled (``stack``) and a notice.
    chunks : sequence of int, optional
        The workspace's chunks: the block is checked against them.
    tiling, passes, window, halo, block, dtype : optional
        Overrides of the card's items (see :func:`~stratoseg.inference.segment_workspace`).
    postprocess : str or None
        ``"recommended"`` (the card's method and parameters), a method of
        :data:`~stratoseg.postprocess.METHODS` (the card's parameters when the card
        recommends that method, else its defaults), or None (no labels).
    params : mapping, optional
        Parameters of the post-processing method that replace the card's.
    stack : str, optional
        ``link``, ``split`` or ``volume`` instead of the card's (default ``link``).
    names : mapping, optional
        How the user calls the items and parameters, for the error messages.

    Returns
    -------
    SegmentRecipe
        The resolved settings, where each came from, and the notices.

    Raises
    ------
    ValueError
        For an item the network or the method cannot take, naming it and its value.
    """
    items = Items(card, dict(names or {}), {})
    cfg = card.architecture.config
    given = {"tiling": tiling, "passes": passes, "window": window, "halo": halo, "block": block}
    options = {item: items.pick(item, value, _DEFAULTS[item]) for item, value in given.items()}
    if options["tiling"] not in TILINGS:
        raise ValueError(f"{items.label('tiling')} {options['tiling']!r}: must be one of "
                         f"{', '.join(TILINGS)}")  # fmt: skip
    if int(options["passes"]) != options["passes"] or int(options["passes"]) < 1:
        raise ValueError(f"{items.label('passes')} {options['passes']}: must be at least 1")
    unit, dims = int(cfg.divisor), int(cfg.spatial_dims)
    options["window"] = items.spatial("window", options["window"], dims=dims, unit=unit,
                                      least=unit)  # fmt: skip
    options["halo"] = items.spatial("halo", options["halo"], dims=dims, unit=unit, least=0)
    options["block"] = items.block(options["block"], shape)
    if shape is not None:
        _check_plan(card, items, shape, chunks, options)
    overrides = dict(params or {})
    method, pp = items.method(postprocess, overrides)
    notices: list[str] = []
    slices = int(shape[0]) if shape is not None and len(shape) == 3 else 1
    two_d = dims == 2 and int(cfg.context) == 1
    items.stack(method, pp, stack, slices=slices, two_d=two_d, notices=notices)
    options["dtype"] = items.dtype(method, dtype, notices)
    if method is not None:
        items.check_params(method, pp, overrides)
    return SegmentRecipe(card.name, options, method, pp, items.sources, notices)


def _check_plan(card: Any, items: Items, shape: Sequence[int], chunks: Sequence[int] | None,
                options: Mapping[str, Any]) -> None:  # fmt: skip
    """The network fits the image (a 2.5D model on a 2-D image does not), and the block the
    workspace's chunks."""
    from stratoseg.inference import plan_segment

    cfg = card.architecture.config
    common = dict(window=options["window"], halo=options["halo"], classes=len(card.classes),
                  tiling=options["tiling"])  # fmt: skip
    plan_segment(cfg, shape, shape, **common)
    if options["block"] is not None and chunks is not None:
        try:
            plan_segment(cfg, shape, chunks, block=options["block"], **common)
        except ValueError as exc:
            raise ValueError(f"{items.label('block')} {shown(options['block'])}: {exc}") from None
