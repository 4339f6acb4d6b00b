"""The one-way import rule: the core imports without Qt, napari or torch (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "stratoseg"
CORE = [
    "stratoseg",
    "stratoseg.io",
    "stratoseg.workspace",
    "stratoseg.synthetic",
    "stratoseg.metrics",
    "stratoseg.enhance",
    "stratoseg.postprocess",
    "stratoseg.jobs",
    "stratoseg.models",  # UNet / build_model import torch lazily, on first use
    "stratoseg.cli",
    "stratoseg.napari",
    "stratoseg.widgets",  # the package only: napari imports the widget modules themselves
]
QT_MODULES = (
    "qtpy",
    "PyQt5",
    "PyQt6",
    "PySide2",
    "PySide6",
    "napari.qt",
    "napari._qt",
    "magicgui.widgets",
    "superqt",
)


@pytest.mark.parametrize("module", CORE)
def test_core_imports_without_qt_napari_or_torch(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'torch', 'superqt', 'napari', "
        "'magicgui'))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout.strip()
    assert out == "", f"importing {module} imported {out}"


def test_only_widgets_import_qt_in_the_source() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.relative_to(SRC).parts[0] == "widgets":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(QT_MODULES)]
    assert offenders == []


def test_package_init_does_not_import_widgets() -> None:
    tree = ast.parse((SRC / "__init__.py").read_text())
    imported = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert imported == []
