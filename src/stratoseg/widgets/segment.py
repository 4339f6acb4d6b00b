"""The *Segment* dock widget: a model over the whole volume in one click, with a slice preview."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from magicgui.types import FileDialogMode
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    Label,
    LineEdit,
    PushButton,
    SpinBox,
)
from napari.layers import Image, Labels
from napari.qt.threading import thread_worker
from napari.utils import progress
from napari.utils.notifications import show_error, show_info

from stratoseg._progress import Cancelled
from stratoseg.widgets._common import (
    Connections,
    JobBookkeeping,
    ProgressRelay,
    advance,
    watch_lifetime,
)
from stratoseg.widgets._enhance_helpers import layer_meta
from stratoseg.widgets._segment_helpers import (
    SegmentJob,
    layer_recipe,
    model_choices,
    result_layer_data,
    scratch_workspace_path,
    workspace_of,
)
from stratoseg.widgets._segment_preview import SegmentPreview
from stratoseg.workspace import Workspace, WorkspaceLockedError

if TYPE_CHECKING:
    import napari.viewer

__all__ = ["SegmentWidget"]

#: Errors that mean "the input cannot be used" rather than a bug: shown, not raised.
_USER_ERRORS = (ValueError, TypeError, OSError, WorkspaceLockedError)


#: The choice that leaves an item to the model's card.
CARD = "recommended"


def _ints(text: str, what: str) -> int | list[int] | None:
    """``""``/``auto``/``recommended`` -> None (the card's, else fitted), ``"64"`` -> 64,
    ``"16,64,64"`` -> a list; else a ValueError."""
    text = text.strip().lower()
    if text in ("", "auto", CARD):
        return None
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(
            f"{what} must be '{CARD}', an integer or a list like 16,64,64; got {text!r}"
        ) from None
    return values[0] if len(values) == 1 else values


def _methods() -> list[str]:
    from stratoseg.postprocess import METHODS

    return [CARD, *METHODS]


def _count(text: str, what: str) -> int | None:
    """``""``/``recommended`` -> None (the card's), ``"4"`` -> 4; else a ValueError."""
    text = text.strip().lower()
    if text in ("", CARD):
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{what} must be '{CARD}' or a whole number; got {text!r}") from None


class SegmentWidget(SegmentPreview, JobBookkeeping, Container):
    """Segment an image with a U-Net package: *Segment volume*, or *Preview slice* first.

    *Segment volume* applies everything the model's card recommends (tiling, passes, window,
    halo, post-processing and its parameters, storage precision), each item unless a field of
    *Advanced settings* overrides it, as ``stratoseg segment`` does; the line under the model
    says what will be applied, and the notices (a 2-D model on a stack, an image unlike the
    training data) appear in the status and as notifications. It runs
    :func:`~stratoseg.jobs.run_segment` in a background thread with a progress bar and
    *Cancel*. A layer from a workspace (``metadata["stratoseg"]``) is
    segmented into that workspace, through the Load / Workspace widget's session when it holds
    it; any other layer first gets a workspace at *Workspace* (default: the user data folder).
    Probabilities go to ``predictions/<run>`` and MAP labels to ``labels/<labels>``; both are
    added as layers backed by the workspace. A cancelled run leaves an incomplete run that the
    next *Segment volume* with the same settings resumes.

    *Preview slice* computes only the blocks under the current slice with
    :func:`~stratoseg.inference.predict_lazy` (the same blocks and seeds as the full run) and
    shows their labels in ``"<layer> preview"``.

    Attributes
    ----------
    image, model, tiling, device, dtype, postprocess, stack : ComboBox
        ``"recommended"`` leaves the item to the card.
    applied : Label
        What *Segment volume* will apply, and where each item comes from.
    model_file, workspace_path : FileEdit
        A package file (used when set, instead of :attr:`model`); the workspace for layers
        that are not from one.
    seed, batch_size : SpinBox
    passes, window, halo, block, run_name, labels_name : LineEdit
        ``passes``: "recommended" or a whole number; ``window``/``halo``/``block``:
        "recommended" (the card's, else fitted) or integers (``16,64,64``).
    advanced, overwrite : CheckBox
    preview_button, run_button, cancel_button : PushButton
    status : Label
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        self._viewer = viewer
        self.image = ComboBox(label="Image", choices=self._image_choices)
        self.model = ComboBox(label="Model", choices=self._model_choices)
        self.model_file = FileEdit(
            label="or package", mode=FileDialogMode.OPTIONAL_FILE, filter="Model (*.zip *.json)"
        )
        self.workspace_path = FileEdit(
            label="Workspace", mode=FileDialogMode.OPTIONAL_FILE, filter="Zarr (*.zarr)"
        )
        self.preview_button = PushButton(text="Preview slice")
        self.run_button = PushButton(text="Segment volume")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.advanced = CheckBox(text="Advanced settings", value=False)
        self.applied = Label(value="")
        self.applied.native.setWordWrap(True)
        self.tiling = ComboBox(label="Tiling", choices=[CARD, "crop", "gaussian", "stratified"])
        self.passes = LineEdit(label="Passes", value=CARD)
        self.seed = SpinBox(label="Seed", min=0, max=2**31 - 1, value=0)
        self.device = ComboBox(label="Device", choices=["auto", "cpu", "cuda", "mps"])
        self.window = LineEdit(label="Window", value=CARD)
        self.halo = LineEdit(label="Halo", value=CARD)
        self.block = LineEdit(label="Block", value="auto")
        self.postprocess = ComboBox(label="Post-processing", choices=_methods())
        self.stack = ComboBox(label="3-D objects", choices=[CARD, "link", "split", "volume"])
        self.dtype = ComboBox(label="Storage", choices=[CARD, "uint8", "float16"])
        self.batch_size = SpinBox(label="Batch size", min=1, max=1024, value=4)
        self.run_name = LineEdit(label="Run name", value="")
        self.run_name.native.setPlaceholderText("(the model's name)")
        self.labels_name = LineEdit(label="Labels", value="segmentation")
        self.overwrite = CheckBox(text="Overwrite a finished run", value=False)
        self._settings = Container(
            widgets=[
                self.tiling, self.passes, self.seed, self.device, self.window, self.halo,
                self.block, self.postprocess, self.stack, self.dtype, self.batch_size,
                self.run_name, self.labels_name, self.overwrite,
            ],
            visible=False,
        )  # fmt: skip
        self.status = Label(label="Status", value="")
        self.status.native.setWordWrap(True)
        super().__init__(
            widgets=[
                self.image, self.model, self.model_file, self.applied, self.workspace_path,
                self.preview_button, self.run_button, self.cancel_button, self.advanced,
                self._settings, self.status,
            ]
        )  # fmt: skip
        self._stop = threading.Event()
        self._closed = threading.Event()
        self._pbar: progress | None = None
        self._busy = False
        self._told = 0  # notices of the running job already shown
        self._lazy: tuple[tuple[Any, ...], Any] | None = None  # (key, dask probabilities)
        self._relay = ProgressRelay()  # no Qt parent: see the Enhance widget
        self._relay.progressed.connect(self._on_progress)
        self.advanced.changed.connect(lambda v: setattr(self._settings, "visible", bool(v)))
        self.image.changed.connect(self._on_image)
        self.tiling.changed.connect(self._update_fields)
        for choice in (self.model, self.model_file, self.tiling, self.passes, self.window,
                       self.halo, self.postprocess, self.stack, self.dtype):  # fmt: skip
            choice.changed.connect(self._show_applied)
        self.preview_button.changed.connect(self.preview_slice)
        self.run_button.changed.connect(self.segment_volume)
        self.cancel_button.changed.connect(self.cancel)
        self._links = Connections()
        self._links.connect(viewer.layers.events.inserted, self._refresh_layers)
        self._links.connect(viewer.layers.events.removed, self._refresh_layers)
        self._watcher = watch_lifetime(
            self.native, self._disconnect, self._links, self._stop, self._closed
        )
        self._on_image()
        self._update_fields()
        if not self.model.choices:
            self.status.value = (
                "No model is installed: choose a package file (.zip), or put packages in the "
                "folder `stratoseg models list` names."
            )
        else:
            self.status.value = "Choose an image and a model, then Segment volume."

    # -- inputs ----------------------------------------------------------------------------
    def _image_choices(self, _: Any = None) -> list[tuple[str, Image]]:
        return [
            (layer.name, layer)
            for layer in self._viewer.layers
            if isinstance(layer, Image)
            and not layer.rgb
            and layer_meta(layer).get("role") in (None, "image")
        ]

    @staticmethod
    def _model_choices(_: Any = None) -> list[tuple[str, Path]]:
        return model_choices()

    def _refresh_layers(self, event: Any = None) -> None:
        self.image.reset_choices()

    def _on_image(self, value: Any = None) -> None:
        layer = self.image.value
        own = None if layer is None else workspace_of(layer)
        self.workspace_path.visible = layer is not None and own is None
        if layer is not None and own is None:
            self.workspace_path.value = scratch_workspace_path(layer.name)
        self._show_applied()

    def _update_fields(self, value: Any = None) -> None:
        self.passes.enabled = self.tiling.value in ("stratified", CARD)

    def _show_applied(self, value: Any = None) -> None:
        """The line under the model: what *Segment volume* will apply (or why it cannot)."""
        model = self.model_path()
        if model is None:
            self.applied.value = ""
            return
        try:
            recipe = layer_recipe(self.image.value, model, self.choices())
        except (ValueError, TypeError, OSError) as exc:
            self.applied.value = f"Will not run: {exc}"
            return
        self.applied.value = "Will apply " + "\n".join([recipe.describe(), *recipe.notices])

    def model_path(self) -> Path | None:
        """The chosen package: the file when one is given, else the registry entry."""
        text = str(self.model_file.line_edit.value).strip()
        return Path(text).expanduser() if text else self.model.value

    def choices(self) -> dict[str, Any]:
        """The fields' overrides of the card: keyword arguments of
        :func:`~stratoseg.jobs.segment_recipe` (None leaves an item to the card).

        Raises
        ------
        ValueError
            For a window, halo or block that is not 'recommended'/'auto' or integers.
        """

        def pick(value: Any) -> Any:
            return None if value == CARD else value

        return {
            "tiling": pick(self.tiling.value),
            "passes": _count(self.passes.value, "Passes"),
            "window": _ints(self.window.value, "Window"),
            "halo": _ints(self.halo.value, "Halo"),
            "block": _ints(self.block.value, "Block"),
            "dtype": pick(self.dtype.value),
            "postprocess": self.postprocess.value,
            "stack": pick(self.stack.value),
        }

    def settings(self) -> dict[str, Any]:
        """The run's own options (run name, labels, overwrite, device, seed, batch size)."""
        return {
            "seed": int(self.seed.value),
            "device": self.device.value,
            "batch_size": int(self.batch_size.value),
            "run": str(self.run_name.value).strip() or None,
            "labels": str(self.labels_name.value).strip() or None,
            "overwrite": bool(self.overwrite.value),
        }

    def _report(self, message: str, *, error: bool = False, notify: bool = True) -> None:
        self.status.value = message
        if notify:
            (show_error if error else show_info)(message)

    def _job(self) -> SegmentJob | None:
        layer, model = self.image.value, self.model_path()
        if layer is None:
            self._report("Choose an image layer first.", error=True)
            return None
        if model is None:
            self._report("Choose a model, or a package file.", error=True)
            return None
        try:
            text = str(self.workspace_path.line_edit.value).strip()
            scratch = Path(text).expanduser() if text else None
            return SegmentJob.plan(layer, model, self.settings(), scratch, self.choices())
        except _USER_ERRORS as exc:
            self._report(str(exc), error=True)
            return None

    # -- the volume ------------------------------------------------------------------------
    def _tell(self, notices: list[str]) -> None:
        """Notices as napari notifications (the status line keeps them too)."""
        for notice in notices:
            show_info(notice)

    def _begin(self, job: SegmentJob) -> None:
        self._tell(job.notices)
        self._told = len(job.notices)
        self._stop.clear()
        self._busy = True
        self._pbar = progress(total=0, desc="Segmenting")
        self.run_button.enabled = False
        self.preview_button.enabled = False
        self.cancel_button.enabled = True
        self.status.value = "Segmenting the volume..."

    def _on_progress(self, done: int, total: int) -> None:
        if not self._busy or self._closed.is_set():
            return
        if total > 0 and not self._stop.is_set():
            self.status.value = f"Segmenting the volume... {100 * done // total}%"
        advance(self._pbar, done, total)

    def _end(self) -> None:
        if not self._release_job():
            return
        self.run_button.enabled = True
        self.preview_button.enabled = True
        self.cancel_button.enabled = False

    def _on_failed(self, job: SegmentJob, exc: BaseException) -> None:
        self._busy = False
        if self._closed.is_set():
            return
        if job.created and workspace_of(job.layer) is None:
            self._adopt(job)  # the next click resumes in the workspace made for it
        if isinstance(exc, Cancelled) and not job.started:
            self._report("Cancelled before the segmentation started: nothing was written.")
        elif isinstance(exc, Cancelled):
            self._report(
                f"Cancelled: the run in {job.target} is incomplete; Segment volume again "
                "with the same settings resumes it."
            )
        elif isinstance(exc, _USER_ERRORS):
            self._report(str(exc), error=True)
        else:
            self._report(f"Segmenting failed: {exc!r}", error=True)

    def _adopt(self, job: SegmentJob) -> None:
        """Mark the layer as the image of the workspace just made from it."""
        meta = {"workspace": str(job.target), "array": "0", "role": "image"}
        job.layer.metadata = {**job.layer.metadata, "stratoseg": {**meta, "name": job.layer.name}}
        self._on_image()

    def _on_done(self, job: SegmentJob) -> list[Any]:
        self._busy = False
        if self._closed.is_set():
            return []
        if job.created:
            self._adopt(job)
        run, labels = job.options["run"], job.options.get("labels")
        if job.session is not None:
            ws = job.session.ws
            data = result_layer_data(ws, run, labels)
            added = self._replace(data[:1])
            if labels:
                added += self._session_labels(job, labels)
        else:
            with Workspace.open(job.target) as ws:
                added = self._replace(result_layer_data(ws, run, labels))
        names = [layer.name for layer in added if isinstance(layer, Labels)]
        done = "Resumed and finished" if job.resumed else "Finished"
        shown = f"; labels in layer {names[0]!r}" if names else ""
        self._tell(job.notices[self._told :])  # found while running: out of domain
        notes = "".join(f" Note: {n}" for n in job.notices)
        self.status.value = f"{done} predictions/{run} in {job.target}{shown}.{notes}"
        return added

    def _replace(self, layer_data: list[Any]) -> list[Any]:
        added: list[Any] = []
        for data, kwargs, kind in layer_data:
            names = kwargs["name"] if isinstance(kwargs["name"], list) else [kwargs["name"]]
            for old in [lay for lay in self._viewer.layers if lay.name in names]:
                self._viewer.layers.remove(old)
            out = getattr(self._viewer, f"add_{kind}")(data, **kwargs)
            added.extend(out if isinstance(out, list) else [out])
        return added

    def _session_labels(self, job: SegmentJob, labels: str) -> list[Any]:
        """The editable labels layer of the holding session, refreshed (or added)."""
        from stratoseg.napari._layers import labels_layer_data

        assert job.session is not None
        for layer in job.session.labels_layers():
            if layer_meta(layer).get("name") == labels:
                layer.data = job.session.ws.labels(labels)  # the array may have been replaced
                layer.refresh()
                return [layer]
        return job.session.add([labels_layer_data(job.session.ws, labels, editable=True)])

    def _compute(self, job: SegmentJob) -> Path:
        return job.compute(self._relay.progressed.emit, self._stop.is_set)

    def segment_volume(self) -> Any:
        """Segment the whole volume in a napari ``thread_worker`` (the *Segment volume* button).

        Returns
        -------
        napari.qt.threading.FunctionWorker or None
            The started worker, None when the inputs were unusable.
        """
        job = self._job()
        if job is None:
            return None
        self._begin(job)
        worker = thread_worker(self._compute, start_thread=False, ignore_errors=True)(job)
        worker.returned.connect(lambda _: self._on_done(job))
        worker.errored.connect(lambda exc: self._on_failed(job, exc))
        worker.finished.connect(self._end)
        worker.start()
        return worker

    def segment_volume_blocking(self) -> list[Any]:
        """The same in the calling thread (tests and scripts); returns the layers added."""
        job = self._job()
        if job is None:
            return []
        self._begin(job)
        try:
            self._compute(job)
        except Exception as exc:
            self._on_failed(job, exc)
            return []
        finally:
            self._end()
        return self._on_done(job)

    def cancel(self) -> None:
        """Ask a running segmentation to stop after its current block (*Cancel*)."""
        self._stop.set()
        self.status.value = "Cancelling after the current block..."

    # -- closing ---------------------------------------------------------------------------
    def _disconnect(self) -> None:
        self._closed.set()
        self._stop.set()
        self._links.disconnect_all()

    def close(self) -> None:
        """Stop any run (at its next block), disconnect from the viewer and close."""
        self._disconnect()
        super().close()
