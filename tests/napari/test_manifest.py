"""The npe2 manifest: valid, discoverable, and every python_name it names exists."""

from __future__ import annotations

import importlib
from pathlib import Path

import npe2
import pytest
import yaml

MANIFEST = Path(__file__).resolve().parents[2] / "napari.yaml"


def _python_names() -> list[str]:
    manifest = yaml.safe_load(MANIFEST.read_text())
    return [cmd["python_name"] for cmd in manifest["contributions"]["commands"]]


@pytest.mark.parametrize("python_name", _python_names())
def test_every_python_name_imports(python_name: str) -> None:
    module, _, attr = python_name.partition(":")
    assert callable(getattr(importlib.import_module(module), attr))


def test_manifest_validates() -> None:
    manifest = npe2.PluginManifest.from_file(MANIFEST)
    assert manifest.name == "stratoseg"


def test_installed_plugin_is_discovered() -> None:
    pm = npe2.PluginManager()  # a private manager: no global state changed
    pm.discover(include_npe1=False)
    manifest = pm.get_manifest("stratoseg")
    contributions = manifest.contributions
    assert [r.command for r in contributions.readers or []] == ["stratoseg.get_reader"]
    assert sorted(s.key for s in contributions.sample_data or []) == ["cells", "composite"]
    assert [w.display_name for w in contributions.widgets or []] == [
        "Load / Workspace",
        "Enhance",
        "Segment",
        "Fine-tune",
        "Correct",
    ]
    readers = {r.command for r in pm.iter_compatible_readers(["/data/scan.tif"])}
    assert "stratoseg.get_reader" in readers
    folders = {r.command for r in pm.iter_compatible_readers([str(MANIFEST.parent)])}
    assert "stratoseg.get_reader" in folders


def test_distribution_ships_the_same_manifest() -> None:
    shipped = npe2.PluginManifest.from_distribution("stratoseg")
    assert shipped == npe2.PluginManifest.from_file(MANIFEST)
