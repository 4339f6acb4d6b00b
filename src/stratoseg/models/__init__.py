"""Segmentation networks and model packages.

- :class:`UNetConfig`: the architecture (2-D, 2.5D, 3-D), its :attr:`~UNetConfig.divisor`,
  :attr:`~UNetConfig.receptive_field` and :attr:`~UNetConfig.halo`.
- :class:`UNet`, :func:`build_model`: the ``nn.Module`` (imported lazily: ``import
  stratoseg.models`` does not import torch; touching these names does).
- :class:`ModelCard` and its parts: ``model.json`` of a package.
- :func:`save_package`, :func:`load_package`, :func:`read_card`: packages (a folder or zip with
  ``model.safetensors`` + ``model.json``; never pickles).
- :func:`list_models`, :func:`resolve_model`, :func:`user_model_dir`: the built-in and user
  package folders; :func:`export_package` (a zip to pass on) and :func:`import_package` (a
  zip or folder into the user folder, validated).

See ``docs/models.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stratoseg.models._card import (
    ArchitectureSpec,
    ChannelSpec,
    ClassSpec,
    InputSpec,
    ModelCard,
    NormSpec,
    describe_card_error,
)
from stratoseg.models._config import UNetConfig
from stratoseg.models._domain import (
    FEATURES,
    OUT_OF_DOMAIN,
    DomainSpec,
    domain_from_pieces,
    domain_of,
    domain_sample,
    image_features,
)
from stratoseg.models._package import load_package, read_card, save_package
from stratoseg.models._registry import (
    BUILTIN_DIR,
    ENV_MODEL_DIR,
    ModelEntry,
    is_package,
    list_models,
    package_on_this_machine,
    portable_package,
    resolve_model,
    user_model_dir,
)
from stratoseg.models._transfer import (
    check_model_name,
    export_package,
    import_package,
    shadows_builtin,
)

if TYPE_CHECKING:
    from stratoseg.models._unet import UNet, build_model, inference_copy

__all__ = [
    "BUILTIN_DIR",
    "ENV_MODEL_DIR",
    "FEATURES",
    "OUT_OF_DOMAIN",
    "ArchitectureSpec",
    "ChannelSpec",
    "ClassSpec",
    "DomainSpec",
    "InputSpec",
    "ModelCard",
    "ModelEntry",
    "NormSpec",
    "UNet",
    "UNetConfig",
    "build_model",
    "check_model_name",
    "describe_card_error",
    "domain_from_pieces",
    "domain_of",
    "domain_sample",
    "export_package",
    "image_features",
    "import_package",
    "inference_copy",
    "is_package",
    "list_models",
    "load_package",
    "package_on_this_machine",
    "portable_package",
    "read_card",
    "resolve_model",
    "save_package",
    "shadows_builtin",
    "user_model_dir",
]

_LAZY = {"UNet", "build_model", "inference_copy"}


def __getattr__(name: str) -> Any:
    """Import the torch-dependent names on first use."""
    if name in _LAZY:
        from stratoseg.models import _unet

        return getattr(_unet, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)
