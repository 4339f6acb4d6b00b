"""Helpers of the Enhance widget: parameter texts, slices of layers, the volume job."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dask.array as da
import numpy as np

from stratoseg._progress import ProgressFn, StopFn, dask_progress
from stratoseg.enhance import EnhanceParams, enhance_volume, write_enhanced_channel
from stratoseg.workspace import Workspace

if TYPE_CHECKING:
    import napari.viewer
    from napari.layers import Image, Labels, Layer

__all__ = [
    "PREVIEW_ROLE",
    "RELEVANT",
    "SEEDS_FROM_THRESHOLD",
    "EnhanceRun",
    "check_seed_shape",
    "layer_meta",
    "plane_at",
    "replace_layer",
]

#: The methods that use each optional parameter (alpha, beta, max distance, mode: all of them).
RELEVANT = {
    "threshold": {"binary", "geodesic"},
    "levels": {"grayscale"},
    "gamma": {"projected", "geodesic"},
    "seeds": {"geodesic"},
}
#: The *Seeds* choice that means "the voxels below the threshold".
SEEDS_FROM_THRESHOLD = "below the threshold"
#: ``metadata["stratoseg"]["role"]`` of preview layers (never offered as input).
PREVIEW_ROLE = "enhance-preview"


def layer_meta(layer: Layer) -> dict[str, Any]:
    """A copy of ``layer.metadata["stratoseg"]`` (empty when absent)."""
    return dict(layer.metadata.get("stratoseg", {}))


def level0(layer: Layer) -> Any:
    """The full-resolution data of a layer."""
    return layer.data[0] if getattr(layer, "multiscale", False) else layer.data


def check_seed_shape(seeds: Labels, image: Image) -> None:
    """Raise a ValueError naming both layers when the seeds are not on the image's grid."""
    shape, expected = tuple(level0(seeds).shape), tuple(level0(image).shape)
    if shape != expected:
        raise ValueError(
            f"seeds layer {seeds.name!r} has shape {shape}, but image {image.name!r} has "
            f"shape {expected}: seeds must be painted on the image's grid"
        )


def plane_at(layer: Image | Labels, world_point: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    """The last two axes of ``layer`` (level 0) at a world position, and the leading index.

    ``world_point`` is ``viewer.dims.point``; it is mapped through the layer's scale and
    translate, rounded and clipped to the data.

    Raises
    ------
    ValueError
        For an RGB(A) layer.
    """
    if getattr(layer, "rgb", False):
        raise ValueError(f"layer {layer.name!r} is RGB; enhancement needs a grey image")
    data = level0(layer)
    point = layer.world_to_data(world_point)
    lead = tuple(
        int(np.clip(round(float(p)), 0, n - 1))
        for p, n in zip(point[:-2], data.shape[:-2], strict=True)
    )
    return np.asarray(data[lead]), lead


def replace_layer(viewer: napari.viewer.Viewer, data: Any, *, name: str, **kwargs: Any) -> Image:
    """Add an image layer called ``name``, removing any layer of that name first."""
    for layer in [layer for layer in viewer.layers if layer.name == name]:
        viewer.layers.remove(layer)
    return viewer.add_image(data, name=name, **kwargs)


@dataclass
class EnhanceRun:
    """One *Run on volume* job: the input layer, parameters and destination.

    Attributes
    ----------
    layer : napari.layers.Image
        The input image (level 0 when multiscale).
    params : EnhanceParams
    channel : str
        Channel name; the result layer is ``"<layer> <channel>"``.
    overwrite : bool
        Replace an existing workspace channel.
    ws : Workspace or None
        Open for writing when the result goes to ``channels/<channel>``; :meth:`compute`
        closes it. None: computed in memory.
    seeds : napari.layers.Labels or None
        Geodesic method: its painted voxels (> 0) are the seeds; None: the threshold.
    """

    layer: Image
    params: EnhanceParams
    channel: str
    overwrite: bool
    ws: Workspace | None
    seeds: Labels | None = None

    def _seed_kwargs(self) -> dict[str, Any]:
        """How the seeds reach the computation: by name when they are a label image of the
        same workspace (recorded as such in the channel's attributes), else as an array."""
        if self.seeds is None:
            return {}
        meta = layer_meta(self.seeds)
        same = self.ws is not None and meta.get("workspace") == str(self.ws.path)
        if same and meta.get("role") == "labels" and meta.get("name"):
            return {"seeds_labels": meta["name"]}
        return {"seeds": level0(self.seeds)}

    def compute(self, progress: ProgressFn, should_stop: StopFn) -> Any:
        """The enhanced volume: a dask view of the written channel, or a numpy array."""
        if self.ws is not None:
            with self.ws:
                array = write_enhanced_channel(
                    self.ws, self.params, name=self.channel, overwrite=self.overwrite,
                    progress=progress, should_stop=should_stop, **self._seed_kwargs(),
                )  # fmt: skip
            return da.from_zarr(array)
        voxel_size = tuple(float(s) for s in self.layer.scale)
        seeds = None if self.seeds is None else level0(self.seeds)  # read lazily, nonzero
        with dask_progress(progress, should_stop):  # the global range and Otsu pass too
            lazy = enhance_volume(
                level0(self.layer), self.params, voxel_size=voxel_size, seeds=seeds
            )
            return lazy.compute()

    def layer_kwargs(self) -> dict[str, Any]:
        """``name``, ``scale``, ``translate`` and ``metadata`` of the result layer."""
        meta: dict[str, Any] = {"role": "enhanced", "source": self.layer.name}
        if self.ws is not None:
            meta = {"workspace": str(self.ws.path), "array": f"channels/{self.channel}"}
            meta.update(role="channel", name=self.channel)
        meta["enhance"] = self.params.model_dump()
        return {
            "name": f"{self.layer.name} {self.channel}",
            "scale": tuple(self.layer.scale),
            "translate": tuple(self.layer.translate),
            "metadata": {"stratoseg": meta},
        }
