"""Block-wise segmentation of a workspace with a real (tiny, untrained) U-Net package."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import tifffile
import torch

from stratoseg._progress import Cancelled
from stratoseg.inference import InputReader, plan_segment, predict_block, segment_workspace
from stratoseg.inference._predictor import Predictor
from stratoseg.models import ModelCard, UNetConfig, build_model, save_package
from stratoseg.synthetic import make_composite
from stratoseg.workspace import Workspace, create_workspace


def make_package(tmp: Path, name: str, **config: Any) -> tuple[Path, Any]:
    cfg = UNetConfig(in_channels=1, out_channels=3, base_filters=4, **config)
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():  # batch-norm statistics that are not the identity
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    card = ModelCard(
        name=name,
        architecture={"kind": "unet", "config": cfg},
        input={"channels": [{"source": "image"}], "normalisation": {"kind": "minmax"}},
        classes=[{"name": "matrix"}, {"name": "fibre"}, {"name": "pore"}],
        receptive_field=cfg.receptive_field,
    )
    return save_package(model.eval(), card, tmp / f"{name}.zip"), model.eval()


def whole_pass(model: Any, volume: np.ndarray, axes: list[Any]) -> np.ndarray:
    """One forward pass over the whole volume, extended by its edges like the tiles."""
    lo, hi = float(volume.min()), float(volume.max())
    norm = (volume.astype(np.float32) - lo) / (hi - lo)
    pad = []
    for a, n in zip(axes, volume.shape, strict=True):
        if a.context:
            pad.append((a.halo, a.halo))
            continue
        size = n + 2 * a.halo
        size = -(-size // a.divisor) * a.divisor
        pad.append((a.halo, size - n - a.halo))
    big = np.pad(norm, pad, mode="edge")
    predictor = Predictor(model, device="cpu")
    if any(a.context for a in axes):  # 2.5D: every z slice with its neighbours
        c = axes[0].window
        tiles = np.stack([big[z : z + c] for z in range(volume.shape[0])])[:, None]
        probs = np.concatenate([predictor(t[None]) for t in tiles])[:, :, 0]
        probs = np.moveaxis(probs, 0, 1)  # (K, Z, Y, X)
        crop = tuple(
            slice(a.halo, a.halo + n) for a, n in zip(axes[1:], volume.shape[1:], strict=True)
        )
        return probs[(slice(None), slice(None), *crop)]
    probs = predictor(big[None, None])[0]
    crop = tuple(slice(a.halo, a.halo + n) for a, n in zip(axes, volume.shape, strict=True))
    return probs[(slice(None), *crop)]


@pytest.fixture(scope="module")
def volume() -> np.ndarray:
    return np.asarray(make_composite((12, 80, 72), seed=2).image.compute())


@pytest.fixture
def workspace(tmp_path: Path, volume: np.ndarray) -> Workspace:
    tifffile.imwrite(tmp_path / "v.tif", volume)
    return create_workspace(tmp_path / "ws.zarr", tmp_path / "v.tif", chunks=16, labels=None)


def stored(ws: Workspace, run: str) -> np.ndarray:
    return np.asarray(ws.array(f"predictions/{run}")[...], np.float32) / 255


@pytest.mark.parametrize(
    ("config", "block"),
    [
        ({"spatial_dims": 3, "depth": 2}, (16, 32, 32)),
        ({"spatial_dims": 3, "depth": 2}, (12, 48, 16)),
        ({"spatial_dims": 2, "depth": 2}, (12, 32, 48)),
        ({"spatial_dims": 2, "depth": 2, "context": 3}, (12, 80, 32)),
    ],
)
def test_crop_with_the_full_halo_equals_one_whole_pass(
    tmp_path: Path, workspace: Workspace, volume: np.ndarray, config: dict, block: tuple
) -> None:
    package, model = make_package(tmp_path, "tiny", **config)
    halo = -(-model.config.halo // 4) * 4  # its reach, on the divisor's grid (divisor 4)
    net = config["spatial_dims"]
    with workspace as ws:
        out = segment_workspace(
            ws, package, run="r", labels="seg", halo=halo, window=[halo * 2 + 16] * net,
            block=block, device="cpu", dtype="float16",
        )  # fmt: skip
        assert out.complete
        probs = np.asarray(ws.array("predictions/r")[...], np.float32)
        plan = plan_segment(
            model.config, ws.spatial_shape, ws.chunks, halo=halo, window=[halo * 2 + 16] * net,
            block=block, classes=3,
        )  # fmt: skip
        reference = whole_pass(model, volume, plan.axes)
        assert np.abs(probs - reference).max() <= 1e-3  # float16 storage: 2^-11 relative
        # before storage, in float32: the acceptance bound
        reader = InputReader(
            volume, [SimpleNamespace(source="image")], SimpleNamespace(kind="minmax"), (1, 1, 1)
        )
        predictor = Predictor(model, device="cpu")
        worst = 0.0
        for region in plan.blocks():
            got = predict_block(region, plan.axes, reader, predictor)
            worst = max(worst, float(np.abs(got - reference[(slice(None), *region)]).max()))
        assert worst <= 1e-4
        labels = np.asarray(ws.labels("seg")[...])
        np.testing.assert_array_equal(labels, np.argmax(probs, axis=0))


@pytest.mark.parametrize(
    ("config", "shape", "block"),
    [
        ({"spatial_dims": 2, "depth": 2}, (4, 80, 72), (4, 32, 48)),
        ({"spatial_dims": 3, "depth": 1}, (40, 48, 56), (16, 32, 32)),
    ],
)
def test_full_halo_equals_the_plain_pass_of_the_untouched_network(
    tmp_path: Path, config: dict, shape: tuple, block: tuple
) -> None:
    """The reference is the network as trained (no folded batch norm), run once over the
    normalised volume with its own zero padding; away from the faces (where the tiles see
    the edge-extended volume instead) the blocks give the same numbers."""
    _, model = make_package(tmp_path, "tiny", **config)
    cfg = model.config
    volume = np.asarray(make_composite(shape, seed=4).image.compute())
    halo = -(-cfg.halo // cfg.divisor) * cfg.divisor
    plan = plan_segment(cfg, shape, (16, 16, 16), halo=halo, block=block, classes=3)
    reader = InputReader(
        volume, [SimpleNamespace(source="image")], SimpleNamespace(kind="minmax"), (1, 1, 1)
    )
    predictor = Predictor(model, device="cpu")
    got = np.zeros((3, *shape), np.float32)
    for region in plan.blocks():
        got[(slice(None), *region)] = predict_block(region, plan.axes, reader, predictor)
    x = torch.from_numpy((volume.astype(np.float32) - reader.low) * np.float32(reader.scale))
    with torch.inference_mode():
        if cfg.spatial_dims == 2:
            plain = torch.softmax(model(x[:, None]), dim=1).numpy().transpose(1, 0, 2, 3)
        else:
            plain = torch.softmax(model(x[None, None]), dim=1)[0].numpy()
    reach = cfg.halo
    inner = tuple(
        slice(None) if cfg.spatial_dims == 2 and axis == 0 else slice(reach, n - reach)
        for axis, n in enumerate(shape)
    )
    assert all(s.start is None or s.stop > s.start for s in inner)
    inside = np.abs(got[(slice(None), *inner)] - plain[(slice(None), *inner)]).max()
    assert inside <= 1e-4
    # near the faces the tiles see the repeated edge, not zeros: the numbers differ there
    assert np.abs(got - plain).max() > 10 * inside


def test_resume_and_workers_are_bitwise_identical(tmp_path: Path, workspace: Workspace) -> None:
    package, _ = make_package(tmp_path, "tiny", spatial_dims=3, depth=2)
    kwargs: dict[str, Any] = {"block": (16, 32, 32), "device": "cpu", "labels": None}
    with workspace as ws:
        segment_workspace(ws, package, run="one", **kwargs)
        segment_workspace(ws, package, run="two", workers=2, **kwargs)
        np.testing.assert_array_equal(stored(ws, "one"), stored(ws, "two"))

        calls = []

        def stop_after_two() -> bool:
            calls.append(1)
            return len(calls) > 2

        with pytest.raises(Cancelled):
            segment_workspace(ws, package, run="cut", should_stop=stop_after_two, **kwargs)
        partial = ws.array("predictions/cut")
        assert partial.attrs["complete"] is False
        assert 0 < len(partial.attrs["blocks_done"]) < 12
        with pytest.raises(FileExistsError, match="resume"):
            segment_workspace(ws, package, run="cut", **kwargs)
        with pytest.raises(ValueError, match="other parameters"):
            segment_workspace(ws, package, run="cut", resume=True, seed=9, **kwargs)
        done = segment_workspace(ws, package, run="cut", resume=True, **kwargs)
        assert done.complete
        np.testing.assert_array_equal(stored(ws, "cut"), stored(ws, "one"))


def test_stratified_runs_are_reproducible(tmp_path: Path, workspace: Workspace) -> None:
    package, _ = make_package(tmp_path, "tiny", spatial_dims=2, depth=2)
    kwargs: dict[str, Any] = {"device": "cpu", "labels": None, "tiling": "stratified", "passes": 2}
    with workspace as ws:
        segment_workspace(ws, package, run="a", seed=1, **kwargs)
        segment_workspace(ws, package, run="b", seed=1, workers=2, **kwargs)
        segment_workspace(ws, package, run="c", seed=2, **kwargs)
        np.testing.assert_array_equal(stored(ws, "a"), stored(ws, "b"))
        assert np.abs(stored(ws, "a") - stored(ws, "c")).max() > 0
