"""Shared by the benchmark scripts: machine line and section replacement in docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"{time.strftime('%Y-%m-%d')}"
    )


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """Wall-clock seconds of one call, and its result."""
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def write_section(key: str, lines: list[str]) -> None:
    """Replace (or append) the section between ``<!-- key:start -->`` and ``<!-- key:end -->``."""
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    block = "\n".join([start, *lines, end])
    text = (
        DOC.read_text()
        if DOC.exists()
        else (
            "# Benchmarks\n\nMade by the scripts in `benchmarks/`; each rewrites its own "
            "section. Timings are one run each on the machine named; ratios compare methods "
            "measured side by side in the same run, which is what stays meaningful on a shared "
            "machine.\n"
        )
    )
    if start in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)
    print(block)
