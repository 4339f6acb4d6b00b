"""``export_package`` / ``import_package``: a package travels as a zip and installs validated;
path traversal, pickles, unknown architectures and mismatched tensors are refused with
nothing installed."""

from __future__ import annotations

import json
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from stratoseg.cli import main
from stratoseg.models import (
    ModelCard,
    UNet,
    UNetConfig,
    build_model,
    check_model_name,
    export_package,
    import_package,
    list_models,
    load_package,
    read_card,
    save_package,
)

MakeCard = Callable[..., ModelCard]


@pytest.fixture
def package(tmp_path: Path, tiny_config: UNetConfig, make_card: MakeCard) -> Path:
    torch.manual_seed(0)
    return save_package(build_model(tiny_config), make_card(tiny_config), tmp_path / "tiny")


def _same_weights(a: UNet, b: UNet) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_export_then_import_under_another_name(package: Path, tmp_path: Path,
                                                user_dir: Path) -> None:  # fmt: skip
    out = export_package(package, tmp_path / "tiny.zip")
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["model.json", "model.safetensors"]
    again = export_package(package, tmp_path / "again.zip")
    assert again.read_bytes() == out.read_bytes()  # the same model, the same bytes
    installed = import_package(out, name="tiny-copy")
    assert installed == user_dir / "tiny-copy"
    assert installed.is_dir()
    original, card = load_package(package)
    copy, copy_card = load_package(installed)
    assert _same_weights(original, copy)
    assert copy_card.name == "tiny-copy"  # the card follows the registered name
    assert copy_card.model_copy(update={"name": card.name}) == card
    assert [e.name for e in list_models() if e.source == "user"] == ["tiny-copy"]
    # a folder imports too, under its card's name by default
    assert import_package(package) == user_dir / "tiny"
    with pytest.raises(FileExistsError, match="already exists"):
        import_package(out, name="tiny-copy")
    import_package(out, name="tiny-copy", overwrite=True)


def test_export_needs_a_zip_and_a_valid_package(package: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"out must be a \.zip file, got .*tiny\.tar"):
        export_package(package, tmp_path / "tiny.tar")
    (package / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a safetensors file"):
        export_package(package, tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()  # a damaged package is not passed on


@pytest.mark.parametrize("bad", ["../evil", "a/b", ".hidden", "", "x.zip", "sp ace", "a" * 101])
def test_model_names_that_cannot_name_a_folder_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="model name must be"):
        check_model_name(bad)
    assert check_model_name("em-membranes-2d_v1.2") == "em-membranes-2d_v1.2"


def test_hostile_packages_are_refused_and_nothing_is_installed(
    package: Path, tmp_path: Path, user_dir: Path
) -> None:
    card = (package / "model.json").read_bytes()
    weights = (package / "model.safetensors").read_bytes()
    victim = tmp_path / "evil"
    traversal = _zip(tmp_path / "t.zip", {"model.json": card, "model.safetensors": weights,
                                           "../evil": b"x"})  # fmt: skip
    with pytest.raises(ValueError, match=r"refusing zip member '\.\./evil'"):
        import_package(traversal)
    absolute = _zip(tmp_path / "a.zip", {"model.json": card, "model.safetensors": weights,
                                          "/tmp/evil": b"x"})  # fmt: skip
    with pytest.raises(ValueError, match="absolute path"):
        import_package(absolute)
    marker = tmp_path / "unpickled"
    pickled = pickle.dumps({"w": _Trap(marker)}, protocol=2)
    with pytest.raises(ValueError, match="not a safetensors file"):
        import_package(_zip(tmp_path / "p.zip", {"model.json": card,
                                                  "model.safetensors": pickled}))  # fmt: skip
    assert not marker.exists()
    unknown = json.loads(card)
    unknown["architecture"]["kind"] = "transformer"
    with pytest.raises(ValueError, match="architecture"):
        import_package(_zip(tmp_path / "k.zip", {"model.json": json.dumps(unknown).encode(),
                                                  "model.safetensors": weights}))  # fmt: skip
    wider = json.loads(card)
    wider["architecture"]["config"]["base_filters"] = 8
    with pytest.raises(ValueError, match="has shape"):
        import_package(_zip(tmp_path / "s.zip", {"model.json": json.dumps(wider).encode(),
                                                  "model.safetensors": weights}))  # fmt: skip
    absurd = json.loads(card)  # a network of 10**20 parameters: refused before it is built
    absurd["architecture"]["config"]["base_filters"] = 10**9
    with pytest.raises(ValueError, match=r"invalid model.json: .*base_filters=1000000000"):
        import_package(_zip(tmp_path / "b.zip", {"model.json": json.dumps(absurd).encode(),
                                                  "model.safetensors": weights}))  # fmt: skip
    with pytest.raises(ValueError, match="model name must be"):
        import_package(package, name="../../outside")
    with pytest.raises(FileNotFoundError, match="not found"):
        import_package(tmp_path / "missing.zip")
    assert list(user_dir.iterdir()) == []
    assert not victim.exists()
    assert not (tmp_path.parent / "outside").exists()


class _Trap:
    """Unpickling this would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def test_cli_export_and_import_the_built_in_model(
    tmp_path: Path, user_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ct.zip"
    assert main(["models", "export", "composite-ct-3phase", str(out)]) == 0
    assert "exported composite-ct-3phase" in capsys.readouterr().out
    assert main(["models", "import", str(out)]) == 0
    said = capsys.readouterr().out
    assert "imported" in said
    assert "shadows the built-in package composite-ct-3phase" in said
    assert read_card(user_dir / "composite-ct-3phase").name == "composite-ct-3phase"
    assert main(["models", "import", str(out), "--name", "ct-mine"]) == 0
    capsys.readouterr()
    assert main(["models", "import", str(out), "--name", "ct-mine"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "already exists" in err
    assert "Traceback" not in err
    assert main(["models", "export", "composite-ct-3phase", str(tmp_path / "x.tgz")]) == 2
    assert "out must be a .zip file" in capsys.readouterr().err
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"not a zip")
    assert main(["models", "import", str(garbage)]) == 2
    assert "is not a model package" in capsys.readouterr().err
