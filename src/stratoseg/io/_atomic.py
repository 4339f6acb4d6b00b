"""Outputs that appear only when finished: write under a temporary name, rename at the end."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

__all__ = ["atomic_output", "check_output_path", "settle_zarr_writes"]


def check_output_path(
    out: str | os.PathLike[str],
    *,
    overwrite: bool,
    name: str = "output",
    kind: Literal["file", "folder"] = "file",
) -> Path:
    """Return ``Path(out)`` after checking it may be written.

    Parameters
    ----------
    out : path
        The output to be written.
    overwrite : bool
        Whether an existing output of the same ``kind`` may be replaced.
    name : str
        What to call it in error messages.
    kind : {"file", "folder"}
        What the output is; an existing path of the other kind is never replaced.

    Raises
    ------
    FileExistsError
        If ``out`` exists and ``overwrite`` is false, or it exists as the other kind.
    FileNotFoundError
        If the parent folder does not exist.
    """
    path = Path(out)
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"{name} {path} already exists (pass overwrite to replace it)")
        if path.is_dir() != (kind == "folder"):
            other = "folder" if path.is_dir() else "file"
            raise FileExistsError(
                f"{name} {path} exists and is a {other}; it will not be replaced by a {kind}"
            )
    if not path.parent.exists():
        raise FileNotFoundError(f"{name} folder does not exist: {path.parent}")
    return path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def settle_zarr_writes(timeout: float = 30.0) -> None:
    """Wait until the writes zarr has already started on its I/O thread have ended.

    zarr v3 runs every store operation as a coroutine on an event loop in a thread of its own;
    the calling thread merely waits for it. When that wait is interrupted (Ctrl-C, SIGTERM) the
    coroutine goes on, so a folder or a ``zarr.json`` can appear after the caller has cleaned
    up. This waits (at most ``timeout`` seconds) for every task on that loop. It does nothing
    when zarr has not been imported or its loop never started.

    Examples
    --------
    >>> settle_zarr_writes()
    """
    module = sys.modules.get("zarr.core.sync")
    loop = getattr(module, "loop", [None])[0] if module is not None else None
    if not isinstance(loop, asyncio.AbstractEventLoop) or loop.is_closed():
        return
    if not loop.is_running():
        return

    async def _others() -> None:
        me = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not me]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    future = asyncio.run_coroutine_threadsafe(_others(), loop)
    try:
        future.result(timeout + 1.0)
    except Exception:  # a loop that stops or a timeout: nothing more can be done here
        future.cancel()


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; on success it replaces ``path``, on error it is
    removed, so a half-written file or folder never carries the final name.

    An existing ``path`` is first renamed aside and deleted only once the new output is in
    place, so at every moment ``path`` is either the old output or the new one.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_output(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    tag = uuid.uuid4().hex[:8]
    tmp = path.with_name(f".{path.name}.partial-{tag}")
    try:
        yield tmp
    except BaseException:
        settle_zarr_writes()  # an interrupted zarr call may still be writing into tmp
        _remove(tmp)
        raise
    if path.exists() and path.is_dir() and tmp.is_dir():
        old = path.with_name(f".{path.name}.old-{tag}")
        os.replace(path, old)
        os.replace(tmp, path)
        _remove(old)
    else:
        os.replace(tmp, path)  # a file replaces a file atomically
