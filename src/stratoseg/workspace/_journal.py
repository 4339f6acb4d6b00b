"""The append-only journal of a workspace: one JSON object per line in ``journal/entries.jsonl``.

``journal/`` carries the metadata of an empty zarr array, so zarr and OME-Zarr tools listing the
workspace (even recursively) see an array there and never look at the plain files inside it
(the journal and the writer lock).

Each entry is written with a single ``write`` on a file opened with ``O_APPEND``, under an
exclusive ``flock`` of the journal file, and ``fsync``-ed, so it is on disk when
:meth:`Journal.append` returns and concurrent appends (threads or processes) never interleave.
A torn last line (a crash mid-write) is skipped when reading.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import time
from pathlib import Path
from typing import Any

import zarr
from zarr.errors import ContainsArrayError

__all__ = ["JOURNAL_GROUP", "JOURNAL_NAME", "Journal"]

JOURNAL_NAME = "journal/entries.jsonl"
JOURNAL_GROUP = "journal"


class Journal:
    """Runs and edits of a workspace, oldest first."""

    def __init__(self, workspace: Path, *, create: bool = False) -> None:
        self.path = workspace / JOURNAL_NAME
        if create and not (workspace / JOURNAL_GROUP / "zarr.json").exists():
            # another process or thread may create the same empty node first
            with contextlib.suppress(ContainsArrayError):
                zarr.create_array(
                    store=str(workspace / JOURNAL_GROUP),
                    shape=(0,),
                    dtype="uint8",
                    attributes={
                        "stratoseg": "append-only journal in entries.jsonl (one JSON object "
                        "per line) and the writer lock in writer.lock"
                    },
                )

    def append(self, kind: str, **details: Any) -> dict[str, Any]:
        """Append an entry ``{"time", "user", "kind", **details}`` and return it."""
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry in some containers
            user = "unknown"
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "user": user,
            "kind": kind,
            **details,
        }
        line = (json.dumps(entry, default=str) + "\n").encode()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # appenders take turns: check the tail, then write
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # end a line torn by a crash, so this entry stays whole
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def entries(self, kind: str | None = None) -> list[dict[str, Any]]:
        """All complete entries, optionally only those of one ``kind``."""
        if not self.path.exists():
            return []
        out = []
        for raw in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if kind is None or entry.get("kind") == kind:
                out.append(entry)
        return out

    def __len__(self) -> int:
        return len(self.entries())
