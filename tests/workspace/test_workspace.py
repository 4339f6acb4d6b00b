"""The workspace: layout, copy and reference modes, writers, read-only handles."""

from __future__ import annotations

import json
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import tifffile
import zarr

from stratoseg._progress import Cancelled
from stratoseg.io import open_volume
from stratoseg.workspace import Workspace, create_workspace, default_chunks


@pytest.fixture
def tiff_source(tmp_path: Path) -> tuple[Path, np.ndarray]:
    a = np.random.default_rng(0).integers(0, 255, (70, 300, 280), dtype=np.uint8)
    p = tmp_path / "src.tif"
    tifffile.imwrite(
        p,
        a,
        imagej=True,
        resolution=(1 / 0.5, 1 / 0.5),
        metadata={"axes": "ZYX", "spacing": 0.5, "unit": "um"},
    )
    return p, a


def test_create_from_tiff_copies_with_pyramid(tmp_path: Path, tiff_source) -> None:
    src, a = tiff_source
    seen: list[tuple[int, int]] = []
    with create_workspace(
        tmp_path / "ws.zarr", src, progress=lambda d, t: seen.append((d, t))
    ) as ws:
        assert ws.meta["mode"] == "copy"
        assert ws.spatial_shape == a.shape
        assert ws.chunks == (64, 64, 64)
        assert ws.voxel_size == (0.5, 0.5, 0.5)
        assert ws.unit == "micrometer"
        assert ws.label_names() == ["segmentation"]
        img = ws.image()
        np.testing.assert_array_equal(img.data.compute(), a)
        assert [lv.shape for lv in img.levels] == [(70, 300, 280), (35, 150, 140)]
        # level 1 is the 2x2x2 block mean of level 0, rounded
        expect = np.round(a[:70, :300, :280].reshape(35, 2, 150, 2, 140, 2).mean((1, 3, 5)))
        np.testing.assert_array_equal(img.levels[1].compute(), expect.astype(np.uint8))
    assert seen
    assert seen[-1][0] == seen[-1][1] > 0
    # the root is an OME-Zarr 0.5 image other readers understand from its metadata alone
    meta = json.loads((tmp_path / "ws.zarr" / "zarr.json").read_text())
    ms = meta["attributes"]["ome"]["multiscales"][0]
    assert meta["attributes"]["ome"]["version"] == "0.5"
    assert [d["path"] for d in ms["datasets"]] == ["0", "1"]
    assert ms["datasets"][1]["coordinateTransformations"][0]["scale"] == [1.0, 1.0, 1.0]
    labels = json.loads((tmp_path / "ws.zarr" / "labels" / "zarr.json").read_text())
    assert labels["attributes"]["ome"]["labels"] == ["segmentation"]
    seg = json.loads((tmp_path / "ws.zarr/labels/segmentation/zarr.json").read_text())
    assert "image-label" in seg["attributes"]["ome"]


def test_labels_start_empty_and_cost_nothing(tmp_path: Path, tiff_source) -> None:
    src, _ = tiff_source
    with create_workspace(tmp_path / "ws.zarr", src) as ws:
        lab = ws.labels("segmentation")
        assert lab.dtype == np.uint32
        assert lab.shape == ws.spatial_shape
        assert not any((tmp_path / "ws.zarr/labels/segmentation/0").rglob("c/*"))
        lab[5, 10:12, 20] = 3
        ws.reviewed("segmentation")[5, :, :] = 1
    again = Workspace.open(tmp_path / "ws.zarr")
    assert again.labels("segmentation")[5, 10:12, 20].tolist() == [3, 3]
    assert int(again.reviewed("segmentation")[5].sum()) == 300 * 280


