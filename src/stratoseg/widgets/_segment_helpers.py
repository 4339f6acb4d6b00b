"""Helpers of the Segment widget: model choices, the workspace a run writes to, the job."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask.array as da
import numpy as np
import platformdirs

from stratoseg._progress import ProgressFn, StopFn
from stratoseg.io import Volume
from stratoseg.jobs import SegmentRecipe
from stratoseg.napari._layers import LayerData, labels_layer_data
from stratoseg.widgets._enhance_helpers import layer_meta, level0
from stratoseg.widgets._workspace_helpers import WorkspaceSession, session_holding
from stratoseg.workspace import Workspace, create_workspace, default_chunks, is_workspace

if TYPE_CHECKING:
    from napari.layers import Image

__all__ = [
    "FIELD_NAMES",
    "RUN_OPTIONS",
    "SegmentJob",
    "layer_recipe",
    "model_choices",
    "probability_layer_data",
    "result_layer_data",
    "scratch_workspace_path",
    "workspace_of",
]


def model_choices() -> list[tuple[str, Path]]:
    """``("name (user)", path)`` for every usable registered package, in resolution order."""
    from stratoseg.models import list_models

    return [
        (f"{e.name} ({e.source})", Path(e.path))
        for e in list_models()
        if e.card is not None and not e.shadowed
    ]


def workspace_of(layer: Image) -> Path | None:
    """The workspace whose raw image ``layer`` shows, or None."""
    meta = layer_meta(layer)
    if meta.get("role") == "image" and meta.get("workspace"):
        return Path(meta["workspace"])
    return None


def scratch_workspace_path(layer_name: str) -> Path:
    """Where a layer that is not from a workspace gets one: the user data folder.

    ``<user data>/stratoseg/workspaces/<layer>.zarr``; an existing workspace of that name is
    reused (a cancelled run resumes there).
    """
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in layer_name).strip(".")
    return Path(platformdirs.user_data_dir("stratoseg")) / "workspaces" / f"{safe or 'image'}.zarr"


def layer_recipe(layer: Image | None, model: Path, choices: dict[str, Any] | None) -> Any:
    """What segmenting ``layer`` (None: no image yet) with ``model`` applies: the card's
    recommendation with the fields' ``choices`` (:func:`~stratoseg.jobs.segment_recipe`)."""
    from stratoseg.jobs import segment_recipe
    from stratoseg.models import read_card

    shape = None if layer is None else tuple(int(n) for n in level0(layer).shape)
    return segment_recipe(read_card(model), shape=shape, names=FIELD_NAMES, **(choices or {}))


def _layer_volume(layer: Image) -> Volume:
    data = level0(layer)
    lazy = data if isinstance(data, da.Array) else da.from_array(np.asarray(data))
    axes = "zyx" if lazy.ndim == 3 else "yx"
    scale = tuple(float(s) for s in layer.scale[-lazy.ndim :])
    return Volume(lazy, axes, scale, None, Path(layer.name), "napari")


#: How the recipe's items are called in the widget (for its error messages).
FIELD_NAMES = {"tiling": "Tiling", "passes": "Passes", "window": "Window", "halo": "Halo",
               "block": "Block", "dtype": "Storage", "postprocess": "Post-processing",
               "stack": "3-D objects"}  # fmt: skip
#: The options of a run that are not the recipe's.
RUN_OPTIONS = ("run", "labels", "overwrite", "device", "seed", "batch_size")


