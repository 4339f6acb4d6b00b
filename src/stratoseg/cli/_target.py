"""The workspace a command writes into: SRC itself, or a new one made from the image SRC."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stratoseg._progress import ProgressFn
from stratoseg.io import open_volume
from stratoseg.workspace import Workspace, create_workspace, is_workspace

__all__ = ["target_workspace"]


@contextmanager
def target_workspace(
    source: str, output: str | None, *, what: str, progress: ProgressFn | None = None
) -> Iterator[Workspace]:
    """Open SRC (a workspace) or create ``output`` from the image SRC; yield it open for writing.

    A workspace created here is removed again if the command fails or is interrupted, so a
    failed command leaves nothing that looks finished. ``what`` names the command's work in
    the single-channel error ("enhancement", "segmenting").
    """
    src = Path(source)
    target = Path(output) if output else src
    if is_workspace(src) and target.resolve() != src.resolve():
        raise ValueError(
            f"{src} is a workspace: leave out -o, or give the same path (got -o {target})"
        )
    created = False
    try:
        if is_workspace(target):
            ws = Workspace.open(target, mode="r+")
        else:
            if output is None:
                raise ValueError(f"{src} is not a workspace: give -o WS.zarr to create one")
            vol = open_volume(src)
            if "c" in vol.axes:  # refuse before anything is created
                raise ValueError(
                    f"{what} needs a single-channel image; {src} has axes {vol.axes!r}"
                )
            ws = create_workspace(target, vol, progress=progress)
            created = True
        with ws:
            yield ws
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        raise
