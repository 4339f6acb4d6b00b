"""``stratoseg models list|show``: tables, JSON, and the error contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stratoseg.cli import main
from stratoseg.models import ModelCard, UNetConfig, build_model, save_package


def _save(folder: Path, name: str, **config: int) -> tuple[Path, ModelCard]:
    base = {"spatial_dims": 2, "in_channels": 1, "out_channels": 2, "depth": 1, "base_filters": 4}
    cfg = UNetConfig(**{**base, **config})
    channels = [{"source": "image"}] * cfg.in_channels
    card = ModelCard(
        name=Path(name).stem,
        description="fibres in composites",
        architecture={"kind": "unet", "config": cfg},
        input={"channels": channels, "normalisation": {"kind": "fixed", "low": 0, "high": 255}},
        classes=[{"name": "matrix", "meaning": "epoxy"}, {"name": "fibre"}],
        receptive_field=cfg.receptive_field,
        voxel_size=[0.7, 0.7, 0.7],
        unit="micrometer",
        recommended={"tiling": "gaussian"},
        provenance={"steps": 100},
        metrics={"dice": 0.91234},
    )
    torch.manual_seed(0)
    return save_package(build_model(cfg), card, folder / name), card


def test_list_empty(
    user_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from stratoseg.models import _registry

    (tmp_path / "no-builtin").mkdir()
    monkeypatch.setattr(_registry, "BUILTIN_DIR", tmp_path / "no-builtin")
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no models installed")
    assert str(user_dir) in out


def test_the_built_in_model_is_listed(user_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert rows[0].split()[:5] == ["composite-ct-3phase", "built-in", "2.5D", "(3", "slices)"]
    assert main(["models", "show", "composite-ct-3phase"]) == 0
    assert "test_demo_mean_jaccard" in capsys.readouterr().out


def test_list_table_and_json(user_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _save(user_dir, "fibres")
    _save(user_dir, "cells.zip", spatial_dims=3)
    broken, _ = _save(user_dir, "broken")
    (broken / "model.json").write_text("{")
    assert main(["models", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "SOURCE", "DIMS", "CLASSES", "PATH"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["fibres"].split()[1:4] == ["user", "2D", "matrix,fibre"]
    assert rows["fibres"].endswith(str(user_dir / "fibres"))
    assert rows["cells"].split()[2] == "3D"
    assert "unreadable" in rows["broken"]
    assert main(["models", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    user = [e for e in listed if e["source"] == "user"]
    assert [e["name"] for e in user] == ["broken", "cells", "fibres"]
    assert user[2]["classes"] == ["matrix", "fibre"]
    assert "invalid model.json" in user[0]["error"]


def test_show_text_and_json(user_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, card = _save(user_dir, "fibres")
    assert main(["models", "show", "fibres"]) == 0
    out = capsys.readouterr().out
    for text in [
        "fibres in composites",
        "unet 2D, depth 1, 4 base filters, norm batch, relu, upsample transpose",
        "fixed 0 .. 255",
        "matrix: epoxy; fibre",
        "18 (halo 9, window sizes multiples of 2)",
        "0.7 x 0.7 x 0.7 micrometer",
        'tiling="gaussian"',
        "dice=0.9123",
        str(path),
    ]:
        assert text in out
    assert main(["models", "show", str(path), "--json"]) == 0
    assert ModelCard.model_validate_json(capsys.readouterr().out) == card


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["models", "show", "nope"],
            "error: unknown model 'nope'; available: composite-ct-3phase, em-boundaries-3d, "
            "em-membranes-2d, fibres",
        ),
        (["models", "show", "x/missing.zip"], "error: model package not found: x/missing.zip"),
    ],
)
def test_show_errors(
    user_dir: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _save(user_dir, "fibres")
    assert main(args) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [message] or (len(err) == 1 and err[0].startswith(message))


def test_show_invalid_card_names_the_field(
    user_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = _save(user_dir, "fibres")
    text = (
        (path / "model.json").read_text().replace('"receptive_field": 18', '"receptive_field": 3')
    )
    (path / "model.json").write_text(text)
    assert main(["models", "show", "fibres"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert "invalid model.json: receptive_field is 3 but the architecture's is 18" in err[0]


def test_unknown_model_in_a_subprocess_has_no_traceback(user_dir: Path) -> None:
    exe = Path(sys.executable).with_name("stratoseg")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "stratoseg.cli._main"]
    run = subprocess.run(
        [*cmd, "models", "show", "nope"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 2
    assert run.stderr.startswith("error: unknown model 'nope'; available: ")
    assert "Traceback" not in run.stderr
