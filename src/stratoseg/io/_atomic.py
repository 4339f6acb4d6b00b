"""Outputs that appear only when finished: write under a temporary name, rename at the end."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_output", "check_output_path"]


def check_output_path(
    out: str | os.PathLike[str], *, overwrite: bool, name: str = "output"
) -> Path:
    """Return ``Path(out)`` after checking it may be written.

    Raises
    ------
    FileExistsError
        If ``out`` exists and ``overwrite`` is false.
    FileNotFoundError
        If the parent folder does not exist.
    """
    path = Path(out)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{name} {path} already exists (pass overwrite to replace it)")
    if not path.parent.exists():
        raise FileNotFoundError(f"{name} folder does not exist: {path.parent}")
    return path


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; on success it replaces ``path``, on error it is
    removed, so a half-written file or folder never carries the final name.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_output(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    tmp = path.with_name(f".{path.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
        raise
