"""The *Preview slice* part of the Segment widget: the blocks under the current slice only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from napari.layers import Labels
from napari.qt.threading import thread_worker

from stratoseg.widgets._enhance_helpers import level0, plane_at
from stratoseg.widgets._segment_helpers import SegmentJob, workspace_of
from stratoseg.workspace import Workspace, WorkspaceLockedError, default_chunks

if TYPE_CHECKING:
    import napari.viewer

__all__ = ["PREVIEW_ROLE", "SegmentPreview"]

#: ``metadata["stratoseg"]["role"]`` of the slice preview layer.
PREVIEW_ROLE = "segment-preview"
_USER_ERRORS = (ValueError, TypeError, OSError, WorkspaceLockedError)


class SegmentPreview:
    """Mixed into the Segment widget: *Preview slice* computes only the blocks under the
    current slice with :func:`~stratoseg.inference.predict_lazy` (the same blocks, windows and
    seeds as the full run, with the recipe's tiling) and shows their MAP labels."""

    _viewer: napari.viewer.Viewer
    _busy: bool
    _lazy: tuple[tuple[Any, ...], Any] | None
    preview_button: Any
    status: Any
    _closed: Any

    def _job(self) -> SegmentJob | None:
        raise NotImplementedError

    def _report(self, message: str, *, error: bool = False, notify: bool = True) -> None:
        raise NotImplementedError

    def _lazy_probs(self, job: SegmentJob) -> Any:
        """The lazy probabilities for the job's layer and settings (kept while they stay)."""
        from stratoseg.inference import predict_lazy

        opts = {k: v for k, v in job.options.items() if k in ("seed", "device", "batch_size")}
        opts.update({k: v for k, v in job.recipe.options.items() if k != "dtype"})
        key = (id(job.layer), str(job.model), str(job.target), repr(sorted(opts.items())))
        if self._lazy is not None and self._lazy[0] == key:
            return self._lazy[1]
        if workspace_of(job.layer) is not None:
            with Workspace.open(job.target) as ws:  # read-only: no lock
                probs = predict_lazy(ws, job.model, **opts)
        else:
            data = level0(job.layer)
            shape = tuple(int(n) for n in data.shape)
            scale = tuple(float(s) for s in job.layer.scale[-len(shape) :])
            probs = predict_lazy(
                data, job.model, chunks=default_chunks(shape), voxel_size=scale, **opts
            )
        self._lazy = (key, probs)
        return probs

    def _preview_inputs(self) -> tuple[SegmentJob, Any, tuple[int, ...]] | None:
        job = self._job()
        if job is None:
            return None
        try:
            probs = self._lazy_probs(job)
            _, lead = plane_at(job.layer, self._viewer.dims.point)
        except _USER_ERRORS as exc:
            self._report(f"Preview failed: {exc}", error=True)
            return None
        return job, probs, lead

    @staticmethod
    def _preview_compute(probs: Any, lead: tuple[int, ...]) -> np.ndarray:
        index = (slice(None), *lead)
        return np.asarray(probs[index].argmax(axis=0).compute())

    def _show_preview(self, job: SegmentJob, lead: tuple[int, ...], labels: Any) -> Labels | None:
        self.preview_button.enabled = not self._busy
        if self._closed.is_set():
            return None
        name = f"{job.layer.name} preview"
        for old in [lay for lay in self._viewer.layers if lay.name == name]:
            self._viewer.layers.remove(old)
        layer = self._viewer.add_labels(
            labels, name=name, scale=tuple(job.layer.scale[-2:]),
            translate=tuple(job.layer.translate[-2:]), opacity=0.5,
            metadata={"stratoseg": {"role": PREVIEW_ROLE}},
        )  # fmt: skip
        where = f" at index {', '.join(map(str, lead))}" if lead else ""
        method = job.recipe.method
        later = "" if method in (None, "map") else f"; Segment volume then applies {method}"
        self.status.value = (f"Preview of {job.layer.name!r}{where} ({job.model.name}): the "
                             f"most likely class{later}.")  # fmt: skip
        return layer

    def _preview_failed(self, exc: BaseException) -> None:
        self.preview_button.enabled = not self._busy
        if not self._closed.is_set():
            self._report(f"Preview failed: {exc}", error=True)

    def preview_slice(self) -> Any:
        """Labels of the current slice, computed in a ``thread_worker`` from the blocks under
        it only (the *Preview slice* button); shown in ``"<layer> preview"``.

        Returns
        -------
        napari.qt.threading.FunctionWorker or None
        """
        inputs = self._preview_inputs()
        if inputs is None:
            return None
        job, probs, lead = inputs
        self.preview_button.enabled = False
        self.status.value = "Computing the blocks under this slice..."
        worker = thread_worker(self._preview_compute, start_thread=False, ignore_errors=True)(
            probs, lead
        )
        worker.returned.connect(lambda labels: self._show_preview(job, lead, labels))
        worker.errored.connect(self._preview_failed)
        worker.start()
        return worker

    def preview_slice_blocking(self) -> Labels | None:
        """The same in the calling thread (tests and scripts); returns the preview layer."""
        inputs = self._preview_inputs()
        if inputs is None:
            return None
        job, probs, lead = inputs
        try:
            labels = self._preview_compute(probs, lead)
        except _USER_ERRORS as exc:
            self._preview_failed(exc)
            return None
        return self._show_preview(job, lead, labels)
