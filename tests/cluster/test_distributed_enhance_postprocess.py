"""Enhancement channels and block-wise post-processing on a 2-worker dask.distributed
LocalCluster: one task per block, the same bytes as one process (issue 9)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

from stratoseg.cli import main
from stratoseg.enhance import EnhanceParams, write_enhanced_channel
from stratoseg.inference import segment_workspace
from stratoseg.postprocess import postprocess_workspace
from stratoseg.synthetic import make_composite
from stratoseg.workspace import Workspace, create_workspace

pytest.importorskip("distributed")


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    volume = np.asarray(make_composite((12, 80, 72), seed=3).image.compute())
    tifffile.imwrite(tmp_path / "v.tif", volume)
    return create_workspace(tmp_path / "ws.zarr", tmp_path / "v.tif", chunks=16, labels=None)


def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of a few chunks (the default budget makes this volume one block); the blocks
    are planned by the driver, so patching it here is enough."""
    import stratoseg._blocks

    monkeypatch.setattr(stratoseg._blocks, "DEFAULT_BLOCK_BYTES", 2**20)


@pytest.mark.parametrize(
    "params",
    [
        EnhanceParams(method="binary", max_distance=4),
        EnhanceParams(method="grayscale", max_distance=3, mode="2d"),
        EnhanceParams(method="binary"),  # not local: the whole volume is one task
    ],
    ids=["binary", "grayscale-2d", "whole"],
)
def test_an_enhanced_channel_on_a_cluster_is_the_same(
    client: Any, workspace: Workspace, params: EnhanceParams, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_blocks(monkeypatch)
    seen: list[tuple[int, int]] = []
    with workspace as ws:
        one = write_enhanced_channel(ws, params, name="one")
        two = write_enhanced_channel(
            ws, params, name="two", client=client, progress=lambda d, t: seen.append((d, t))
        )
        a, b = np.asarray(one[...]), np.asarray(two[...])
        entry = ws.journal.entries("channels-written")[-1]
    assert a.tobytes() == b.tobytes()
    assert a.std() > 0.1  # not trivial
    assert entry["name"] == "two"
    assert seen[-1][0] == seen[-1][1] == a.size
    if params.max_distance is not None:
        assert len(seen) > 4  # several block tasks


def test_postprocessing_on_a_cluster_gives_the_same_labels(
    client: Any, workspace: Workspace, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small_blocks(monkeypatch)
    with workspace as ws:
        segment_workspace(ws, tiny_model, run="p", labels=None, device="cpu")
        for method, params in [
            ("distance-watershed", {"object_class": 1}),
            ("map", {}),
        ]:
            kw: dict[str, Any] = {"block": (16, 32, 32), "halo": 8, **params}
            postprocess_workspace(ws, "p", method, labels="one", overwrite=True, **kw)
            postprocess_workspace(ws, "p", method, labels="two", overwrite=True, client=client,
                                  **kw)  # fmt: skip
            one = np.asarray(ws.labels("one")[...])
            two = np.asarray(ws.labels("two")[...])
            assert one.tobytes() == two.tobytes(), method
            assert len(np.unique(two)) > 2
        leftovers = [p.name for p in ws.path.iterdir() if p.name.startswith(".postprocess")]
        assert leftovers == []


def test_enhance_and_postprocess_commands_take_a_scheduler(
    client: Any, workspace: Workspace, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address = client.scheduler.address
    with workspace as ws:
        segment_workspace(ws, tiny_model, run="p", labels=None, device="cpu")
        path = str(ws.path)
    enhance = ["enhance", path, "--method", "binary", "--max-distance", "4"]
    assert main([*enhance, "--name", "one"]) == 0
    assert main([*enhance, "--name", "two", "--scheduler", address]) == 0
    post = ["postprocess", path, "--predictions", "p", "--method", "distance-watershed",
            "--block", "16,32,32"]  # fmt: skip
    assert main([*post, "--labels", "one"]) == 0
    assert main([*post, "--labels", "two", "--scheduler", address]) == 0
    assert capsys.readouterr().out.count("dask dashboard: http") == 2
    with Workspace.open(path, mode="r") as ws:
        for a, b in [(ws.array("channels/one"), ws.array("channels/two")),
                     (ws.labels("one"), ws.labels("two"))]:  # fmt: skip
            assert a[...].tobytes() == b[...].tobytes(), a.path
