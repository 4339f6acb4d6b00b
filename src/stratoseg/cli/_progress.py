"""A tqdm progress bar behind the ``progress(done, total)`` callback of long work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm

from stratoseg._progress import ProgressFn

__all__ = ["progress_bar"]


@contextmanager
def progress_bar(desc: str, *, unit: str = "task") -> Iterator[ProgressFn]:
    """Yield a ``progress(done, total)`` callback drawing a bar on stderr (only on a terminal).

    With ``unit="voxel"`` the rate is shown as voxels/s with SI prefixes, and the ETA follows.
    """
    bar = tqdm(desc=desc, total=0, unit=unit, unit_scale=unit == "voxel", disable=None, leave=False)

    def update(done: int, total: int) -> None:
        if bar.total != total:
            bar.reset(total=total)
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()
