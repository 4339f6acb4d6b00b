"""Moving model packages between machines: export one as a zip, import a zip or folder into
the user's model folder. Both validate the package completely (card, safetensors header,
every tensor against the architecture) before anything is written, and write only the two
files of a package, re-serialised, never a member of the source copied as it is.

torch is imported inside :func:`~stratoseg.models.load_package`, when a function runs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from stratoseg.models._package import load_package, read_card, save_package
from stratoseg.models._registry import BUILTIN_DIR, resolve_model, user_model_dir

__all__ = ["check_model_name", "export_package", "import_package", "shadows_builtin"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_model_name(name: str) -> str:
    """``name`` if it can name a package folder: letters, digits, ``.``, ``_``, ``-``, first a
    letter or digit, at most 100 characters, not ending in ``.zip``.

    Raises
    ------
    ValueError
        Naming the value, otherwise (a path separator, ``..``, a leading dot, spaces...).
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.lower().endswith(".zip"):
        raise ValueError(
            f"model name must be letters, digits, '.', '_' or '-' (starting with a letter or "
            f"digit, at most 100 characters, not ending in .zip), got {name!r}"
        )
    return name


def export_package(
    model: str | os.PathLike[str], out: str | os.PathLike[str], *, overwrite: bool = False
) -> Path:
    """Write the package ``model`` (a registered name or a path) as one zip, ``out``.

    The package is loaded and checked first (card, safetensors only, tensors against the
    architecture), so a damaged package is never passed on. The zip holds ``model.json`` and
    ``model.safetensors`` at its top level, with fixed dates: exporting the same model twice
    gives the same bytes.

    Raises
    ------
    ValueError
        If ``out`` does not end in ``.zip``, or the package is not valid.
    FileExistsError
        If ``out`` exists and ``overwrite`` is false.
    """
    target = Path(out).expanduser()
    if target.suffix.lower() != ".zip":
        raise ValueError(f"out must be a .zip file, got {os.fspath(out)!r}")
    network, card = load_package(resolve_model(model))
    return save_package(network, card, target, overwrite=overwrite)


def import_package(
    source: str | os.PathLike[str],
    *,
    name: str | None = None,
    overwrite: bool = False,
    folder: str | os.PathLike[str] | None = None,
) -> Path:
    """Install the package at ``source`` (a zip or a folder) into the user's model folder.

    Parameters
    ----------
    source : path
        A package zip or folder. Zip members with absolute paths or ``..`` are refused; the
        weights are read with safetensors only (a pickle is never unpickled); the card must
        name a known architecture and every tensor must fit it.
    name : str, optional
        The registered name (:func:`check_model_name`); the card's ``name`` by default. The
        card's name is set to it.
    overwrite : bool
        Replace an installed user package of that name.
    folder : path, optional
        Where to install; :func:`~stratoseg.models.user_model_dir` by default (created if
        missing).

    Returns
    -------
    Path
        The new package folder, ``folder/name``. It appears only when complete.

    Raises
    ------
    FileNotFoundError
        If ``source`` does not exist.
    ValueError
        If it is not a valid package, or the name is not usable.
    FileExistsError
        If a user package of that name exists and ``overwrite`` is false.
    """
    src = Path(source).expanduser()
    if not src.exists():
        raise FileNotFoundError(f"model package not found: {src}")
    card = read_card(src)  # the cheap checks first: a bad card is refused before torch
    chosen = check_model_name(card.name if name is None else name)
    network, card = load_package(src)
    if card.name != chosen:
        card = card.model_copy(update={"name": chosen})
    dest_folder = Path(folder).expanduser() if folder is not None else user_model_dir()
    dest_folder.mkdir(parents=True, exist_ok=True)
    return save_package(network, card, dest_folder / chosen, overwrite=overwrite)


def shadows_builtin(name: str) -> bool:
    """Whether a user package called ``name`` hides a built-in package of that name."""
    return (BUILTIN_DIR / name).is_dir() or (BUILTIN_DIR / f"{name}.zip").is_file()
