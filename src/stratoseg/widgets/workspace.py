"""The *Load / Workspace* dock widget: inspect a source, create or open a workspace, paint."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from magicgui.types import FileDialogMode
from magicgui.widgets import (
    Container,
    FileEdit,
    Label,
    LineEdit,
    PushButton,
    SpinBox,
    TextEdit,
)
from napari.qt.threading import thread_worker
from napari.utils import progress
from napari.utils.notifications import show_error, show_info, show_warning
from qtpy.QtWidgets import QFileDialog

from stratoseg._progress import Cancelled
from stratoseg.io import open_volume
from stratoseg.napari._layers import labels_layer_data
from stratoseg.widgets._common import CloseWatcher, JobBookkeeping, ProgressRelay, advance
from stratoseg.widgets._workspace_helpers import (
    SessionSlot,
    WorkspaceSession,
    default_chunk_edge,
    default_workspace_path,
    format_summary,
)
from stratoseg.workspace import (
    Workspace,
    WorkspaceLockedError,
    create_workspace,
    is_workspace,
)

if TYPE_CHECKING:
    import napari.viewer

__all__ = ["WorkspaceWidget"]

_SOURCE_FILTER = (
    "Volumes (*.tif *.tiff *.btf *.h5 *.hdf5 *.hdf *.mrc *.rec *.map zarr.json "
    ".zarray .zgroup);;All files (*)"
)
#: Errors that mean "the user's input cannot be used" rather than a bug: shown, not raised.
_USER_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    ValueError,
    TypeError,
    PermissionError,
    OSError,
    WorkspaceLockedError,
)


def _path_of(edit: FileEdit) -> Path | None:
    """The path typed or chosen in ``edit``, None when it is empty."""
    text = str(edit.line_edit.value).strip()
    return Path(text).expanduser() if text else None


class WorkspaceWidget(JobBookkeeping, Container):
    """Load a volume, create or open its workspace, and paint labels that are saved to disk.

    *Create workspace* copies the source into an OME-Zarr workspace (in a background thread
    with a progress bar and *Cancel*); *Open workspace* opens an existing one for writing. Either
    way the widget holds the workspace's writer lock and adds its layers: the raw image, channels
    and label images, whose data are the workspace's zarr arrays, so painting writes to disk and
    each stroke is recorded in the journal as an ``"edit"`` entry.

    Closing the widget (or its dock) releases the lock and removes the labels layers, which
    would otherwise keep writing without it; the image layers stay.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer to add layers to (napari passes it).

    Attributes
    ----------
    source, workspace_path : FileEdit
        The source volume and the workspace folder (default ``<source name>.zarr`` beside it).
    info : TextEdit
        Read-only metadata of the source (format, shape, dtype, voxel size, chunks).
    chunk_edge : SpinBox
        Chunk edge of the workspace arrays.
    create_button, open_button, cancel_button, folder_button, new_labels_button : PushButton
    labels_name : LineEdit
        Name of the label image *New labels* creates.
    status : Label
        The last outcome or error.
    """

    def __init__(self, viewer: napari.viewer.Viewer) -> None:
        self.source = FileEdit(
            label="Source", mode=FileDialogMode.EXISTING_FILE, filter=_SOURCE_FILTER
        )
        self.folder_button = PushButton(text="Choose folder (TIFF slices, zarr)...")
        self.info = TextEdit(label="Metadata", value="")
        self.info.read_only = True
        self.workspace_path = FileEdit(
            label="Workspace", mode=FileDialogMode.OPTIONAL_FILE, filter="Zarr (*.zarr)"
        )
        self.chunk_edge = SpinBox(label="Chunk edge", min=1, max=4096, value=64)
        self.create_button = PushButton(text="Create workspace")
        self.open_button = PushButton(text="Open workspace")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.labels_name = LineEdit(label="Labels name", value="labels-2")
        self.new_labels_button = PushButton(text="New labels", enabled=False)
        self.status = Label(label="Status", value="Choose a source volume or a workspace.")
        self.status.native.setWordWrap(True)  # long paths must not widen the dock
        super().__init__(
            widgets=[
                self.source,
                self.folder_button,
                self.info,
                self.workspace_path,
                self.chunk_edge,
                self.create_button,
                self.open_button,
                self.cancel_button,
                self.labels_name,
                self.new_labels_button,
                self.status,
            ]
        )
        self._viewer = viewer
        self._slot = SessionSlot()
        self._stop = threading.Event()
        self._closed = threading.Event()  # set at close or destruction: touch no widget after
        self._pbar: progress | None = None
        self._busy = False  # between _begin and the job's outcome
        # no Qt parent: a worker still running after the widget is destroyed (the napari window
        # closed mid-creation) emits into a live object, and its outcome is then ignored
        self._relay = ProgressRelay()
        self._relay.progressed.connect(self._on_progress)
        self.source.changed.connect(self._on_source_changed)
        self.folder_button.changed.connect(self._choose_folder)
        self.create_button.changed.connect(self.create_workspace)
        self.open_button.changed.connect(self.open_workspace)
        self.cancel_button.changed.connect(self.cancel)
        self.new_labels_button.changed.connect(self.new_labels)
        self._watcher = CloseWatcher(self.native, self._on_native_closed)
        # at destruction the Python side may be half gone: the slot alone is enough to clean up
        slot, stop, closed = self._slot, self._stop, self._closed

        def on_destroyed(*_: object) -> None:
            closed.set()
            stop.set()
            slot.close(remove_labels=False)

        self.native.destroyed.connect(on_destroyed)

    # -- state -----------------------------------------------------------------------------
    @property
    def _session(self) -> WorkspaceSession | None:
        return self._slot.session

    @property
    def session(self) -> WorkspaceSession | None:
        """The open workspace session (its layers and edit histories), if any."""
        return self._slot.session

    @property
    def workspace(self) -> Workspace | None:
        """The workspace this widget holds open for writing, if any."""
        return self._session.ws if self._session is not None else None

    def _report(self, message: str, *, error: bool = False, warning: bool = False) -> None:
        self.status.value = message
        (show_error if error else show_warning if warning else show_info)(message)

    # -- source ----------------------------------------------------------------------------
    def _source_path(self) -> Path | None:
        return _path_of(self.source)

    def _on_source_changed(self, value: Any = None) -> None:
        path = self._source_path()
        if path is None:
            self.info.value = ""
            return
        try:
            if is_workspace(path):
                summary = Workspace.open(path, mode="r").summary()
                self.workspace_path.value = path
                self.info.value = "StratoSeg workspace\n" + format_summary(summary)
                self.status.value = "This is a workspace: press Open workspace to edit it."
                return
            volume = open_volume(path)
        except _USER_ERRORS as exc:
            self.info.value = ""
            self.status.value = f"Cannot read {path}: {exc}"
            return
        self.info.value = format_summary(volume.summary())
        self.chunk_edge.value = default_chunk_edge(volume)
        target = default_workspace_path(path)
        self.workspace_path.value = target
        self.status.value = (
            f"{target.name} exists: open it, or choose another workspace path."
            if target.exists()
            else "Ready to create the workspace."
        )

    def _ask_folder(self) -> str:
        """Ask for a folder with a dialog (tests replace this)."""
        start = str(self._source_path() or Path.home())
        return QFileDialog.getExistingDirectory(self.native, "Choose a folder", start)

    def _choose_folder(self) -> None:
        folder = self._ask_folder()
        if folder:
            self.source.value = Path(folder)

    # -- creating --------------------------------------------------------------------------
    def _create_args(self) -> tuple[Path, Path, int] | None:
        source, target = self._source_path(), _path_of(self.workspace_path)
        if source is None:
            self._report("Choose a source volume first.", error=True)
            return None
        if target is None:
            self._report("Choose where to write the workspace.", error=True)
            return None
        return target, source, int(self.chunk_edge.value)

    def _begin(self) -> None:
        self._stop.clear()
        self._busy = True
        self._pbar = progress(total=0, desc="Creating workspace")
        self.create_button.enabled = self.open_button.enabled = False
        self.cancel_button.enabled = True
        self.status.value = "Creating workspace..."

    def _create_job(self, target: Path, source: Path, chunks: int) -> Workspace:
        """Core of creation, in whatever thread calls it (progress goes through the relay)."""
        return create_workspace(
            target,
            source,
            chunks=chunks,
            progress=self._relay.progressed.emit,
            should_stop=self._stop.is_set,
        )

    def _on_progress(self, done: int, total: int) -> None:
        if not self._busy or self._closed.is_set():  # late, or the widget is gone
            return
        if total > 0 and not self._stop.is_set():  # "Cancelling..." stays
            self.status.value = f"Creating workspace... {100 * done // total}%"
        advance(self._pbar, done, total)  # last: napari may process events (our outcome) here

    def _end(self) -> None:
        if not self._release_job():
            return
        self.create_button.enabled = self.open_button.enabled = True
        self.cancel_button.enabled = False

    def _on_failed(self, exc: BaseException) -> None:
        if self._closed.is_set():  # the widget is gone: nothing to show it in
            return
        if isinstance(exc, Cancelled):
            self._report("Cancelled: no workspace was written.")
        elif isinstance(exc, _USER_ERRORS):
            self._report(str(exc), error=True)
        else:
            self._report(f"Creating the workspace failed: {exc!r}", error=True)

    def _on_created(self, ws: Workspace) -> None:
        if self._stop.is_set():  # cancelled (or closed) just as it finished: do not keep it
            ws.close()
            if self._closed.is_set():
                return
            self._report("Cancelled after the workspace was written; it was not opened.")
            return
        self._attach(ws, f"Created {ws.path}")

    def create_workspace(self) -> Any:
        """Create the workspace in a napari ``thread_worker`` (the *Create workspace* button).

        Returns
        -------
        napari.qt.threading.FunctionWorker or None
            The started worker, None when the inputs were unusable.
        """
        args = self._create_args()
        if args is None:
            return None
        self._begin()
        # errors (a cancel included) go to _on_failed only, never re-raised into the Qt loop
        worker = thread_worker(self._create_job, start_thread=False, ignore_errors=True)(*args)
        worker.returned.connect(self._on_created)
        worker.errored.connect(self._on_failed)
        worker.finished.connect(self._end)
        worker.start()
        return worker

    def create_workspace_blocking(self) -> Workspace | None:
        """Create the workspace in the calling thread (tests and scripts); same steps otherwise.

        Returns
        -------
        Workspace or None
            The workspace now held by the widget, None on error or cancel (shown in
            :attr:`status`).
        """
        args = self._create_args()
        if args is None:
            return None
        self._begin()
        try:
            ws = self._create_job(*args)
        except Exception as exc:
            self._on_failed(exc)
            return None
        finally:
            self._end()
        self._on_created(ws)
        return self.workspace

    def cancel(self) -> None:
        """Ask a running creation to stop (the *Cancel* button)."""
        self._stop.set()
        self.status.value = "Cancelling..."

    # -- opening ---------------------------------------------------------------------------
    def open_workspace(self) -> Workspace | None:
        """Open the workspace at :attr:`workspace_path` for writing and add its layers.

        A workspace held by another writer is opened read-only instead (its labels layers not
        editable, no writer lock taken), with a notice in :attr:`status` and a napari warning.
        """
        path = _path_of(self.workspace_path)
        if path is None:
            self._report("Choose the workspace to open.", error=True)
            return None
        try:
            ws = Workspace.open(path, mode="r+")
        except WorkspaceLockedError as exc:
            # another window or process is writing: show it read-only, never a second writer
            try:
                ws = Workspace.open(path, mode="r")
            except _USER_ERRORS as again:
                self._report(str(again), error=True)
                return None
            self._attach(ws, f"Opened {ws.path} read-only")
            self._report(
                f"Read-only: {exc}. Its labels are shown but cannot be edited here; close the "
                "other window (or process) and open the workspace again to edit.",
                warning=True,
            )
            return ws
        except _USER_ERRORS as exc:
            self._report(str(exc), error=True)
            return None
        self._attach(ws, f"Opened {ws.path}")
        return ws

    def _attach(self, ws: Workspace, message: str) -> None:
        self._release(keep_status=True)
        try:
            self._slot.session = WorkspaceSession(ws, self._viewer)
        except Exception as exc:
            self._report(f"Could not show {ws.path}: {exc}", error=True)
            return
        labels = self._slot.session.labels_layers()
        if labels:
            self._viewer.layers.selection.active = labels[0]
        self.info.value = "StratoSeg workspace\n" + format_summary(ws.summary())
        self.new_labels_button.enabled = ws.writable
        if ws.writable:
            self.status.value = f"{message} (open for writing: painting is saved to disk)."
        else:
            self.status.value = f"{message}."

    def new_labels(self) -> Any:
        """Create an empty label image named :attr:`labels_name` and add it (*New labels*)."""
        if self._session is None:
            self._report("Open or create a workspace first.", error=True)
            return None
        name = str(self.labels_name.value).strip()
        try:
            self._session.ws.create_labels(name)
        except _USER_ERRORS as exc:
            self._report(str(exc), error=True)
            return None
        layers = self._session.add([labels_layer_data(self._session.ws, name, editable=True)])
        self._viewer.layers.selection.active = layers[0]
        self.status.value = f"Created labels {name!r}."
        return layers[0]

    # -- closing ---------------------------------------------------------------------------
    def _release(self, *, keep_status: bool = False) -> None:
        """Close the held workspace (idempotent); see the class docstring for the layers."""
        session = self._slot.close(remove_labels=True)
        if session is None:
            return
        self.new_labels_button.enabled = False
        if not keep_status:
            self.status.value = f"Closed {session.ws.path} (writer lock released)."

    def _on_native_closed(self) -> None:
        self._closed.set()
        self._stop.set()
        self._release()

    def close(self) -> None:
        """Stop any creation, release the workspace and close the widget."""
        self._closed.set()
        self._stop.set()
        self._release()
        super().close()
