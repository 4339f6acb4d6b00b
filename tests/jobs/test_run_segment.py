"""``run_segment``: prediction then post-processing, and what a resumed run may change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from stratoseg._progress import Cancelled
from stratoseg.jobs import run_segment, segment_recipe
from stratoseg.models import read_card
from stratoseg.synthetic import make_composite
from stratoseg.workspace import Workspace, create_workspace


@pytest.fixture
def ws_path(tmp_path: Path) -> Path:
    tifffile.imwrite(tmp_path / "v.tif", np.asarray(make_composite((16, 64, 64), seed=2).image))
    create_workspace(tmp_path / "w.zarr", tmp_path / "v.tif", chunks=(8, 32, 32)).close()
    return tmp_path / "w.zarr"


def test_a_resume_must_write_the_same_labels(ws_path: Path, tiny_model: Path) -> None:
    """A run stopped mid-way cannot be resumed with another post-processing (the MAP labels
    written with the blocks would miss the blocks done before)."""
    card = read_card(tiny_model)
    shape, chunks = (16, 64, 64), (8, 32, 32)
    objects = segment_recipe(card, shape=shape, chunks=chunks, block=[8, 32, 32],
                             postprocess="distance-watershed")  # fmt: skip
    classes = segment_recipe(card, shape=shape, chunks=chunks, block=[8, 32, 32])
    blocks: list[int] = []
    with Workspace.open(ws_path, mode="r+") as ws:
        with pytest.raises(Cancelled):
            run_segment(ws, tiny_model, objects, device="cpu",
                        progress=lambda d, t: blocks.append(d),
                        should_stop=lambda: len(blocks) > 2)  # fmt: skip
        with pytest.raises(ValueError, match="was started with other parameters"):
            run_segment(ws, tiny_model, classes, resume=True, device="cpu")
        run_segment(ws, tiny_model, objects, resume=True, device="cpu")
        assert ws.labels_in_use("segmentation")
        assert np.asarray(ws.labels("segmentation")[...]).max() > 2  # objects
