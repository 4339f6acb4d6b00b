"""Label edits written to the workspace at once, with undo and redo that survive reopening.

Every edit of a label image is one record: the box it touched, the flat indices of the
changed voxels inside it, and their values before and after, saved as ``.npz`` (plain arrays,
no pickles) in ``journal/edits/<labels>/<seq>.npz`` before the label array is written, then
an ``"edit"`` entry in the journal. ``"undo"`` and ``"redo"`` entries name the record they
reverted or re-applied. The undo and redo stacks are rebuilt from the journal when a
workspace is opened, so history survives closing the viewer, the process, or a crash.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stratoseg.workspace._journal import JOURNAL_GROUP
from stratoseg.workspace._workspace import Workspace

__all__ = ["Edit", "EditLog"]


@dataclass(frozen=True)
class Edit:
    """One recorded edit: where, which voxels, the values before and after."""

    seq: int
    box: tuple[slice, ...]
    index: np.ndarray  # flat indices of the changed voxels within the box
    before: np.ndarray
    after: np.ndarray
    kind: str


def _box_json(box: Sequence[slice]) -> list[list[int]]:
    return [[int(s.start), int(s.stop)] for s in box]


class EditLog:
    """The edit history of one label image of a workspace (open for writing to edit).

    Parameters
    ----------
    ws : Workspace
        The workspace; writing edits, undo and redo need it open for writing.
    labels : str
        The label image.
    """

    def __init__(self, ws: Workspace, labels: str) -> None:
        self.ws = ws
        self.name = labels
        self.array = ws.labels(labels)
        self.folder = Path(ws.path) / JOURNAL_GROUP / "edits" / labels
        self.done: list[int] = []
        self.undone: list[int] = []
        if ws.writable and self.folder.is_dir():  # a record a killed writer was saving
            for stale in self.folder.glob(".*.tmp.npz"):
                stale.unlink(missing_ok=True)
        self._next = 1
        self._free: int | None = None
        for entry in ws.journal.entries():
            if entry.get("labels") != labels or "seq" not in entry:
                continue
            seq, kind = int(entry["seq"]), entry.get("kind")
            if kind == "edit":
                self.done.append(seq)
                self.undone.clear()
                self._next = max(self._next, seq + 1)
            elif kind == "undo" and self.done and self.done[-1] == seq:
                self.undone.append(self.done.pop())
            elif kind == "redo" and self.undone and self.undone[-1] == seq:
                self.done.append(self.undone.pop())

    # -- recording -------------------------------------------------------------------------
    def apply(
        self,
        box: Sequence[slice],
        values: np.ndarray,
        *,
        kind: str,
        before: np.ndarray | None = None,
        **details: Any,
    ) -> Edit | None:
        """Write ``values`` into ``box`` of the label image as one undoable edit.

        ``before`` is the box's current content when the caller has just read it (saves a
        read). Only the chunks holding changed voxels are rewritten: the edit's box shrinks to
        the changed voxels. Returns the edit, or None when nothing changes (no record is made).
        """
        box = self._check_box(box)
        old = np.asarray(self.array[box]) if before is None else np.asarray(before)
        values = np.asarray(values).astype(old.dtype, copy=False)
        if values.shape != old.shape:
            raise ValueError(f"values have shape {values.shape}, the box {old.shape}")
        changed = old != values
        where = np.nonzero(changed)
        if not where[0].size:
            return None
        tight = tuple(slice(int(w.min()), int(w.max()) + 1) for w in where)
        old, values, changed = old[tight], values[tight], changed[tight]
        box = tuple(
            slice(b.start + t.start, b.start + t.stop) for b, t in zip(box, tight, strict=True)
        )
        index = np.flatnonzero(changed)
        edit = Edit(self._next, box, index, old.reshape(-1)[index],
                    values.reshape(-1)[index], kind)  # fmt: skip
        return self._record(edit, values, details)

    def record_changes(
        self, box: Sequence[slice], index: np.ndarray, before: np.ndarray, after: np.ndarray,
        *, kind: str, **details: Any,
    ) -> Edit | None:  # fmt: skip
        """Record an edit already written by someone else (napari's brush) for undo."""
        box = self._check_box(box)
        index = np.asarray(index, np.int64)
        changed = np.asarray(before) != np.asarray(after)
        if not changed.any():
            return None
        edit = Edit(self._next, box, index[changed], np.asarray(before)[changed],
                    np.asarray(after)[changed], kind)  # fmt: skip
        return self._record(edit, None, details)

    def _record(self, edit: Edit, values: np.ndarray | None, details: dict) -> Edit:
        self.ws._check_writable()
        self._save(edit)
        if values is not None:
            self.array[edit.box] = values
        self.ws.journal.append(
            "edit", labels=self.name, seq=edit.seq, tool=edit.kind, box=_box_json(edit.box),
            voxels=int(edit.index.size), **details,
        )  # fmt: skip
        self.done.append(edit.seq)
        self.undone.clear()
        self._next = edit.seq + 1
        return edit

    def next_label(self) -> int:
        """An id no object of the label image has yet (the maximum is read once, chunk by
        chunk, then counted up as ids are handed out)."""
        if self._free is None:
            import dask.array as da

            self._free = int(da.from_zarr(self.array).max().compute()) + 1
        self._free += 1
        return self._free - 1

    # -- undo / redo -----------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        return bool(self.done)

    @property
    def can_redo(self) -> bool:
        return bool(self.undone)

    def undo(self) -> Edit | None:
        """Revert the last edit (None when there is none); the box it touched is returned."""
        if not self.done:
            return None
        edit = self.load(self.done[-1])
        self._put(edit, edit.before)
        self.ws.journal.append("undo", labels=self.name, seq=edit.seq, box=_box_json(edit.box))
        self.undone.append(self.done.pop())
        return edit

    def redo(self) -> Edit | None:
        """Re-apply the last undone edit (None when there is none)."""
        if not self.undone:
            return None
        edit = self.load(self.undone[-1])
        self._put(edit, edit.after)
        self.ws.journal.append("redo", labels=self.name, seq=edit.seq, box=_box_json(edit.box))
        self.done.append(self.undone.pop())
        return edit

    def _put(self, edit: Edit, values: np.ndarray) -> None:
        self.ws._check_writable()
        region = np.asarray(self.array[edit.box])
        flat = region.reshape(-1)
        flat[edit.index] = values
        self.array[edit.box] = flat.reshape(region.shape)

    # -- storage ---------------------------------------------------------------------------
    def _path(self, seq: int) -> Path:
        return self.folder / f"{seq:08d}.npz"

    def _save(self, edit: Edit) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{edit.seq:08d}.tmp.npz"
        np.savez_compressed(
            tmp, box=np.array(_box_json(edit.box), np.int64), index=edit.index,
            before=edit.before, after=edit.after, kind=np.array(edit.kind),
        )  # fmt: skip
        os.replace(tmp, self._path(edit.seq))

    def load(self, seq: int) -> Edit:
        """The stored edit ``seq``."""
        with np.load(self._path(seq), allow_pickle=False) as f:
            box = tuple(slice(int(a), int(b)) for a, b in f["box"])
            return Edit(seq, box, f["index"], f["before"], f["after"], str(f["kind"]))

    def _check_box(self, box: Sequence[slice]) -> tuple[slice, ...]:
        shape = self.array.shape
        if len(box) != len(shape):
            raise ValueError(f"box must have {len(shape)} slices, got {len(box)}")
        out = []
        for s, n in zip(box, shape, strict=True):
            start, stop, step = s.indices(n)
            if step != 1 or stop <= start:
                raise ValueError(f"box must be non-empty slices with step 1, got {box}")
            out.append(slice(start, stop))
        return tuple(out)
