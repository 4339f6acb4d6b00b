"""Shared fixtures: small arrays, the real data folder, napari-free defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` (real images with ground truth); skips when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture
def volume_u16() -> np.ndarray:
    """A small (z, y, x) uint16 volume with distinct values."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 60000, size=(7, 33, 45), dtype=np.uint16)


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user model folder (``STRATOSEG_MODEL_DIR``) for this test."""
    d = tmp_path / "models"
    d.mkdir()
    monkeypatch.setenv("STRATOSEG_MODEL_DIR", str(d))
    return d


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny 2-D U-Net package trained for seconds on a synthetic composite (3 classes)."""
    from _tiny_model import train_tiny_model

    return train_tiny_model(tmp_path_factory.mktemp("models") / "tiny-composite.zip")


@pytest.fixture
def open_in_loader() -> Any:
    """``open_in_loader(viewer, path)``: dock the Load / Workspace widget in ``viewer`` and
    open the workspace at ``path`` with it (for writing); returns the widget."""

    def open_(viewer: Any, path: Path) -> Any:
        from stratoseg.widgets.workspace import WorkspaceWidget

        loader = WorkspaceWidget(viewer)
        viewer.window.add_dock_widget(loader, name="Load / Workspace")
        loader.workspace_path.value = path
        assert loader.open_workspace() is not None
        return loader

    return open_
