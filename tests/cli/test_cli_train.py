"""``stratoseg train`` end to end, and its bad-input table (one ``error:`` line, exit 2)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from stratoseg.cli import main
from stratoseg.cli._train import LOSS_NAMES, TARGET_NAMES, WEIGHT_NAMES
from stratoseg.io import Volume
from stratoseg.models import read_card
from stratoseg.synthetic import make_composite
from stratoseg.training import LOSSES, TARGETS, WEIGHTS
from stratoseg.workspace import create_workspace

SMALL = ["--depth", "2", "--filters", "4", "--patch", "32", "--batch-size", "2"]


@pytest.fixture
def ws_path(tmp_path: Path) -> Path:
    sample = make_composite((6, 48, 48), seed=3)
    vol = Volume(sample.image, "zyx", (1.0, 1.0, 1.0), None, Path("synthetic"), "synthetic")
    path = tmp_path / "ws.zarr"
    with create_workspace(path, vol, labels=None, label_images={"truth": sample.labels}) as ws:
        ws.reviewed("truth")[[1, 3, 5]] = 1
        ws.create_labels("empty")
    return path


def test_the_choices_are_the_training_packages_names() -> None:
    assert sorted(TARGET_NAMES) == sorted(TARGETS)
    assert sorted(LOSS_NAMES) == sorted(LOSSES)
    assert sorted(WEIGHT_NAMES) == sorted(WEIGHTS)


def test_train_writes_and_registers_a_package(
    ws_path: Path, tmp_path: Path, user_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fibres.zip"
    code = main(["train", str(ws_path), "--labels", "truth", "-o", str(out), "--steps", "8",
                 "--val-every", "4", "--classes", "matrix,fibre,pore", *SMALL])  # fmt: skip
    assert code == 0
    text = capsys.readouterr().out
    assert f"wrote {out} (fibres: 8 steps" in text
    assert "registered as 'fibres'" in text
    assert "validation: mean_jaccard" in text
    card = read_card(user_dir / "fibres.zip")
    assert [c.name for c in card.classes] == ["matrix", "fibre", "pore"]
    assert card.provenance["data"]["workspace"] == str(ws_path)


def test_fine_tuning_from_a_registered_name(
    ws_path: Path, tmp_path: Path, user_dir: Path, tiny_model: Path
) -> None:
    base = ["train", str(ws_path), "--labels", "truth", "--steps", "4", *SMALL[4:]]
    assert main([*base, "-o", str(tmp_path / "a"), "--base-model", str(tiny_model)]) == 0
    assert main([*base, "-o", str(tmp_path / "b"), "--base-model", "a", "--no-register",
                 "--freeze-encoder"]) == 0  # fmt: skip
    assert read_card(tmp_path / "b").provenance["parent"]["name"] == "a"
    assert not (user_dir / "b").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--labels", "nope"], "labels 'nope' not in workspace"),
        (["--labels", "empty"], "no reviewed voxels"),
        (["--labels", "truth", "--steps", "0"], "--steps input should be greater than or equal"),
        (["--labels", "truth", "--lr", "-1"], "--lr input should be greater than 0, got -1"),
        (["--labels", "truth", "--patch", "64"], r"patch .* is larger than the volume"),
        (["--labels", "truth", "--base-model", "nosuch"], "nosuch"),
        (["--labels", "truth", "--target", "touching-gap", "--base-model", "TINY"],
         "predicts 3 classes .* 'touching-gap' target has 4"),
        (["--labels", "truth", "--image", "labels/truth/0", "--dims", "3"],
         r"patch \(48, 48, 48\) is larger than the volume"),
    ],
)  # fmt: skip
def test_bad_input(
    ws_path: Path, tmp_path: Path, user_dir: Path, tiny_model: Path, extra: list[str],
    message: str, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    extra = [str(tiny_model) if e == "TINY" else e for e in extra]
    out = tmp_path / "m"
    code = main(["train", str(ws_path), "-o", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert re.search(message, err), err
    assert not out.exists()
    assert not list(user_dir.iterdir())


def test_an_existing_output_is_kept(
    ws_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code = main(["train", str(ws_path), "--labels", "truth", "-o", str(out), *SMALL])
    assert code == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"
    assert np.array_equal(sorted(p.name for p in out.iterdir()), ["keep.txt"])
