"""The *Fine-tune* dock widget: mark what you checked as reviewed, train, re-segment."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSpinBox,
    Label,
    PushButton,
    SpinBox,
)
from napari.layers import Image, Labels, Shapes
from napari.qt.threading import thread_worker
from napari.utils import progress
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QObject, Signal

from stratoseg._progress import Cancelled
from stratoseg.widgets._common import Connections, JobBookkeeping, watch_lifetime
from stratoseg.widgets._finetune_helpers import (
    FineTuneJob,
    box_region,
    fresh_model_name,
    labels_of,
    mark_reviewed,
    slice_region,
)
from stratoseg.widgets._plot import LinePlot
from stratoseg.widgets._segment_helpers import (
    SegmentJob,
    model_choices,
    result_layer_data,
    workspace_of,
)
from stratoseg.workspace import Workspace, WorkspaceLockedError

if TYPE_CHECKING:
    import napari.viewer

__all__ = ["FineTuneWidget"]

_USER_ERRORS = (ValueError, TypeError, OSError, WorkspaceLockedError)
NEW = "(a new network)"
TARGETS = ["semantic", "touching", "touching-gap", "touching-mask", "boundary"]
LOSSES = ["ce", "focal", "jaccard", "jaccard2", "dice", "ce-youden", "ce-jaccard"]
WEIGHTS = ["none", "balance", "unet", "dwm", "saw", "w3"]


class Relay(QObject):
    """Carries training progress and segmentation progress from worker threads."""

    trained = Signal(object)
    segmented = Signal(int, int)


class FineTuneWidget(JobBookkeeping, Container):
    """Turn corrections into a better model: review, fine-tune for minutes, re-segment.

    1. Correct a workspace labels layer (the Load / Workspace widget makes it editable), and
       mark what you checked: *Mark slice reviewed* (the current z slice) or *Mark box
       reviewed* (the last rectangle of a shapes layer, on the current slice). Only reviewed
       voxels teach the network.
    2. Choose the base model (or a new network), the target, loss and time budget; *Start*.
       A new package is trained in a background thread into your model folder; the plot
       shows the training loss and the validation score as they come; *Stop* ends it early,
       keeping the best weights so far.
    3. *Re-segment with the new model* runs it over the whole image into the workspace
       (``labels/<new model>``; your corrected labels are not touched).

    Attributes
    ----------
    image, label_layer, shapes, base_model, target, loss, weights : ComboBox
    minutes, lr : FloatSpinBox
    patch, steps, val_every : SpinBox
    freeze_encoder, advanced : CheckBox
    mark_slice_button, mark_box_button, start_button, stop_button, resegment_button : PushButton
    plot : LinePlot
    status : Label
    result : TrainResult or None
        The last finished run.
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        self._viewer = viewer
        self.image = ComboBox(label="Image", choices=self._image_choices, nullable=True)
        self.label_layer = ComboBox(label="Labels", choices=self._labels_choices, nullable=True)
        self.shapes = ComboBox(label="Box layer", choices=self._shapes_choices, nullable=True)
        self.mark_slice_button = PushButton(text="Mark slice reviewed")
        self.mark_box_button = PushButton(text="Mark box reviewed")
        self.base_model = ComboBox(label="Base model", choices=self._model_choices)
        self.target = ComboBox(label="Target", choices=TARGETS, value="semantic")
        self.loss = ComboBox(label="Loss", choices=LOSSES, value="ce-jaccard")
        self.minutes = FloatSpinBox(label="Minutes", min=0.05, max=600, step=0.5, value=5.0)
        self.freeze_encoder = CheckBox(text="Freeze the encoder", value=False)
        self.advanced = CheckBox(text="Advanced settings", value=False)
        self.weights = ComboBox(label="Weights", choices=WEIGHTS, value="none")
        self.patch = SpinBox(label="Patch", min=16, max=512, step=16, value=128)
        self.steps = SpinBox(label="Max steps", min=1, max=10**7, value=100_000)
        self.val_every = SpinBox(label="Validate every", min=1, max=10**5, value=50)
        self.lr = FloatSpinBox(label="Learning rate", min=1e-6, max=1.0, step=1e-4, value=5e-4)
        self._settings = Container(
            widgets=[self.weights, self.patch, self.steps, self.val_every, self.lr],
            visible=False,
        )
        self.start_button = PushButton(text="Start")
        self.stop_button = PushButton(text="Stop", enabled=False)
        self.resegment_button = PushButton(text="Re-segment with the new model", enabled=False)
        self.status = Label(label="Status", value="")
        self.status.native.setWordWrap(True)
        super().__init__(
            widgets=[
                self.image, self.label_layer, self.mark_slice_button, self.shapes,
                self.mark_box_button, self.base_model, self.target, self.loss, self.minutes,
                self.freeze_encoder, self.advanced, self._settings, self.start_button,
                self.stop_button, self.resegment_button, self.status,
            ]
        )  # fmt: skip
        self.plot = LinePlot()
        self.native.layout().insertWidget(self.native.layout().count() - 1, self.plot)
        self.result: Any = None
        self._stop = threading.Event()
        self._closed = threading.Event()
        self._busy = False
        self._pbar: progress | None = None
        self._relay = Relay()  # no Qt parent: a late emit never reaches a deleted widget
        self._relay.trained.connect(self._on_trained_step)
        self._relay.segmented.connect(self._on_segment_progress)
        self.advanced.changed.connect(lambda v: setattr(self._settings, "visible", bool(v)))
        self.mark_slice_button.changed.connect(self.mark_slice)
        self.mark_box_button.changed.connect(self.mark_box)
        self.start_button.changed.connect(self.start)
        self.stop_button.changed.connect(self.stop)
        self.resegment_button.changed.connect(self.resegment)
        self._links = Connections()
        for emitter in (viewer.layers.events.inserted, viewer.layers.events.removed):
            self._links.connect(emitter, self._refresh_layers)
        self._watcher = watch_lifetime(
            self.native, self._disconnect, self._links, self._stop, self._closed
        )
        self._refresh_layers()
        self.status.value = (
            "Correct a workspace labels layer, mark what you checked as reviewed, then Start."
        )

    # -- choices ---------------------------------------------------------------------------
    def _image_choices(self, _: Any = None) -> list[tuple[str, Image]]:
        return [(lay.name, lay) for lay in self._viewer.layers
                if isinstance(lay, Image) and workspace_of(lay) is not None]  # fmt: skip

    def _labels_choices(self, _: Any = None) -> list[tuple[str, Labels]]:
        return [(lay.name, lay) for lay in self._viewer.layers
                if isinstance(lay, Labels) and labels_of(lay) is not None]  # fmt: skip

    def _shapes_choices(self, _: Any = None) -> list[tuple[str, Shapes]]:
        return [(lay.name, lay) for lay in self._viewer.layers if isinstance(lay, Shapes)]

    @staticmethod
    def _model_choices(_: Any = None) -> list[tuple[str, Path | None]]:
        return [(NEW, None), *model_choices()]

    def _refresh_layers(self, event: Any = None) -> None:
        for box in (self.image, self.label_layer, self.shapes):
            box.reset_choices()
            if box.value is None:  # nullable (nothing to choose yet); the first when there is
                box.value = next((c for c in box.choices if c is not None), None)

    def _report(self, message: str, *, error: bool = False) -> None:
        self.status.value = message
        (show_error if error else show_info)(message)

    # -- reviewing -------------------------------------------------------------------------
    def _labels_target(self) -> tuple[Labels, Path, str] | None:
        layer = self.label_layer.value
        found = None if layer is None else labels_of(layer)
        if layer is None or found is None:
            self._report("Choose a workspace labels layer first.", error=True)
            return None
        return layer, *found

    def _mark(self, region_of: Any) -> int | None:
        chosen = self._labels_target()
        if chosen is None:
            return None
        layer, path, name = chosen
        shape = tuple(int(n) for n in layer.data.shape)
        try:
            region = region_of(shape, tuple(self._viewer.dims.point))
            voxels = mark_reviewed(path, name, region)
        except _USER_ERRORS as exc:
            self._report(str(exc), error=True)
            return None
        where = ", ".join(f"{s.start or 0}:{s.stop if s.stop is not None else n}"
                          for s, n in zip(region, shape, strict=True))  # fmt: skip
        self.status.value = f"Marked {voxels} voxels of {name!r} reviewed ([{where}])."
        return voxels

    def mark_slice(self) -> int | None:
        """Mark the current slice of the chosen labels reviewed; returns the voxels marked."""
        return self._mark(slice_region)

    def mark_box(self) -> int | None:
        """Mark the last rectangle of the box layer, on the current slice, reviewed."""
        shapes = self.shapes.value
        if shapes is None:
            self._report("Add a shapes layer and draw a rectangle first.", error=True)
            return None
        return self._mark(lambda shape, point: box_region(shapes, shape, point))

    # -- training --------------------------------------------------------------------------
    def job(self) -> FineTuneJob | None:
        """The run the fields describe (None, with a message, when they cannot be used)."""
        from pydantic import ValidationError

        from stratoseg.enhance import describe_params_error
        from stratoseg.training import TrainConfig

        chosen = self._labels_target()
        if chosen is None:
            return None
        _, path, name = chosen
        base = self.base_model.value
        stem = f"{base.stem if base is not None else name}-ft"
        try:
            config = TrainConfig(
                name=fresh_model_name(stem), target=self.target.value, loss=self.loss.value,
                weights=self.weights.value, patch=int(self.patch.value),
                steps=int(self.steps.value), minutes=float(self.minutes.value),
                val_every=int(self.val_every.value), lr=float(self.lr.value),
                freeze_encoder=bool(self.freeze_encoder.value),
            )  # fmt: skip
        except ValidationError as exc:
            self._report(describe_params_error(exc), error=True)
            return None
        return FineTuneJob(path, name, base, config)

    def _on_trained_step(self, p: Any) -> None:
        if self._closed.is_set() or not self._busy:
            return
        if self._pbar is not None:
            self._pbar.update(int(1000 * p.fraction) - self._pbar.n)
        history = p.history
        losses = [h.get("loss") or float("nan") for h in history] + [p.loss]
        self.plot.set_series("loss", [h["step"] for h in history] + [p.step], losses)
        key = "pq" if history and "pq" in history[-1] else "mean_jaccard"
        if history:
            self.plot.set_series(f"validation {key.replace('_', ' ')}",
                                 [h["step"] for h in history],
                                 [h.get(key, float("nan")) for h in history])  # fmt: skip
        self.status.value = (f"Training: step {p.step}, loss {p.loss:.3f}, "
                             f"{p.seconds:.0f} s of {p.budget or 0:.0f} s")  # fmt: skip

    def _begin(self, text: str) -> None:
        self._stop.clear()
        self._busy = True
        self._pbar = progress(total=1000, desc=text)
        for button in (self.start_button, self.resegment_button):
            button.enabled = False
        self.stop_button.enabled = True
        self.status.value = f"{text}..."

    def _end(self) -> None:
        if not self._release_job():
            return
        self.start_button.enabled = True
        self.stop_button.enabled = False
        self.resegment_button.enabled = self.result is not None

    def _on_done(self, result: Any) -> None:
        self.result = result
        if self._closed.is_set():
            return
        shown = {k: v for k, v in result.card.metrics.items() if "jaccard" in k or k == "val_pq"}
        metrics = ", ".join(f"{k.removeprefix('val_')} {v:.3f}" for k, v in shown.items())
        self.status.value = (f"Trained {result.card.name!r} ({result.steps} steps, "
                             f"{result.seconds:.0f} s, stopped by {result.stopped})"
                             + (f": {metrics}." if metrics else "."))  # fmt: skip
        self.base_model.reset_choices()

    def _on_failed(self, exc: BaseException) -> None:
        if self._closed.is_set():
            return
        if isinstance(exc, _USER_ERRORS):
            self._report(str(exc), error=True)
        else:
            self._report(f"Training failed: {exc!r}", error=True)

    def start(self) -> Any:
        """Train in a napari ``thread_worker`` (*Start*); returns the worker, or None."""
        job = self.job()
        if job is None:
            return None
        self.plot.clear()
        self._begin("Fine-tuning")
        worker = thread_worker(job.run, start_thread=False, ignore_errors=True)(
            self._relay.trained.emit, self._stop.is_set
        )
        worker.returned.connect(self._on_done)
        worker.errored.connect(self._on_failed)
        worker.finished.connect(self._end)
        worker.start()
        return worker

    def start_blocking(self) -> Any:
        """The same in the calling thread (tests and scripts); returns the TrainResult."""
        job = self.job()
        if job is None:
            return None
        self.plot.clear()
        self._begin("Fine-tuning")
        try:
            result = job.run(self._on_trained_step, self._stop.is_set)
        except Exception as exc:
            self._on_failed(exc)
            return None
        finally:
            self._end()
        self._on_done(result)
        self._end()
        return result

    def stop(self) -> None:
        """End training at the next step, or segmenting after the current block (*Stop*)."""
        self._stop.set()
        self.status.value = "Stopping..."

    # -- re-segmenting ---------------------------------------------------------------------
    def _segment_job(self) -> SegmentJob | None:
        layer = self.image.value
        if self.result is None or layer is None:
            self._report("Train a model and choose the workspace image first.", error=True)
            return None
        name = self.result.card.name
        options = {"run": name, "labels": name, "overwrite": True}
        try:
            return SegmentJob.plan(layer, self.result.path, options, None)
        except _USER_ERRORS as exc:
            self._report(str(exc), error=True)
            return None

    def _on_segment_progress(self, done: int, total: int) -> None:
        if self._busy and self._pbar is not None and total > 0 and not self._closed.is_set():
            self._pbar.update(int(1000 * done / total) - self._pbar.n)

    def _show_segmentation(self, job: SegmentJob) -> list[Any]:
        if self._closed.is_set():
            return []
        name = job.options["run"]
        with Workspace.open(job.target) as ws:
            data = result_layer_data(ws, name, name)
        added: list[Any] = []
        for array, kwargs, kind in data:
            names = kwargs["name"] if isinstance(kwargs["name"], list) else [kwargs["name"]]
            for old in [lay for lay in self._viewer.layers if lay.name in names]:
                self._viewer.layers.remove(old)
            out = getattr(self._viewer, f"add_{kind}")(array, **kwargs)
            added.extend(out if isinstance(out, list) else [out])
        for notice in job.notices:  # a 2-D model on a stack, an image unlike its data
            show_info(notice)
        notes = "".join(f" Note: {n}" for n in job.notices)
        self.status.value = f"Re-segmented with {name!r}: labels/{name} in {job.target}.{notes}"
        return added

    def _segment_failed(self, exc: BaseException) -> None:
        if not self._closed.is_set():
            text = "Re-segmenting cancelled." if isinstance(exc, Cancelled) else str(exc)
            self._report(text, error=not isinstance(exc, Cancelled))

    def resegment(self) -> Any:
        """Segment the image with the new model in a ``thread_worker``; returns the worker."""
        job = self._segment_job()
        if job is None:
            return None
        self._begin("Re-segmenting")
        worker = thread_worker(job.compute, start_thread=False, ignore_errors=True)(
            self._relay.segmented.emit, self._stop.is_set
        )
        worker.returned.connect(lambda _: self._show_segmentation(job))
        worker.errored.connect(self._segment_failed)
        worker.finished.connect(self._end)
        worker.start()
        return worker

    def resegment_blocking(self) -> list[Any]:
        """The same in the calling thread; returns the layers added."""
        job = self._segment_job()
        if job is None:
            return []
        self._begin("Re-segmenting")
        try:
            job.compute(self._on_segment_progress, self._stop.is_set)
        except Exception as exc:
            self._segment_failed(exc)
            return []
        finally:
            self._end()
        return self._show_segmentation(job)

    # -- closing ---------------------------------------------------------------------------
    def _disconnect(self) -> None:
        self._closed.set()
        self._stop.set()
        self._links.disconnect_all()

    def close(self) -> None:
        """Stop any run (at its next step or block), disconnect from the viewer and close."""
        self._disconnect()
        super().close()
