"""OME-Zarr (NGFF 0.5) metadata for the workspace: multiscales, labels, image-label."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["NGFF_VERSION", "image_label_attrs", "labels_group_attrs", "multiscales_attrs"]

NGFF_VERSION = "0.5"


def multiscales_attrs(
    name: str,
    axes: str,
    voxel_size: Sequence[float],
    unit: str | None,
    factors: Sequence[Sequence[int]],
) -> dict[str, Any]:
    """The ``multiscales`` entry of an image whose level ``i`` is downsampled by ``factors[i]``.

    ``factors`` are per spatial axis; channel axes are never downsampled.

    Examples
    --------
    >>> ms = multiscales_attrs("raw", "zyx", (2.0, 1.0, 1.0), "micrometer", [(1, 1, 1), (1, 2, 2)])
    >>> ms["datasets"][1]["coordinateTransformations"][0]["scale"]
    [2.0, 2.0, 2.0]
    """
    ax: list[dict[str, Any]] = []
    for a in axes:
        if a == "c":
            ax.append({"name": "c", "type": "channel"})
        else:
            entry: dict[str, Any] = {"name": a, "type": "space"}
            if unit:
                entry["unit"] = unit
            ax.append(entry)
    datasets = []
    for level, f in enumerate(factors):
        scale = _scale(axes, voxel_size, f)
        datasets.append(
            {"path": str(level), "coordinateTransformations": [{"type": "scale", "scale": scale}]}
        )
    return {"name": name, "axes": ax, "datasets": datasets}


def _scale(axes: str, voxel_size: Sequence[float], factor: Sequence[int]) -> list[float]:
    spatial = iter(zip(voxel_size, factor, strict=True))
    out = []
    for a in axes:
        if a == "c":
            out.append(1.0)
        else:
            v, k = next(spatial)
            out.append(float(v) * int(k))
    return out


def labels_group_attrs(names: Sequence[str]) -> dict[str, Any]:
    """Attributes of the ``labels`` group listing the label images."""
    return {"ome": {"version": NGFF_VERSION, "labels": list(names)}}


def image_label_attrs(
    name: str, axes: str, voxel_size: Sequence[float], unit: str | None
) -> dict[str, Any]:
    """Attributes of one label image group: a one-level multiscales and ``image-label``."""
    return {
        "ome": {
            "version": NGFF_VERSION,
            "multiscales": [
                multiscales_attrs(name, axes, voxel_size, unit, [(1,) * len(voxel_size)])
            ],
            "image-label": {"version": NGFF_VERSION, "source": {"image": "../../"}},
        }
    }
