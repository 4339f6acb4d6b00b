"""The registry: user and built-in folders, names, shadowing, resolution."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from stratoseg.models import (
    BUILTIN_DIR,
    ModelCard,
    UNetConfig,
    _registry,
    build_model,
    list_models,
    package_on_this_machine,
    portable_package,
    resolve_model,
    save_package,
    user_model_dir,
)

MakeCard = Callable[..., ModelCard]


@pytest.fixture
def builtin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "builtin"
    d.mkdir()
    monkeypatch.setattr(_registry, "BUILTIN_DIR", d)
    return d


@pytest.fixture
def save(make_card: MakeCard, tiny_config: UNetConfig) -> Callable[[Path, str], Path]:
    torch.manual_seed(0)
    model = build_model(tiny_config)

    def _save(folder: Path, name: str) -> Path:
        return save_package(model, make_card(tiny_config, name=Path(name).stem), folder / name)

    return _save


def test_builtin_folder_ships_with_the_package() -> None:
    assert BUILTIN_DIR.is_dir()
    assert (BUILTIN_DIR / "README.md").is_file()
    assert BUILTIN_DIR.parent.name == "models"


def test_user_dir_from_the_environment_at_call_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRATOSEG_MODEL_DIR", str(tmp_path / "a"))
    assert user_model_dir() == tmp_path / "a"
    monkeypatch.setenv("STRATOSEG_MODEL_DIR", str(tmp_path / "b"))
    assert user_model_dir() == tmp_path / "b"
    monkeypatch.delenv("STRATOSEG_MODEL_DIR")
    assert user_model_dir().parts[-2:] == ("stratoseg", "models")


def test_list_folders_zips_and_broken_cards(user_dir: Path, builtin_dir: Path, save) -> None:
    assert list_models() == []
    save(user_dir, "alpha")
    save(user_dir, "beta.zip")
    broken = save(user_dir, "gamma")
    (broken / "model.json").write_text("{}")
    (user_dir / ".alpha.partial-1234").mkdir()  # an unfinished save: hidden
    (user_dir / "notes.txt").write_text("not a package")
    (user_dir / "empty").mkdir()  # a folder without model.json: not a package
    entries = list_models()
    assert [(e.name, e.source) for e in entries] == [
        ("alpha", "user"),
        ("beta", "user"),
        ("gamma", "user"),
    ]
    alpha, beta, gamma = entries
    assert alpha.card is not None
    assert alpha.card.name == "alpha"
    assert alpha.error is None
    assert beta.path == user_dir / "beta.zip"
    assert gamma.card is None
    assert gamma.error is not None
    assert "invalid model.json" in gamma.error
    assert "name: field required" in gamma.error.lower()
    assert alpha.summary()["dims"] == "2D"
    assert gamma.summary()["error"] == gamma.error


def test_user_packages_shadow_builtin_ones(user_dir: Path, builtin_dir: Path, save) -> None:
    save(builtin_dir, "alpha")
    save(builtin_dir, "delta.zip")
    assert resolve_model("alpha") == builtin_dir / "alpha"
    save(user_dir, "alpha.zip")
    entries = list_models()
    assert [(e.name, e.source, e.shadowed) for e in entries] == [
        ("alpha", "user", False),
        ("alpha", "built-in", True),
        ("delta", "built-in", False),
    ]
    assert resolve_model("alpha") == user_dir / "alpha.zip"
    assert resolve_model("delta") == builtin_dir / "delta.zip"
    save(user_dir, "alpha")  # in one folder, NAME/ comes before NAME.zip
    assert resolve_model("alpha") == user_dir / "alpha"


def test_resolve_by_path_first(
    tmp_path: Path, user_dir: Path, builtin_dir: Path, save, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = save(elsewhere, "alpha")
    zipped = save(elsewhere, "z.zip")
    save(user_dir, "alpha")
    assert resolve_model(folder) == folder
    assert resolve_model(str(zipped)) == zipped
    monkeypatch.chdir(elsewhere)
    assert resolve_model("alpha") == Path("alpha")  # an existing path beats a registered name
    with pytest.raises(ValueError, match="is not a model package"):
        resolve_model(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="model package not found"):
        resolve_model(str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="model package not found"):
        resolve_model("missing.zip")


def test_unknown_name_lists_what_is_available(
    user_dir: Path, builtin_dir: Path, save, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match=r"unknown model 'nope'; available: none \(put packages"):
        resolve_model("nope")
    save(user_dir, "beta")
    save(builtin_dir, "alpha")
    with pytest.raises(ValueError, match=r"^unknown model 'nope'; available: alpha, beta$"):
        resolve_model("nope")
    other = user_dir.parent / "other"
    other.mkdir()
    monkeypatch.setenv("STRATOSEG_MODEL_DIR", str(other))  # read at call time
    with pytest.raises(ValueError, match=r"available: alpha$"):
        resolve_model("beta")


def test_a_builtin_package_travels_by_name_to_another_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cluster worker may have stratoseg installed elsewhere than the driver: a built-in
    package is sent as ``builtin:<name>`` and found in the worker's own install; any other
    package as its absolute path."""
    shipped = BUILTIN_DIR / "composite-ct-3phase"
    reference = portable_package(shipped)
    assert reference == "builtin:composite-ct-3phase"
    assert package_on_this_machine(reference) == shipped
    other_install = tmp_path / "elsewhere" / "builtin"
    monkeypatch.setattr(_registry, "BUILTIN_DIR", other_install)  # as on the worker
    assert package_on_this_machine(reference) == other_install / "composite-ct-3phase"
    user = tmp_path / "mine.zip"
    assert portable_package(user) == str(user.resolve())
    assert package_on_this_machine(portable_package(user)) == user.resolve()
