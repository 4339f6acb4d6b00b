"""The malloc settings the ``stratoseg`` command makes at start."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

from stratoseg._malloc import tune_malloc


def test_an_environment_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    for env in ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.setenv(env, "4")
    assert tune_malloc() == {"arenas": False, "mmap_bytes": False, "trim_bytes": False}


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_glibc_takes_each_setting_the_environment_leaves(monkeypatch: pytest.MonkeyPatch) -> None:
    code = "import json; from stratoseg._malloc import tune_malloc as f; print(json.dumps(f()))"
    env = {"PATH": "/usr/bin:/bin", "MALLOC_ARENA_MAX": "3"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)  # fmt: skip
    assert json.loads(out.stdout) == {"arenas": False, "mmap_bytes": True, "trim_bytes": True}


@pytest.mark.parametrize("name", ["arenas", "mmap_bytes", "trim_bytes"])
def test_a_bad_value_names_the_parameter(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be >= 1, got -1"):
        tune_malloc(**{name: -1})  # type: ignore[arg-type]
