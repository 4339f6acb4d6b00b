"""How the cases of ``test_cli_bad_input.py`` run, and the snapshot that shows nothing changed.

Cases run in this process (``main(argv)``), except two kinds, run in a subprocess where the
system allows it (the test is skipped with the reason where it does not):

- ``run="unprivileged"``: permission bits (a file of mode 000, a folder of mode 555) stop only
  a process without ``CAP_DAC_OVERRIDE``. A probe write decides: where it succeeds (root),
  the command runs under ``setpriv`` with those capabilities dropped from its bounding set.
- ``run="full-disk"``: the command runs inside ``unshare -rm`` (a mount namespace) with a
  64 KiB tmpfs mounted on ``d/full``; what it leaves there is listed (``LEFT:`` on stdout)
  before the mount goes away with the namespace.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import pytest

from stratoseg.cli import main

__all__ = ["Case", "run_case", "tree"]

#: ``python -c STRATOSEG ARGV...`` runs ``stratoseg ARGV`` (``-m stratoseg.cli._main`` warns).
STRATOSEG = "import sys; from stratoseg.cli import main; sys.exit(main(sys.argv[1:]))"
#: Drops the capabilities that let root ignore permission bits (for the child it starts).
UNPRIVILEGED = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
#: ``sh -c FULL_DISK DIR COMMAND...``: a 64 KiB tmpfs on DIR, the command, what it left in DIR.
FULL_DISK = (
    'mount -t tmpfs -o size=64k tmpfs "$0" && "$@"; rc=$?; echo "LEFT:$(ls -A "$0")"; exit $rc'
)


@dataclass(frozen=True)
class Case:
    """One bad input: ``make(d)`` writes it into the empty folder ``d`` and returns the argv;
    ``expected`` is a part of the error line; ``ws``: copy the shared workspace folder into
    ``d`` first; ``run``: where the command runs (see the module docstring)."""

    make: Callable[[Path], list[str]]
    expected: str
    ws: bool = False
    run: Literal["here", "unprivileged", "full-disk"] = "here"


def tree(d: Path) -> dict[str, str]:
    """Every folder and file under ``d``: files by the sha256 of their bytes, except the
    workspace writer lock (rewritten by every open), listed by its name only."""
    out = {}
    for p in sorted(d.rglob("*")):
        rel = p.relative_to(d).as_posix()
        if p.is_dir():
            out[rel + "/"] = "folder"
        elif rel.endswith("journal/writer.lock"):
            out[rel] = "lock"
        else:
            try:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
            except PermissionError:  # the mode-000 file of a case, seen without root
                out[rel] = f"unreadable, {p.stat().st_size} bytes"
    return out


@cache
def _permissions_bind_here() -> bool:
    """Whether a folder of mode 555 stops this process writing into it (not for root)."""
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "ro"
        probe.mkdir(mode=0o555)
        try:
            (probe / "x").write_text("x")
        except PermissionError:
            return True
        finally:
            probe.chmod(0o755)
    return False


@cache
def _works(*prefix: str) -> bool:
    """Whether ``prefix true`` runs here."""
    if shutil.which(prefix[0]) is None:
        return False
    return subprocess.run([*prefix, "true"], capture_output=True, check=False).returncode == 0


def run_case(
    case: Case, argv: list[str], d: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """Run ``stratoseg ARGV`` as ``case.run`` says; its exit code, stderr and stdout."""
    if case.run == "here" or (case.run == "unprivileged" and _permissions_bind_here()):
        capsys.readouterr()
        code = main(argv)
        captured = capsys.readouterr()
        return code, captured.err, captured.out
    command = [sys.executable, "-c", STRATOSEG, *argv]
    if case.run == "unprivileged":
        if not _works(*UNPRIVILEGED):
            pytest.skip("root, and setpriv cannot drop CAP_DAC_OVERRIDE: mode bits bind nobody")
        command = [*UNPRIVILEGED, *command]
    else:
        if not _works("unshare", "-rm"):
            pytest.skip("unshare -rm (a mount namespace for a tiny tmpfs) is not permitted here")
        command = ["unshare", "-rm", "sh", "-c", FULL_DISK, str(d / "full"), *command]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, proc.stderr, proc.stdout
