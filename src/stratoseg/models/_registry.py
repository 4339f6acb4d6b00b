"""Where model packages live and how a name finds one (no torch here).

Two folders hold packages, each package a folder ``NAME/`` (with ``model.json`` and
``model.safetensors``) or a zip ``NAME.zip``:

- user packages: ``$STRATOSEG_MODEL_DIR`` when set (read at every call), else
  ``platformdirs.user_data_dir("stratoseg")/models``;
- built-in packages: ``stratoseg/models/builtin/`` inside the installed package.

A package's registered name is its folder name or zip stem (what ``stratoseg models list``
shows), so a name is found without reading every card. User packages shadow built-in ones of
the same name (a fine-tuned copy replaces the original without touching the installation), and
within one folder ``NAME/`` shadows ``NAME.zip``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import platformdirs

from stratoseg.models._card import ModelCard
from stratoseg.models._package import CARD_FILE, read_card

__all__ = [
    "BUILTIN_DIR",
    "ENV_MODEL_DIR",
    "ModelEntry",
    "is_package",
    "list_models",
    "package_on_this_machine",
    "portable_package",
    "resolve_model",
    "user_model_dir",
]

ENV_MODEL_DIR = "STRATOSEG_MODEL_DIR"
BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"


def portable_package(path: str | os.PathLike[str]) -> str:
    """A reference to a package that another machine of a cluster can resolve: a built-in
    package as ``builtin:<its path in BUILTIN_DIR>`` (each worker has its own install path),
    any other as its absolute path (on storage every worker sees)."""
    resolved = Path(path).resolve()
    if resolved.is_relative_to(BUILTIN_DIR):
        return "builtin:" + resolved.relative_to(BUILTIN_DIR).as_posix()
    return str(resolved)


def package_on_this_machine(reference: str) -> Path:
    """The path of a :func:`portable_package` reference in this process's install."""
    if reference.startswith("builtin:"):
        return BUILTIN_DIR / reference.removeprefix("builtin:")
    return Path(reference)


def user_model_dir() -> Path:
    """The folder of user packages: ``$STRATOSEG_MODEL_DIR``, else
    ``platformdirs.user_data_dir("stratoseg")/models`` (it need not exist).

    Raises
    ------
    ValueError
        If it exists and is not a folder (a misspelt ``$STRATOSEG_MODEL_DIR``, say).
    """
    env = os.environ.get(ENV_MODEL_DIR, "").strip()
    folder = (
        Path(env).expanduser() if env else Path(platformdirs.user_data_dir("stratoseg")) / "models"
    )
    if folder.exists() and not folder.is_dir():
        where = f"${ENV_MODEL_DIR}={env}" if env else str(folder)
        raise ValueError(f"the user model folder {where} is a file, not a folder")
    return folder


def is_package(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` looks like a package: a folder with ``model.json``, or a ``.zip`` file
    (only the names are checked; :func:`read_card` checks the contents)."""
    p = Path(path)
    if p.is_dir():
        return (p / CARD_FILE).is_file()
    return p.is_file() and p.suffix.lower() == ".zip"


@dataclass(frozen=True)
class ModelEntry:
    """One package found in a model folder.

    Attributes
    ----------
    name : str
        The registered name: folder name or zip stem.
    source : {"user", "built-in"}
        Which folder it is in.
    path : Path
        The package folder or zip.
    card : ModelCard, optional
        Its card; None when the card cannot be read (see ``error``).
    error : str, optional
        Why the card cannot be read.
    shadowed : bool
        True when an earlier entry has the same name (that one is what the name resolves to).
    """

    name: str
    source: Literal["user", "built-in"]
    path: Path
    card: ModelCard | None = None
    error: str | None = None
    shadowed: bool = False

    def summary(self) -> dict[str, Any]:
        """Name, source, path, shadowed, and the card summary or the error (JSON-ready)."""
        out: dict[str, Any] = {
            "name": self.name,
            "source": self.source,
            "path": str(self.path),
            "shadowed": self.shadowed,
        }
        if self.card is not None:
            out.update({k: v for k, v in self.card.summary().items() if k != "name"})
            out["card_name"] = self.card.name
        else:
            out["error"] = self.error
        return out


def _packages(folder: Path) -> list[tuple[str, Path]]:
    if not folder.is_dir():
        return []
    found = []
    for child in folder.iterdir():
        if child.name.startswith(".") or not is_package(child):  # hidden: partial outputs
            continue
        found.append((child.stem if child.is_file() else child.name, child))
    return sorted(found, key=lambda item: (item[0], item[1].is_file()))


def list_models() -> list[ModelEntry]:
    """Every package in the user folder, then the built-in folder, in resolution order.

    Cards that cannot be read are listed with their ``error`` rather than raising.
    """
    entries: list[ModelEntry] = []
    seen: set[str] = set()
    folders: list[tuple[Literal["user", "built-in"], Path]] = [
        ("user", user_model_dir()),
        ("built-in", BUILTIN_DIR),
    ]
    for source, folder in folders:
        for name, path in _packages(folder):
            card, error = None, None
            try:
                card = read_card(path)
            except (ValueError, OSError) as exc:
                error = str(exc)
            entries.append(ModelEntry(name, source, path, card, error, shadowed=name in seen))
            seen.add(name)
    return entries


def resolve_model(name_or_path: str | os.PathLike[str]) -> Path:
    """The package a path or a registered name refers to.

    An existing path comes first (a folder with ``model.json``, or a ``.zip``); then a
    registered name, user packages before built-in ones.

    Raises
    ------
    ValueError
        If the name is not registered (the message lists the available names), or the path
        exists but is not a package.
    FileNotFoundError
        If it looks like a path (has a ``/`` or ends in ``.zip``) and does not exist.
    """
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    if text and path.exists():
        if is_package(path):
            return path
        raise ValueError(
            f"{path} is not a model package (a folder with {CARD_FILE} and model.safetensors, "
            "or a .zip of them)"
        )
    looks_like_path = "/" in text or os.sep in text or text.lower().endswith(".zip")
    if not isinstance(name_or_path, str) or looks_like_path:
        raise FileNotFoundError(f"model package not found: {path}")
    entries = list_models()
    for entry in entries:
        if entry.name == text:
            return entry.path
    names = sorted({e.name for e in entries})
    available = ", ".join(names) if names else f"none (put packages in {user_model_dir()})"
    raise ValueError(f"unknown model {text!r}; available: {available}")
