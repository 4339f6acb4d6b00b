"""The wheel carries the npe2 manifest inside the package, where its entry point points, and
the folder of built-in model packages."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_builds_and_carries_the_manifest(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("stratoseg-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        manifest = zf.read("stratoseg/napari.yaml").decode()
        entry_points = zf.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert manifest == (ROOT / "napari.yaml").read_text()
    assert names.count("stratoseg/napari.yaml") == 1
    assert "stratoseg/models/builtin/README.md" in names  # built-in model packages go there
    for model in (
        "composite-ct-3phase",
        "em-boundaries-3d",
        "em-membranes-2d",
        "nuclei-touching-2d",
    ):
        for part in ("model.json", "model.safetensors"):
            assert f"stratoseg/models/builtin/{model}/{part}" in names
    assert "stratoseg = stratoseg:napari.yaml" in entry_points
    assert "stratoseg = stratoseg.cli:main" in entry_points
