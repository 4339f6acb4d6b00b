"""The model card: ``model.json`` of a model package (pydantic, no torch)."""

from __future__ import annotations

import json
import math
import re
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from stratoseg.models._config import UNetConfig
from stratoseg.models._domain import DomainSpec

__all__ = [
    "ArchitectureSpec",
    "ChannelSpec",
    "ClassSpec",
    "InputSpec",
    "ModelCard",
    "NormSpec",
    "describe_card_error",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Frozen: pydantic re-runs model validators after an assignment but keeps the assigned value
# when they fail, so a mutable card could be left inconsistent. Use ModelCard.updated().
_CONFIG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
ARCHITECTURES = ("unet",)


def _json_value(value: dict[str, Any], what: str) -> dict[str, Any]:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON-serialisable (no NaN or infinity): {exc}") from None
    return value


class ArchitectureSpec(BaseModel):
    """The network: its kind (only ``"unet"`` so far) and its configuration."""

    model_config = _CONFIG

    kind: Literal["unet"]
    config: UNetConfig

    @field_validator("kind", mode="before")
    @classmethod
    def _known_kind(cls, value: Any) -> Any:
        if value not in ARCHITECTURES:
            known = ", ".join(map(repr, ARCHITECTURES))
            raise ValueError(f"unknown architecture kind {value!r}; supported: {known}")
        return value


class ChannelSpec(BaseModel):
    """One input channel per slice: the image itself, or an enhancement channel computed from it.

    ``params`` is empty for ``"image"``; for ``"enhance"`` it holds the fields of
    :class:`stratoseg.enhance.EnhanceParams`, validated by constructing it and stored complete
    (defaults filled in), so a package keeps its meaning when defaults change.
    """

    model_config = _CONFIG

    source: Literal["image", "enhance"]
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_params(self) -> ChannelSpec:
        if self.source == "image":
            if self.params:
                raise ValueError(f"an 'image' channel takes no params, got {self.params!r}")
            return self
        from stratoseg.enhance import EnhanceParams  # only cards with such channels pay for it

        try:
            full = EnhanceParams(**self.params).model_dump()
        except ValidationError as exc:
            raise ValueError(f"enhance params: {describe_card_error(exc)}") from None
        if full != self.params:
            object.__setattr__(self, "params", full)  # frozen model: set once, while validating
        return self


class NormSpec(BaseModel):
    """Intensity normalisation of the ``"image"`` channels, from whole-volume statistics.

    Enhancement channels go in as computed (their scale is fixed by their parameters), so
    training and inference normalise only the image (the rule ``stratoseg.inference`` follows).

    ``"percentile"``: ``low`` / ``high`` percentiles (of the whole volume) map to 0 / 1;
    ``"minmax"``: its minimum / maximum do; ``"fixed"``: the values ``low`` / ``high`` do;
    ``"none"``: the values go in unchanged. ``low`` and ``high`` are ignored by the last two.
    """

    model_config = _CONFIG

    kind: Literal["percentile", "minmax", "fixed", "none"] = "percentile"
    low: float = 1.0
    high: float = 99.0

    @model_validator(mode="after")
    def _check(self) -> NormSpec:
        if self.kind in ("percentile", "fixed") and not self.low < self.high:
            raise ValueError(f"low must be < high, got low={self.low}, high={self.high}")
        if self.kind == "percentile" and not 0 <= self.low < self.high <= 100:
            raise ValueError(
                f"percentiles must satisfy 0 <= low < high <= 100, got {self.low}, {self.high}"
            )
        return self


class InputSpec(BaseModel):
    """The channels of one slice (``len == config.in_channels``) and the image normalisation.

    In 2.5D each of the ``context`` slices contributes these channels (see :class:`UNetConfig`
    for their order in the network input).
    """

    model_config = _CONFIG

    channels: list[ChannelSpec] = Field(min_length=1)
    normalisation: NormSpec = Field(default_factory=NormSpec)


class ClassSpec(BaseModel):
    """One output channel: a short name and what it means."""

    model_config = _CONFIG

    name: str = Field(min_length=1)
    meaning: str = ""


class ModelCard(BaseModel):
    """Everything about a model except its weights: ``model.json`` of a package.

    Attributes
    ----------
    format_version : 1
        Version of this format.
    name : str
        Letters, digits, ``_.-``, starting with a letter or digit.
    description : str
        Free text.
    architecture : ArchitectureSpec
        ``kind`` (``"unet"``) and the :class:`UNetConfig`.
    input : InputSpec
        One :class:`ChannelSpec` per input channel of a slice, and the normalisation.
    classes : list of ClassSpec
        One per output channel (``len == config.out_channels``), unique names.
    target : str
        What the classes are for, e.g. ``"semantic"``.
    recommended : dict
        Free-form advice: ``tiling``, ``passes``, ``window``, ``halo``, ``postprocess``, ...
    receptive_field : int
        Must equal ``architecture.config.receptive_field`` (a check that the card and the
        network agree).
    voxel_size : list of float, optional
        Voxel size of the training data, (z, y, x) or (y, x), in ``unit``.
    unit : str, optional
        OME unit name of ``voxel_size`` (e.g. ``"nanometer"``).
    provenance : dict
        ``parent``, ``data``, ``loss``, ``steps``, ``created``, ...
    metrics : dict of str to float
        Validation metrics.
    domain : DomainSpec, optional
        The training data's intensity fingerprint (:mod:`stratoseg.models._domain`): inputs
        far from it get an out-of-domain notice.

    Examples
    --------
    >>> cfg = UNetConfig(spatial_dims=2, in_channels=1, out_channels=2, depth=1, base_filters=4)
    >>> card = ModelCard(
    ...     name="tiny",
    ...     architecture={"kind": "unet", "config": cfg},
    ...     input={"channels": [{"source": "image"}]},
    ...     classes=[{"name": "background"}, {"name": "fibre"}],
    ...     receptive_field=cfg.receptive_field,
    ... )
    >>> ModelCard.model_validate_json(card.model_dump_json()) == card
    True
    """

    model_config = _CONFIG

    format_version: Literal[1] = 1
    name: str
    description: str = ""
    architecture: ArchitectureSpec
    input: InputSpec
    classes: list[ClassSpec]
    target: str = Field(default="semantic", min_length=1)
    recommended: dict[str, Any] = Field(default_factory=dict)
    receptive_field: int
    voxel_size: list[float] | None = None
    unit: str | None = None
    provenance: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    domain: DomainSpec | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "must start with a letter or digit and contain only letters, digits, "
                f"'_', '.' and '-', got {value!r}"
            )
        return value

    @field_validator("recommended", "provenance")
    @classmethod
    def _check_json(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _json_value(value, "the value")

    @field_validator("voxel_size")
    @classmethod
    def _check_voxel_size(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and (
            len(value) not in (2, 3) or not all(math.isfinite(v) and v > 0 for v in value)
        ):
            raise ValueError(f"must be 2 or 3 positive values (z, y, x), got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ModelCard:
        cfg = self.architecture.config
        if len(self.input.channels) != cfg.in_channels:
            raise ValueError(
                f"input.channels has {len(self.input.channels)} entries but "
                f"architecture.config.in_channels is {cfg.in_channels}"
            )
        if len(self.classes) != cfg.out_channels:
            raise ValueError(
                f"classes has {len(self.classes)} entries but architecture.config.out_channels "
                f"is {cfg.out_channels}"
            )
        names = [c.name for c in self.classes]
        if len(set(names)) != len(names):
            raise ValueError(f"class names must be unique, got {names}")
        if self.receptive_field != cfg.receptive_field:
            raise ValueError(
                f"receptive_field is {self.receptive_field} but the architecture's is "
                f"{cfg.receptive_field}"
            )
        if self.voxel_size is not None and len(self.voxel_size) < cfg.spatial_dims:
            raise ValueError(
                f"voxel_size {self.voxel_size} has fewer values than spatial_dims "
                f"{cfg.spatial_dims}"
            )
        return self

    def updated(self, **fields: Any) -> ModelCard:
        """A validated copy with ``fields`` replaced (cards are frozen).

        Examples
        --------
        >>> cfg = UNetConfig(spatial_dims=3, in_channels=1, out_channels=1, depth=1,
        ...                  base_filters=2)
        >>> card = ModelCard(name="a", architecture={"kind": "unet", "config": cfg},
        ...                  input={"channels": [{"source": "image"}]},
        ...                  classes=[{"name": "fg"}], receptive_field=18)
        >>> card.updated(metrics={"dice": 0.9}).metrics
        {'dice': 0.9}
        """
        return ModelCard.model_validate({**self.model_dump(), **fields})

    def summary(self) -> dict[str, Any]:
        """A short description: dims (``"2D"``, ``"2.5D (3 slices)"``, ``"3D"``), classes,
        channels, receptive field."""
        cfg = self.architecture.config
        dims = f"2.5D ({cfg.context} slices)" if cfg.context > 1 else f"{cfg.spatial_dims}D"
        return {
            "name": self.name,
            "dims": dims,
            "classes": [c.name for c in self.classes],
            "channels": [c.source for c in self.input.channels],
            "receptive_field": self.receptive_field,
        }


def describe_card_error(exc: BaseException) -> str:
    """One line naming each bad field (dotted location) and the problem.

    Examples
    --------
    >>> try:
    ...     NormSpec(kind="percentile", low=5, high=2)
    ... except ValueError as exc:
    ...     print(describe_card_error(exc))
    low must be < high, got low=5.0, high=2.0
    """
    if not isinstance(exc, ValidationError):
        return str(exc)
    parts = []
    for err in exc.errors():
        loc = ".".join(map(str, err["loc"]))
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)
