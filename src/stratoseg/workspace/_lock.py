"""One writer per workspace: an advisory ``flock`` on ``journal/writer.lock`` inside it.

The lock belongs to an open file description, so it is released when the process dies (no stale
locks after a crash) and a second handle in the same process is refused as well.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

from stratoseg._errors import WorkspaceLockedError

__all__ = ["LOCK_NAME", "WriterLock"]

LOCK_NAME = "journal/writer.lock"


class WriterLock:
    """An exclusive, non-blocking lock on ``<workspace>/journal/writer.lock``."""

    def __init__(self, workspace: Path) -> None:
        self.path = workspace / LOCK_NAME
        self.workspace = workspace
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise :class:`WorkspaceLockedError` saying who holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(fd)
            os.close(fd)
            raise WorkspaceLockedError(
                f"workspace {self.workspace} is open for writing by another process ({holder}); "
                "close it there first, or open it read-only"
            ) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
            return f"pid {info['pid']} on {info['host']}, since {info['since']}"
        except (ValueError, KeyError, OSError):
            return "unknown holder"

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None

    def __del__(self) -> None:
        self.release()