def test_reference_mode_for_zarr_sources(tmp_path: Path) -> None:
    a = np.arange(4 * 40 * 50, dtype=np.float32).reshape(4, 40, 50)
    src = tmp_path / "src.zarr"
    zarr.create_array(store=str(src), data=a, chunks=(2, 20, 20))
    with create_workspace(tmp_path / "ws.zarr", src, chunks=(2, 32, 32)) as ws:
        assert ws.is_reference
        assert not (tmp_path / "ws.zarr" / "0").exists()
        np.testing.assert_array_equal(ws.image().data.compute(), a)
        ws.labels("segmentation")[0, 0, 0] = 1
        assert ws.labels("segmentation").chunks == (2, 32, 32)
    with create_workspace(tmp_path / "copy.zarr", src, copy=True) as ws:
        assert not ws.is_reference
        assert (tmp_path / "copy.zarr" / "0").exists()
    with pytest.raises(ValueError, match="copy=False needs a zarr"):
        create_workspace(tmp_path / "x.zarr", _tif(tmp_path), copy=False)


def _tif(tmp_path: Path) -> Path:
    p = tmp_path / "small.tif"
    tifffile.imwrite(p, np.zeros((3, 8, 8), np.uint8), photometric="minisblack")
    return p


def test_two_d_image_chunks_and_voxel_override(tmp_path: Path) -> None:
    p = tmp_path / "img.tif"
    a = np.random.default_rng(3).random((300, 520)).astype(np.float32)
    tifffile.imwrite(p, a)
    with create_workspace(tmp_path / "ws.zarr", p, voxel_size=0.2, unit="nm") as ws:
        assert ws.axes == "yx"
        assert ws.chunks == default_chunks((300, 520)) == (256, 256)
        assert ws.voxel_size == (0.2, 0.2)
        assert ws.unit == "nanometer"
        np.testing.assert_array_equal(ws.image().data.compute(), a)
        assert [lv.shape for lv in ws.image().levels] == [(300, 520), (150, 260), (75, 130)]
    with create_workspace(tmp_path / "ws2.zarr", p, chunks=[100, 128]) as ws:
        assert ws.chunks == (100, 128)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"chunks": 0}, "chunks must be positive"),
        ({"chunks": [1, 2]}, "chunks must have 1 or 3"),
        ({"voxel_size": [1, -2, 1]}, "voxel_size must be 3 positive"),
        ({"voxel_size": [1, 2]}, "voxel_size must be 3 positive"),
    ],
)
def test_bad_parameters_leave_nothing(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        create_workspace(tmp_path / "ws.zarr", _tif(tmp_path), **kwargs)
    assert not (tmp_path / "ws.zarr").exists()


def test_cancelled_creation_leaves_nothing(tmp_path: Path, tiff_source) -> None:
    src, _ = tiff_source
    with pytest.raises(Cancelled):
        create_workspace(tmp_path / "ws.zarr", src, should_stop=lambda: True)
    assert list(tmp_path.iterdir()) == [src]


def test_existing_workspace_needs_overwrite(tmp_path: Path) -> None:
    create_workspace(tmp_path / "ws.zarr", _tif(tmp_path)).close()
    with pytest.raises(FileExistsError, match="already exists"):
        create_workspace(tmp_path / "ws.zarr", _tif(tmp_path))
    create_workspace(tmp_path / "ws.zarr", _tif(tmp_path), overwrite=True).close()


def test_writers_and_read_only_handles(tmp_path: Path, tiff_source) -> None:
    src, a = tiff_source
    ws = create_workspace(tmp_path / "ws.zarr", src)
    probs = da.random.default_rng(0).random((3, *a.shape), chunks=(3, 64, 64, 64))
    arr = ws.write_probabilities("run1", probs, classes=["matrix", "fibre", "pore"], seed=4)
    assert arr.dtype == np.uint8
    assert arr.chunks == (3, 64, 64, 64)
    expect = np.round(probs.compute().astype(np.float32) * 255).astype(np.uint8)
    np.testing.assert_array_equal(arr[...], expect)
    assert arr.attrs["classes"] == ["matrix", "fibre", "pore"]
    assert arr.attrs["params"] == {"seed": 4}
    with pytest.raises(ValueError, match=r"must have shape \(C, \) \+ \(70, 300, 280\)"):
        ws.write_probabilities("bad", np.zeros((3, 4, 4, 4)))
    ws.write_channel("edt", a.astype(np.float32) / 255, method="binary")
    assert ws.channels() == ["edt"]
    assert ws.predictions() == ["run1"]
    ws.reviewed("segmentation")[0] = 1
    ws.write_labels("segmentation", (a > 128).astype(np.uint16), overwrite=True)
    assert ws.labels("segmentation").dtype == np.uint16
    assert int(ws.reviewed("segmentation")[0].sum()) == 300 * 280  # kept
    with pytest.raises(FileExistsError):
        ws.write_labels("segmentation", a)
    with pytest.raises(TypeError, match="integer dtype"):
        ws.write_labels("floats", a.astype(np.float32))
    with pytest.raises(ValueError, match="labels name must start"):
        ws.create_labels("../evil")
    ws.delete("channels/edt")
    assert ws.channels() == []
    kinds = [e["kind"] for e in ws.journal.entries()]
    assert kinds == [
        "created",
        "labels-created",
        "predictions-written",
        "channels-written",
        "labels-written",
        "deleted",
    ]
    ws.close()
    ro = Workspace.open(tmp_path / "ws.zarr")
    with pytest.raises(PermissionError, match="read-only"):
        ro.create_labels("more")
    with pytest.raises(Exception):  # noqa: B017,PT011 - zarr's own read-only error
        ro.labels("segmentation")[0, 0, 0] = 1


def test_open_rejects_non_workspaces(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Workspace.open(tmp_path / "none.zarr")
    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w")
    with pytest.raises(ValueError, match="not a StratoSeg workspace"):
        Workspace.open(tmp_path / "plain.zarr")
    with pytest.raises(ValueError, match="mode must be"):
        Workspace.open(tmp_path / "plain.zarr", mode="w")  # type: ignore[arg-type]


def test_workspace_arrays_open_with_open_volume(tmp_path: Path, tiff_source) -> None:
    src, _ = tiff_source
    create_workspace(tmp_path / "ws.zarr", src).close()
    vol = open_volume(tmp_path / "ws.zarr/labels/segmentation/0")
    assert vol.shape == (70, 300, 280)
    assert vol.voxel_size == (0.5, 0.5, 0.5)


def test_unfinished_outputs_are_not_listed(tmp_path: Path) -> None:
    with create_workspace(tmp_path / "ws.zarr", _tif(tmp_path)) as ws:
        ws.write_channel("c1", np.zeros(ws.spatial_shape, np.float32))
        # what a crash in the middle of write_channel("c2") leaves behind
        import shutil

        shutil.copytree(
            tmp_path / "ws.zarr/channels/c1", tmp_path / "ws.zarr/channels/.c2.partial-deadbeef"
        )
        assert ws.channels() == ["c1"]


def test_read_only_open_writes_nothing(tmp_path: Path) -> None:
    create_workspace(tmp_path / "ws.zarr", _tif(tmp_path)).close()
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "ws.zarr").rglob("*")}
    with Workspace.open(tmp_path / "ws.zarr") as ws:
        ws.summary()
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "ws.zarr").rglob("*")} == before


def test_label_images_are_written_with_the_workspace(tmp_path: Path) -> None:
    gt = np.zeros((3, 8, 8), np.uint8)
    gt[1, 2:4, 2:4] = 2
    with create_workspace(
        tmp_path / "ws.zarr", _tif(tmp_path), labels=["a", "b"], label_images={"gt": gt}
    ) as ws:
        assert ws.label_names() == ["gt", "a", "b"]
        np.testing.assert_array_equal(ws.labels("gt")[...], gt)
    with pytest.raises(ValueError, match=r"label_images\['x'\] must have shape"):
        create_workspace(tmp_path / "w2.zarr", _tif(tmp_path), label_images={"x": gt[0]})
    assert not (tmp_path / "w2.zarr").exists()