@dataclass
class SegmentJob:
    """One *Segment volume* run: the image layer, the model, its recipe and the workspace.

    Attributes
    ----------
    layer : napari.layers.Image
    model : Path
        The model package.
    options : dict
        The run's own options (:data:`RUN_OPTIONS`: run, labels, overwrite, device, seed,
        batch_size).
    recipe : SegmentRecipe
        What the run applies: the card's recommendation unless a field overrides an item.
    target : Path
        The workspace written to: the layer's own, or a new one made from the layer.
    session : WorkspaceSession or None
        The Load / Workspace widget's session when it holds ``target``; the run writes through
        it instead of opening the workspace a second time.
    notices : list of str
        The recipe's notices, then the out-of-domain notice found when the run starts.
    """

    layer: Image
    model: Path
    options: dict[str, Any]
    recipe: SegmentRecipe
    target: Path
    session: WorkspaceSession | None = None
    created: bool = field(default=False, init=False)
    resumed: bool = field(default=False, init=False)
    started: bool = field(default=False, init=False)
    notices: list[str] = field(default_factory=list, init=False)

    @classmethod
    def plan(
        cls,
        layer: Image,
        model: Path,
        options: dict[str, Any],
        scratch: Path | None,
        choices: dict[str, Any] | None = None,
    ) -> SegmentJob:
        """The job for ``layer``; ``scratch``: the workspace to create for a plain layer;
        ``choices``: the fields' overrides of the card (keyword arguments of
        :func:`~stratoseg.jobs.segment_recipe`; None or absent: the card's)."""
        own = workspace_of(layer)
        target = own if own is not None else scratch
        if target is None:
            raise ValueError(
                f"layer {layer.name!r} is not from a workspace: choose where to save one"
            )
        shape = tuple(int(n) for n in level0(layer).shape)
        if own is None and is_workspace(target):
            with Workspace.open(target) as ws:
                if ws.spatial_shape != shape:
                    raise ValueError(
                        f"{target} holds an image of shape {ws.spatial_shape}, not the "
                        f"{shape} of layer {layer.name!r}: choose another workspace path"
                    )
        recipe = layer_recipe(layer, model, choices)
        job = cls(layer, model, dict(options), recipe, target, session_holding(target))
        job.notices = list(recipe.notices)
        return job

    def _open(self, progress: ProgressFn, should_stop: StopFn) -> Workspace:
        if self.session is not None:
            return self.session.ws
        if is_workspace(self.target):
            return Workspace.open(self.target, mode="r+")
        self.target.parent.mkdir(parents=True, exist_ok=True)
        vol = _layer_volume(self.layer)
        ws = create_workspace(
            self.target, vol, chunks=default_chunks(vol.shape), progress=progress,
            should_stop=should_stop,
        )  # fmt: skip
        self.created = True
        return ws

    def compute(self, progress: ProgressFn, should_stop: StopFn) -> Path:
        """Segment into the workspace as the recipe says (resuming an unfinished run of the
        same name); return the workspace path. A workspace opened here is closed again."""
        from stratoseg.jobs import domain_notice, run_segment
        from stratoseg.models import read_card

        ws = self._open(progress, should_stop)
        try:
            card = read_card(self.model)
            notice = domain_notice(ws.image().data, card, voxel_size=ws.voxel_size,
                                   unit=ws.unit)  # fmt: skip
            if notice:
                self.notices.append(notice)
            options = {k: v for k, v in self.options.items() if k in RUN_OPTIONS}
            options["run"] = options.get("run") or card.name
            run = options["run"]
            if run in ws.predictions() and not options.get("overwrite"):
                complete = bool(ws.array(f"predictions/{run}").attrs.get("complete"))
                labels = options.get("labels")
                # a finished prediction whose post-processing was stopped: only that is redone
                pending = (
                    bool(labels)
                    and self.recipe.method is not None
                    and not ws.labels_in_use(str(labels))
                )
                self.resumed = not complete or pending
                if not self.resumed:
                    raise FileExistsError(
                        f"predictions/{run} is already complete in {ws.path}: tick "
                        "'Overwrite' or choose another run name"
                    )
            self.started = True
            run_segment(ws, self.model, self.recipe, resume=self.resumed, progress=progress,
                        should_stop=should_stop, **options)  # fmt: skip
            self.options = {**self.options, **options}
        finally:
            if self.session is None:
                ws.close()
        return Path(ws.path)


def probability_layer_data(ws: Workspace, run: str) -> LayerData:
    """The run's probabilities as one hidden image layer per class (``channel_axis`` 0)."""
    array = ws.array(f"predictions/{run}")
    stored: Any = array.attrs.get("classes", [])
    classes = [str(c) for c in stored]
    top = 255 if array.dtype == np.uint8 else 1
    kwargs = {
        "name": [f"{run} p({c})" for c in classes],
        "channel_axis": 0,
        "visible": False,
        "contrast_limits": [[0, top]] * len(classes),
        "colormap": "magma",
        "scale": ws.voxel_size,
        "metadata": {
            "stratoseg": {"workspace": str(ws.path), "array": f"predictions/{run}", "role": "run"}
        },
    }
    return da.from_zarr(array, inline_array=True), kwargs, "image"


def result_layer_data(ws: Workspace, run: str, labels: str | None) -> list[LayerData]:
    """Probabilities, then labels (read-only views: the Load / Workspace widget edits)."""
    out = [probability_layer_data(ws, run)]
    if labels:
        data, kwargs, kind = labels_layer_data(ws, labels, editable=False)
        out.append((data, {**kwargs, "name": labels}, kind))
    return out
