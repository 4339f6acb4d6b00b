"""The malloc arena cap the ``stratoseg`` command sets at start."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from stratoseg._malloc import limit_malloc_arenas


def test_an_environment_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_glibc_takes_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    code = "from stratoseg._malloc import limit_malloc_arenas as f; print(f(), f(1))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


def test_a_bad_count_names_the_parameter() -> None:
    with pytest.raises(ValueError, match="count must be >= 1, got -1"):
        limit_malloc_arenas(-1)
