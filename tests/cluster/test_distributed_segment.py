"""Segmentation on a 2-worker dask.distributed LocalCluster (loopback, worker processes): the
same bytes as one process, also when a worker dies mid-run."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile

from stratoseg.inference import segment_workspace
from stratoseg.synthetic import make_composite
from stratoseg.workspace import Workspace, create_workspace

distributed = pytest.importorskip("distributed")

KWARGS: dict[str, Any] = {"block": (16, 16, 16), "device": "cpu"}


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    volume = np.asarray(make_composite((12, 80, 72), seed=2).image.compute())
    tifffile.imwrite(tmp_path / "v.tif", volume)
    return create_workspace(tmp_path / "ws.zarr", tmp_path / "v.tif", chunks=16, labels=None)


def stored(ws: Workspace, run: str) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(ws.array(f"predictions/{run}")[...]), np.asarray(ws.labels(run)[...])


def test_a_cluster_writes_the_same_bytes_as_one_process(
    client: Any, workspace: Workspace, tiny_model: Path
) -> None:
    with workspace as ws:
        segment_workspace(ws, tiny_model, run="one", labels="one", **KWARGS)
        run = segment_workspace(ws, tiny_model, run="two", labels="two", client=client, **KWARGS)
        assert run.complete
        assert sorted(run.done) == list(range(25))
        one, two = stored(ws, "one"), stored(ws, "two")
        np.testing.assert_array_equal(one[0], two[0])
        np.testing.assert_array_equal(one[1], two[1])
        assert len(np.unique(two[1])) == 3  # not trivial: every class


def test_a_worker_killed_mid_run_changes_nothing(
    client: Any, workspace: Workspace, tiny_model: Path
) -> None:
    """One worker process is killed (SIGKILL) after the first block is on disk; its tasks
    run again elsewhere, and the output is the one of a single process."""
    killed: list[int] = []

    def kill_one(done: int, total: int) -> None:
        if done and not killed:
            pids = client.run(os.getpid)
            killed.append(pids[sorted(pids)[0]])
            os.kill(killed[0], signal.SIGKILL)

    with workspace as ws:
        segment_workspace(ws, tiny_model, run="one", labels="one", **KWARGS)
        run = segment_workspace(ws, tiny_model, run="two", labels="two", client=client,
                                progress=kill_one, **KWARGS)  # fmt: skip
        assert killed
        assert run.complete
        one, two = stored(ws, "one"), stored(ws, "two")
        np.testing.assert_array_equal(one[0], two[0])
        np.testing.assert_array_equal(one[1], two[1])
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it


def test_the_cli_runs_on_a_scheduler_and_prints_the_dashboard(
    client: Any, workspace: Workspace, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from stratoseg.cli import main

    address = client.scheduler.address
    with workspace:  # closed: the command opens it for writing
        path = str(workspace.path)
    common = [path, "--model", str(tiny_model), "--block", "16", "--device", "cpu"]
    assert main(["segment", *common, "--run", "one", "--labels", "one"]) == 0
    assert (
        main(["segment", *common, "--run", "two", "--labels", "two", "--scheduler", address]) == 0
    )
    assert "dask dashboard: http" in capsys.readouterr().out
    with Workspace.open(workspace.path) as ws:
        one, two = stored(ws, "one"), stored(ws, "two")
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    from stratoseg._cluster import cluster_client

    with (
        pytest.raises(
            ConnectionError, match=r"cannot reach the dask scheduler at 'tcp://127\.0\.0\.1:1'"
        ),
        cluster_client("tcp://127.0.0.1:1", timeout=1),
    ):
        pass
    with pytest.raises(ValueError, match="not both"), cluster_client("tcp://x:1", 2):
        pass


def test_a_worker_that_cannot_see_the_workspace_refuses_the_block(tmp_path: Path) -> None:
    """An array handle sent to a worker without the shared storage would read zeros and write
    to the worker's own disk: the task refuses it, naming the path."""
    import pickle
    import shutil

    import zarr

    from stratoseg._cluster import check_visible

    array = zarr.create_array(store=str(tmp_path / "a.zarr"), shape=(4,), dtype="uint8")
    sent = pickle.dumps(array)
    check_visible(pickle.loads(sent))
    shutil.move(tmp_path / "a.zarr", tmp_path / "elsewhere.zarr")
    with pytest.raises(FileNotFoundError, match=r"cannot see the workspace array .*a\.zarr"):
        check_visible(pickle.loads(sent))


def test_the_driver_does_not_load_the_network(
    client: Any, workspace: Workspace, tiny_model: Path
) -> None:
    """The workers load it on their own devices: a login node without the GPU asked for
    (``--device cuda``) can still drive the run, and holds no weights."""
    from stratoseg.inference import _prepare

    _prepare._cache.clear()
    with workspace as ws:
        run = segment_workspace(ws, tiny_model, run="c", labels=None, client=client, **KWARGS)
        assert run.complete
    assert _prepare._cache == {}


def _use_builtin_dir(folder: str) -> None:
    """On a worker: take built-in models from ``folder``, as another install would."""
    from stratoseg.models import _registry

    _registry.BUILTIN_DIR = Path(folder)


def _loaded_packages() -> list[str]:
    """On a worker: the packages whose networks it holds."""
    from stratoseg.inference import _prepare

    return [key[0] for key in _prepare._cache]


def test_a_builtin_model_by_name_on_the_cluster(
    client: Any, workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers installed elsewhere than the driver find a built-in model in their own install:
    the task carries ``builtin:<name>``, not the driver's path (which they loaded before)."""
    from stratoseg.models import _registry

    shipped = _registry.BUILTIN_DIR / "composite-ct-3phase"
    driver, worker = tmp_path / "driver-install", tmp_path / "worker-install"
    for install in (driver, worker):
        shutil.copytree(shipped, install / shipped.name)
    monkeypatch.setattr(_registry, "BUILTIN_DIR", driver)
    client.run(_use_builtin_dir, str(worker))
    kwargs = {**KWARGS, "block": (16, 32, 32)}
    try:
        with workspace as ws:
            segment_workspace(ws, "composite-ct-3phase", run="one", labels=None, **kwargs)
            run = segment_workspace(ws, "composite-ct-3phase", run="two", labels=None,
                                    client=client, **kwargs)  # fmt: skip
            assert run.complete
            np.testing.assert_array_equal(ws.array("predictions/one")[...],
                                          ws.array("predictions/two")[...])  # fmt: skip
        loaded = [p for paths in client.run(_loaded_packages).values() for p in paths]
        assert loaded
        assert all(p.startswith(str(worker)) for p in loaded), loaded
    finally:
        client.run(_use_builtin_dir, str(shipped.parent))


@pytest.mark.parametrize("dims", [2, 3])
def test_a_2048_cube_is_about_a_thousand_block_tasks(dims: int) -> None:
    """One task per block, and blocks group chunks under the memory budget: the graph of a
    2048^3 volume with 64^3 chunks stays near a thousand tasks (32,768 chunks)."""
    from stratoseg.inference import plan_segment
    from stratoseg.models import UNetConfig

    cfg = UNetConfig(spatial_dims=dims, in_channels=1, out_channels=3, depth=4 if dims == 2
                     else 3, base_filters=16)  # fmt: skip
    plan = plan_segment(cfg, (2048,) * 3, (64,) * 3, classes=3, input_itemsize=1)
    assert 500 <= len(plan.blocks()) <= 1200
