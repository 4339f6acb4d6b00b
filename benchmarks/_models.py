"""The networks the inference benchmarks run: small U-Nets trained for seconds on a composite.

Training proper is issue 6's; these are trained with the tests' loop (``tests/_tiny_model.py``,
imported, not copied) so that the benchmarks run real networks that have learnt something,
with the layer shapes of the 2-D, 2.5D and 3-D variants the project ships.
"""

from __future__ import annotations

import sys
from pathlib import Path

from stratoseg.models import UNetConfig

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from _tiny_model import train_tiny_model  # noqa: E402

#: name -> (config, training patch, batch, steps)
NETWORKS: dict[str, tuple[UNetConfig, int, int, int]] = {
    "2-D": (
        UNetConfig(spatial_dims=2, in_channels=1, out_channels=3, depth=4, base_filters=8),
        96,
        8,
        60,
    ),
    "2.5D": (
        UNetConfig(
            spatial_dims=2, in_channels=1, out_channels=3, depth=4, base_filters=8, context=3
        ),
        96,
        8,
        60,
    ),
    "3-D": (
        UNetConfig(spatial_dims=3, in_channels=1, out_channels=3, depth=3, base_filters=8),
        48,
        2,
        40,
    ),
    # the width of the networks StratoSeg ships (issue 6), for the efficiency measurement:
    # the small ones above leave the reading and writing a larger share of a 2-core machine
    "2-D, 16 filters": (
        UNetConfig(spatial_dims=2, in_channels=1, out_channels=3, depth=4, base_filters=16),
        96,
        8,
        60,
    ),
    "2.5D, 16 filters": (
        UNetConfig(
            spatial_dims=2, in_channels=1, out_channels=3, depth=4, base_filters=16, context=3
        ),
        96,
        8,
        60,
    ),
    "3-D, 16 filters": (
        UNetConfig(spatial_dims=3, in_channels=1, out_channels=3, depth=3, base_filters=16),
        48,
        2,
        40,
    ),
}
#: The three variants every benchmark runs.
MAIN = ["2-D", "2.5D", "3-D"]


def describe(name: str) -> str:
    """One line naming a benchmark network's shape."""
    cfg = NETWORKS[name][0]
    ctx = f", context {cfg.context}" if cfg.context > 1 else ""
    return (
        f"{name}: depth {cfg.depth}, {cfg.base_filters} filters{ctx}, receptive field "
        f"{cfg.receptive_field}, reach (halo) {cfg.halo}"
    )


def train(folder: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Train the named networks (default: all) into ``folder``; their package paths."""
    out = {}
    for name in names or list(NETWORKS):
        cfg, patch, batch, steps = NETWORKS[name]
        tag = "".join(c for c in name.lower() if c.isalnum())
        out[name] = train_tiny_model(
            folder / f"bench-{tag}.zip",
            name=f"bench-{tag}",
            config=cfg,
            patch=patch,
            batch=batch,
            steps=steps,
        )
    return out
