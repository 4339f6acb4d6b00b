"""The *Enhance* dock widget: preview and compute geodesic enhancement channels."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, get_args

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSpinBox,
    Label,
    LineEdit,
    PushButton,
    SpinBox,
    Widget,
)
from napari.layers import Image, Labels
from napari.qt.threading import thread_worker
from napari.utils import progress
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QTimer

from stratoseg._progress import Cancelled
from stratoseg.enhance import EnhanceParams, describe_params_error, enhance_array
from stratoseg.widgets._common import (
    Connections,
    JobBookkeeping,
    ProgressRelay,
    advance,
    watch_lifetime,
)
from stratoseg.widgets._enhance_helpers import (
    PREVIEW_ROLE,
    RELEVANT,
    SEEDS_FROM_THRESHOLD,
    EnhanceRun,
    check_seed_shape,
    layer_meta,
    plane_at,
    replace_layer,
)
from stratoseg.workspace import Workspace, WorkspaceLockedError

if TYPE_CHECKING:
    import napari.viewer

__all__ = ["EnhanceWidget"]

#: Delay of the live preview after the last change, in milliseconds.
DEBOUNCE_MS = 300
#: Errors that mean "the user's input cannot be used" rather than a bug: shown, not raised.
_USER_ERRORS = (ValueError, TypeError, OSError, WorkspaceLockedError)


class EnhanceWidget(JobBookkeeping, Container):
    """Preview the enhanced image ``I + alpha DT - beta DT_c`` on a slice, then compute it all.

    *Preview slice* (and, with *Live preview*, any change of a parameter or of the slice, after
    a short pause) computes :func:`~stratoseg.enhance.enhance_array` on the displayed y-x plane
    of the chosen image at the current position of the leading axes, with the plane's own
    intensity range and Otsu threshold, in 2-D mode. It is shown in the layer
    ``"<layer> enhance preview"``, updated in place, with the image's y-x scale and translate.

    *Run on volume* computes the whole volume in a background thread with a progress bar and
    *Cancel*. When the layer is the raw image of a workspace (``metadata["stratoseg"]``, set by
    the reader and the Load / Workspace widget) and *Save in workspace* is ticked, the result is
    written as ``channels/<channel>`` with :func:`~stratoseg.enhance.write_enhanced_channel`;
    otherwise it is computed in memory with :func:`~stratoseg.enhance.enhance_volume`. Either
    way it is shown as the image layer ``"<layer> <channel>"``.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose image layers are offered (napari passes it).

    Attributes
    ----------
    image, method, mode : ComboBox
    alpha, beta, threshold, gamma, max_distance : FloatSpinBox
    levels : SpinBox
    otsu, clip, live, to_workspace, overwrite : CheckBox
        ``otsu``: threshold None; ``clip``: use ``max_distance`` (else None).
    channel : LineEdit
        Channel name (empty: the method's name).
    preview_button, run_button, cancel_button : PushButton
    status : Label
        The last outcome or error.
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        self._viewer = viewer
        self.image = ComboBox(label="Image", choices=self._image_choices)
        self.method = ComboBox(
            label="Method", choices=get_args(EnhanceParams.model_fields["method"].annotation)
        )
        self.alpha = FloatSpinBox(label="Alpha (DT)", min=0, max=1e6, step=0.1, value=1.0)
        self.beta = FloatSpinBox(label="Beta (DT_c)", min=0, max=1e6, step=0.1, value=1.0)
        self.otsu = CheckBox(text="Otsu", value=True)
        self.threshold = FloatSpinBox(min=0, max=1, step=0.01, value=0.5, enabled=False)
        self._threshold_row = Container[Widget](
            layout="horizontal", labels=False, label="Threshold",
            widgets=[self.otsu, self.threshold],
        )  # fmt: skip
        self.levels = SpinBox(label="Levels", min=0, max=4096, value=16)  # 0: shown as an error
        self.gamma = FloatSpinBox(label="Gamma", min=0, max=1e6, step=0.1, value=1.0)
        self.seeds = ComboBox(label="Seeds", choices=self._seed_choices)
        self.seeds.tooltip = (
            "Geodesic method: DT starts from the voxels below the threshold, or from the "
            "painted voxels (> 0) of a labels layer"
        )
        self.clip = CheckBox(text="clip", value=True)
        self.max_distance = FloatSpinBox(min=0, max=1e6, step=1.0, value=10.0, enabled=False)
        self._distance_row = Container[Widget](
            layout="horizontal", labels=False, label="Max distance",
            widgets=[self.clip, self.max_distance],
        )  # fmt: skip
        self.mode = ComboBox(
            label="Mode",
            choices=get_args(EnhanceParams.model_fields["mode"].annotation),
            value="3d",
        )
        self.live = CheckBox(text="Live preview", value=True)
        self.preview_button = PushButton(text="Preview slice")
        self.channel = LineEdit(label="Channel name", value="")
        self.channel.native.setPlaceholderText("(method name)")
        self.to_workspace = CheckBox(text="Save in the layer's workspace", value=True)
        self.overwrite = CheckBox(text="Overwrite the channel", value=False)
        self.run_button = PushButton(text="Run on volume")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.status = Label(label="Status", value="Choose an image layer and a method.")
        self.status.native.setWordWrap(True)
        super().__init__(
            widgets=[
                self.image, self.method, self.alpha, self.beta, self._threshold_row,
                self.levels, self.gamma, self.seeds, self._distance_row, self.mode, self.live,
                self.preview_button, self.channel, self.to_workspace, self.overwrite,
                self.run_button, self.cancel_button, self.status,
            ]
        )  # fmt: skip
        self._stop = threading.Event()
        self._closed = threading.Event()  # set at close or destruction: touch no widget after
        self._pbar: progress | None = None
        self._busy = False  # between _begin and the job's outcome
        # no Qt parent: a worker still running after the widget is destroyed emits into a live
        # object (the worker holds this Python object), and its outcome is then ignored
        self._relay = ProgressRelay()
        self._relay.progressed.connect(self._on_progress)
        self._timer = QTimer(self.native)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self._live_preview)
        inputs: list[Any] = [self.image, self.method, self.alpha, self.beta, self.otsu]
        inputs += [self.threshold, self.levels, self.gamma, self.seeds, self.clip]
        inputs += [self.max_distance, self.mode]
        for widget in inputs:
            widget.changed.connect(self._on_param_changed)
        self.preview_button.changed.connect(self.preview_slice)
        self.run_button.changed.connect(self.run_volume)
        self.cancel_button.changed.connect(self.cancel)
        self._links = Connections()
        self._links.connect(viewer.layers.events.inserted, self._refresh_layers)
        self._links.connect(viewer.layers.events.removed, self._refresh_layers)
        self._links.connect(viewer.dims.events.current_step, self._on_step)
        self._watcher = watch_lifetime(
            self.native, self._disconnect, self._links, self._stop, self._closed
        )
        self._update_fields()

    # -- inputs ----------------------------------------------------------------------------
    def _image_choices(self, _: Any = None) -> list[tuple[str, Image]]:
        return [
            (layer.name, layer)
            for layer in self._viewer.layers
            if isinstance(layer, Image) and layer_meta(layer).get("role") != PREVIEW_ROLE
        ]

    def _seed_choices(self, _: Any = None) -> list[tuple[str, Labels | None]]:
        labels = [(lay.name, lay) for lay in self._viewer.layers if isinstance(lay, Labels)]
        return [(SEEDS_FROM_THRESHOLD, None), *labels]

    def _refresh_layers(self, event: Any = None) -> None:
        self.image.reset_choices()
        self.seeds.reset_choices()

    def _update_fields(self) -> None:
        method = self.method.value
        seeded = method in RELEVANT["seeds"] and self.seeds.value is not None
        self._threshold_row.visible = method in RELEVANT["threshold"] and not seeded
        self.seeds.visible = method in RELEVANT["seeds"]
        self.levels.visible = method in RELEVANT["levels"]
        self.gamma.visible = method in RELEVANT["gamma"]
        self.threshold.enabled = not self.otsu.value
        self.max_distance.enabled = bool(self.clip.value)

    def params(self) -> EnhanceParams:
        """The parameters the fields describe (irrelevant ones keep their defaults).

        Raises
        ------
        pydantic.ValidationError
            (a ValueError) when a value is out of range, e.g. ``levels`` 0.
        """
        method = self.method.value
        values: dict[str, Any] = {
            "method": method,
            "alpha": self.alpha.value,
            "beta": self.beta.value,
            "max_distance": self.max_distance.value if self.clip.value else None,
            "mode": self.mode.value,
        }
        if method in RELEVANT["threshold"]:
            values["threshold"] = None if self.otsu.value else self.threshold.value
        if method in RELEVANT["levels"]:
            values["levels"] = self.levels.value
        if method in RELEVANT["gamma"]:
            values["gamma"] = self.gamma.value
        return EnhanceParams(**values)

    def _inputs(self, *, notify: bool = True) -> tuple[Image, EnhanceParams] | None:
        """The chosen layer and the parameters, or None after reporting why not."""
        layer = self.image.value
        if layer is None:
            self._report("Choose an image layer first.", error=True, notify=notify)
            return None
        try:
            params = self.params()
        except ValueError as exc:
            self._report(
                f"Invalid parameters: {describe_params_error(exc)}", error=True, notify=notify
            )
            return None
        return layer, params

    def _report(self, message: str, *, error: bool = False, notify: bool = True) -> None:
        self.status.value = message
        if notify:
            (show_error if error else show_info)(message)

    # -- preview ---------------------------------------------------------------------------
    def _on_param_changed(self, value: Any = None) -> None:
        self._update_fields()
        if self.live.value:
            self._timer.start()

    def _on_step(self, event: Any = None) -> None:
        layer = self.image.value
        if (
            self.live.value
            and layer is not None
            and self._preview_name(layer) in self._viewer.layers
        ):
            self._timer.start()

    def _live_preview(self) -> None:
        if self.image.value is not None:
            self.preview_slice(notify=False)

    @staticmethod
    def _preview_name(layer: Image) -> str:
        return f"{layer.name} enhance preview"

    def preview_slice(self, *, notify: bool = True) -> Image | None:
        """Compute the preview of the current slice and show it (the *Preview slice* button).

        Returns
        -------
        napari.layers.Image or None
            The preview layer, None when the inputs were unusable (reported in :attr:`status`).
        """
        inputs = self._inputs(notify=notify)
        if inputs is None:
            return None
        layer, params = inputs
        try:
            plane, lead = plane_at(layer, self._viewer.dims.point)
            seeds = self._seed_plane(layer)
            result = enhance_array(
                plane,
                params.model_copy(update={"mode": "2d"}),
                voxel_size=tuple(float(s) for s in layer.scale[-2:]),
                seeds=seeds,
            )
        except _USER_ERRORS as exc:
            self._report(f"Preview failed: {describe_params_error(exc)}", error=True, notify=notify)
            return None
        name = self._preview_name(layer)
        scale, translate = tuple(layer.scale[-2:]), tuple(layer.translate[-2:])
        existing = next((lay for lay in self._viewer.layers if lay.name == name), None)
        if isinstance(existing, Image) and existing.ndim == 2:
            existing.data = result
            existing.scale, existing.translate = scale, translate
            existing.reset_contrast_limits()
            preview = existing
        else:
            preview = replace_layer(
                self._viewer, result, name=name, scale=scale, translate=translate,
                colormap="magma", metadata={"stratoseg": {"role": PREVIEW_ROLE}},
            )  # fmt: skip
        where = f" at index {', '.join(map(str, lead))}" if lead else ""
        self.status.value = f"Preview of {layer.name!r}{where}: {params.method}."
        return preview

    def _seed_layer(self) -> Labels | None:
        """The labels layer whose painted voxels are the seeds (geodesic method), or None."""
        return self.seeds.value if self.method.value in RELEVANT["seeds"] else None

    def _seed_plane(self, layer: Image) -> Any:
        """The seeds on the previewed plane (None: from the threshold).

        Raises
        ------
        ValueError
            When the seeds layer does not match the image or has no seed on this plane.
        """
        seeds = self._seed_layer()
        if seeds is None:
            return None
        check_seed_shape(seeds, layer)
        plane, _ = plane_at(seeds, self._viewer.dims.point)
        mask = np.asarray(plane) > 0  # on the image's grid: check_seed_shape passed
        if not mask.any() or mask.all():
            state = "no seed" if not mask.any() else "only seeds"
            raise ValueError(
                f"labels layer {seeds.name!r} has {state} on this slice: paint seeds (and "
                f"leave some voxels unpainted), or choose {SEEDS_FROM_THRESHOLD!r}"
            )
        return mask

    # -- running on the volume -------------------------------------------------------------
    def _prepare(self) -> EnhanceRun | None:
        """Check the inputs and open the workspace for writing when the result goes there."""
        inputs = self._inputs()
        if inputs is None:
            return None
        layer, params = inputs
        if layer.rgb:
            self._report(f"layer {layer.name!r} is RGB; enhancement needs a grey image", error=True)
            return None
        channel = str(self.channel.value).strip() or params.method
        seeds = self._seed_layer()
        if seeds is not None:
            try:
                check_seed_shape(seeds, layer)
            except ValueError as exc:
                self._report(str(exc), error=True)
                return None
        meta, ws = layer_meta(layer), None
        if self.to_workspace.value and meta.get("workspace") and meta.get("role") == "image":
            try:
                ws = Workspace.open(meta["workspace"], mode="r+")
            except WorkspaceLockedError:
                self._report(
                    f"{meta['workspace']} is open for writing elsewhere (most likely in the "
                    "Load / Workspace widget): close that widget or its workspace, or untick "
                    "'Save in the layer's workspace' to compute in memory.",
                    error=True,
                )
                return None
            except _USER_ERRORS as exc:
                self._report(describe_params_error(exc), error=True)
                return None
        return EnhanceRun(layer, params, channel, bool(self.overwrite.value), ws, seeds)

    def _compute(self, run: EnhanceRun) -> Any:
        """Core of *Run on volume*, in whatever thread calls it (progress via the relay)."""
        return run.compute(self._relay.progressed.emit, self._stop.is_set)

    def _begin(self) -> None:
        self._stop.clear()
        self._busy = True
        self._pbar = progress(total=0, desc="Enhancing")
        self.run_button.enabled = False
        self.cancel_button.enabled = True
        self.status.value = "Enhancing the volume..."

    def _on_progress(self, done: int, total: int) -> None:
        if not self._busy or self._closed.is_set():  # late, or the widget is gone
            return
        if total > 0 and not self._stop.is_set():
            self.status.value = f"Enhancing the volume... {100 * done // total}%"
        advance(self._pbar, done, total)  # last: napari may process events (our outcome) here

    def _end(self) -> None:
        if not self._release_job():
            return
        self.run_button.enabled = True
        self.cancel_button.enabled = False

    def _on_failed(self, exc: BaseException) -> None:
        self._busy = False
        if self._closed.is_set():
            return
        if isinstance(exc, Cancelled):
            self._report("Cancelled: no channel was added.")
        elif isinstance(exc, _USER_ERRORS):
            self._report(describe_params_error(exc), error=True)
        else:
            self._report(f"Enhancing failed: {exc!r}", error=True)

    def _on_done(self, run: EnhanceRun, data: Any) -> Image | None:
        self._busy = False
        if self._closed.is_set():
            return None
        if self._stop.is_set():  # cancelled (or closed) just as it finished
            where = f" (channels/{run.channel} was written)" if run.ws is not None else ""
            self._report(f"Cancelled after the computation finished{where}; no layer added.")
            return None
        out = replace_layer(self._viewer, data, **run.layer_kwargs())
        saved = f" and saved as channels/{run.channel} in {run.ws.path}" if run.ws else ""
        self.status.value = f"Added {out.name!r}{saved}."
        return out

    def run_volume(self) -> Any:
        """Enhance the whole volume in a napari ``thread_worker`` (the *Run on volume* button).

        Returns
        -------
        napari.qt.threading.FunctionWorker or None
            The started worker, None when the inputs were unusable.
        """
        run = self._prepare()
        if run is None:
            return None
        self._begin()
        # errors (a cancel included) go to _on_failed only, never re-raised into the Qt loop
        worker = thread_worker(self._compute, start_thread=False, ignore_errors=True)(run)
        worker.returned.connect(lambda data: self._on_done(run, data))
        worker.errored.connect(self._on_failed)
        worker.finished.connect(self._end)
        worker.start()
        return worker

    def run_volume_blocking(self) -> Image | None:
        """Enhance the whole volume in the calling thread (tests and scripts); same steps.

        Returns
        -------
        napari.layers.Image or None
            The added layer, None on error or cancel (shown in :attr:`status`).
        """
        run = self._prepare()
        if run is None:
            return None
        self._begin()
        try:
            data = self._compute(run)
        except Exception as exc:
            self._on_failed(exc)
            return None
        finally:
            self._end()
        return self._on_done(run, data)

    def cancel(self) -> None:
        """Ask a running computation to stop (the *Cancel* button)."""
        self._stop.set()
        self.status.value = "Cancelling..."

    # -- closing ---------------------------------------------------------------------------
    def _disconnect(self) -> None:
        """Stop work and timers and disconnect from the viewer (idempotent).

        A running job stops at its next block (releasing the workspace) and adds nothing.
        """
        self._closed.set()
        self._stop.set()
        self._links.disconnect_all()
        self._timer.stop()

    def close(self) -> None:
        """Stop any computation, disconnect from the viewer and close the widget."""
        self._disconnect()
        super().close()
