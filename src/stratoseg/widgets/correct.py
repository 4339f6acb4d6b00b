"""The *Correct* dock widget: split, merge, delete and fill objects, undo and redo, every edit
written to the workspace at once."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    ComboBox,
    Container,
    FloatSpinBox,
    Label,
    LineEdit,
    PushButton,
    SpinBox,
)
from napari.layers import Labels, Points, Shapes
from napari.utils.notifications import show_error

from stratoseg.postprocess import (
    METHODS,
    ORDERS,
    ObjectTable,
    correct,
    instances_from_classes,
    object_table,
    rerun_region,
    review_objects,
)
from stratoseg.widgets._common import Connections, watch_lifetime
from stratoseg.widgets._finetune_helpers import (
    box_region,
    labels_of,
    mark_reviewed,
    slice_region,
)
from stratoseg.widgets._workspace_helpers import session_holding, sessions_of

if TYPE_CHECKING:
    import napari.viewer

    from stratoseg.workspace import EditLog

__all__ = ["SHORTCUTS", "CorrectWidget", "parse_params"]

#: Keyboard shortcuts (napari key names) of the tools, shown in the widget.
SHORTCUTS = {
    "split": "Shift-S",
    "merge": "Shift-M",
    "delete": "Shift-D",
    "fill": "Shift-F",
    "review": "Shift-R",
    "slice": "Shift-L",
    "box": "Shift-B",
    "next": "Shift-N",
    "undo": "Alt-Z",
    "redo": "Alt-Y",
}
_TITLES = {
    "fill": "Fill holes",
    "review": "Mark objects reviewed",
    "slice": "Mark slice reviewed",
    "box": "Mark box reviewed",
    "next": "Next object",
}
_USER_ERRORS = (ValueError, TypeError, OSError)


class CorrectWidget(Container):
    """Correct a workspace labels layer with the points of a points layer.

    Place points on objects, then: **Split** (points on one object: two or more are the seeds
    of its parts, one splits it at the peaks of its distance map), **Merge** (the objects under
    the points become the first), **Delete**, **Fill holes**, **Mark objects reviewed** (the
    objects' voxels in the reviewed mask, for fine-tuning), **Mark slice reviewed** (the
    current z slice), **Next object** (by unreviewed, uncertainty or size). Each tool works on
    the objects' bounding boxes, writes the changed chunks to the workspace at once and is
    recorded for **Undo** / **Redo** with napari's brush and fill (one history per label image,
    kept in the workspace). The points are cleared after a tool. The workspace must be open in
    the Load / Workspace widget, which holds the writer lock.
    """

    def __init__(self, napari_viewer: napari.viewer.Viewer) -> None:
        viewer = napari_viewer
        self._viewer = viewer
        self.label_layer = ComboBox(label="Labels", choices=self._labels_choices)
        self.points_layer = ComboBox(label="Points", choices=self._points_choices)
        self.h = FloatSpinBox(label="Split peak height", min=0.5, max=50, step=0.5, value=2.0)
        self.order = ComboBox(label="Next by", choices=list(ORDERS), value="unreviewed")
        self.probs = ComboBox(label="Probabilities", choices=self._runs_choices)
        self.method = ComboBox(label="Re-run method", choices=sorted(METHODS), value="watershed")
        self.params = LineEdit(label="Parameters", value="")
        self.params.native.setPlaceholderText("e.g. tau1=0.8, min_size=20")
        self.slices = SpinBox(label="Slices around", min=0, max=1000, value=0)
        self.box_layer = ComboBox(label="Box (shapes)", choices=self._shapes_choices)
        self.view_kind = ComboBox(label="View classes", choices=["touching", "touching-gap"])
        self.preview_button = PushButton(text="Preview re-run")
        self.apply_button = PushButton(text="Apply re-run")
        self.view_button = PushButton(text="Touching view")
        self.back_button = PushButton(text="Back to instances")
        self.buttons = {
            tool: PushButton(text=f"{_TITLES.get(tool, tool.capitalize())} ({key})")
            for tool, key in SHORTCUTS.items()
        }  # fmt: skip
        self.status = Label(value="")
        self.status.native.setWordWrap(True)  # long messages must not widen the dock
        fields = [self.label_layer, self.points_layer, self.h, self.order, self.probs]
        rerun = [self.method, self.params, self.slices, self.box_layer, self.preview_button,
                 self.apply_button, self.view_kind, self.view_button, self.back_button]  # fmt: skip
        super().__init__(widgets=[*fields, *self.buttons.values(), *rerun, self.status])
        self.preview_button.changed.connect(self.preview_rerun)
        self.apply_button.changed.connect(self.apply_rerun)
        self.view_button.changed.connect(self.touching_view)
        self.back_button.changed.connect(self.back_to_instances)
        self._preview: tuple[tuple[slice, ...], np.ndarray] | None = None
        for tool, button in self.buttons.items():
            button.changed.connect(lambda *_, t=tool: self.run(t))
        self._links = Connections()
        for emitter in (viewer.layers.events.inserted, viewer.layers.events.removed):
            self._links.connect(emitter, self._refresh)
        for tool, key in SHORTCUTS.items():
            viewer.bind_key(key, lambda _viewer, t=tool: self.run(t), overwrite=True)
        self._keys = list(SHORTCUTS.values())
        self._stop, self._closed = threading.Event(), threading.Event()
        self._watcher = watch_lifetime(
            self.native, self._disconnect, self._links, self._stop, self._closed
        )
        self._table: ObjectTable | None = None
        self._table_key: tuple[Any, ...] | None = None
        self._visited = -1
        self.status.value = "Place points on objects, then choose a tool."

    # -- choices ---------------------------------------------------------------------------
    def _labels_choices(self, _: Any = None) -> list[tuple[str, Labels]]:
        return [(lay.name, lay) for lay in self._viewer.layers
                if isinstance(lay, Labels) and labels_of(lay) is not None]  # fmt: skip

    def _points_choices(self, _: Any = None) -> list[tuple[str, Points]]:
        return [(lay.name, lay) for lay in self._viewer.layers if isinstance(lay, Points)]

    def _runs_choices(self, _: Any = None) -> list[tuple[str, str | None]]:
        layer = self.label_layer.value if hasattr(self, "label_layer") else None
        found = labels_of(layer) if layer is not None else None
        session = session_holding(found[0]) if found is not None else None
        runs = session.ws.predictions() if session is not None else []
        return [("(none)", None), *[(f"predictions/{r}", r) for r in runs]]

    def _shapes_choices(self, _: Any = None) -> list[tuple[str, Shapes | None]]:
        shapes = [(lay.name, lay) for lay in self._viewer.layers if isinstance(lay, Shapes)]
        return [("(whole slices)", None), *shapes]

    def _refresh(self, event: Any = None) -> None:
        self.box_layer.reset_choices()
        self.label_layer.reset_choices()
        self.points_layer.reset_choices()
        self.probs.reset_choices()

    def _disconnect(self) -> None:
        self._links.disconnect_all()
        for key in self._keys:
            self._viewer.keymap.pop(key, None)
        self._keys = []

    # -- tools -----------------------------------------------------------------------------
    def edit_log(self) -> EditLog | None:
        """The edit history of the chosen labels (through the Load / Workspace session)."""
        layer = self.label_layer.value
        found = labels_of(layer) if layer is not None else None
        if found is None:
            self._report("Choose a labels layer of a workspace (Load / Workspace).", error=True)
            return None
        path, name = found
        session = session_holding(path)
        if session is None and sessions_of(path):
            self._report(f"{path.name} is open read-only: another window or process holds its "
                         "writer lock. Close it there, then reopen the workspace with Load / "
                         "Workspace to edit.", error=True)  # fmt: skip
            return None
        if session is None:
            self._report(f"Open {path.name} with Load / Workspace first: it holds the writer "
                         "lock that edits need.", error=True)  # fmt: skip
            return None
        return session.edit_log(name)

    def run(self, tool: str) -> Any:
        """Run ``tool`` (a key of :data:`SHORTCUTS`); returns the edit, or None."""
        log = self.edit_log()
        if log is None:
            return None
        layer = self.label_layer.value
        try:
            if tool == "review":
                return self._review(log, layer)
            if tool == "next":
                return self._next(log, layer)
            if tool in ("slice", "box"):
                shape, point = tuple(log.array.shape), tuple(self._viewer.dims.point)
                shapes = self.box_layer.value
                if tool == "box" and shapes is None:
                    raise ValueError("choose a shapes layer with a rectangle (Box) first")
                region = (slice_region(shape, point) if tool == "slice"
                          else box_region(shapes, shape, point))  # fmt: skip
                voxels = mark_reviewed(log.ws.path, log.name, region)
                self._table = None
                self._report(f"Marked the {tool} reviewed ({voxels} voxels); saved.")
                return voxels
            if tool in ("undo", "redo"):
                edit = log.undo() if tool == "undo" else log.redo()
                if edit is None:
                    self._report(f"Nothing to {tool}.")
                    return None
            else:
                points = self.points_layer.value
                coords = self._voxels(points, layer) if points is not None else []
                edit = correct(log, tool, coords, h=float(self.h.value))
                if points is not None:
                    points.data = np.empty((0, points.ndim))
        except _USER_ERRORS as exc:
            self._report(str(exc), error=True)
            return None
        layer.refresh()
        if edit is None:
            self._report(f"{tool}: nothing changed.")
            return None
        ids = sorted({int(v) for v in np.unique(edit.after)})
        self._report(f"{tool}: {edit.index.size} voxels changed (edit {edit.seq}; now "
                     f"{', '.join(map(str, ids[:6]))}); saved.")  # fmt: skip
        return edit

    def _next(self, log: EditLog, layer: Labels) -> int | None:
        """Show the next object in the chosen order: move the view to it, select its id."""
        key = (log.name, len(log.done), tuple(log.done[-1:]), self.probs.value)
        if self._table is None or self._table_key != key:
            run = self.probs.value
            probs = log.ws.array(f"predictions/{run}") if run else None
            self._table = object_table(log.array, probs=probs, reviewed=log.ws.reviewed(log.name))
            self._table_key, self._visited = key, -1
        table = self._table
        rows = table.order(self.order.value)
        if not len(rows):
            self._report(f"No object to visit by {self.order.value}.")
            return None
        self._visited = (self._visited + 1) % len(rows)
        row = int(rows[self._visited])
        obj = int(table.ids[row])
        world = layer.data_to_world(table.centres[row])
        first = self._viewer.dims.ndim - len(world)
        for axis, value in enumerate(world):
            self._viewer.dims.set_point(first + axis, float(value))
        scene = getattr(self._viewer, "scene", None)  # napari >= 0.9; viewer.camera before
        camera = scene.camera if scene is not None else self._viewer.camera
        camera.center = tuple(float(w) for w in world[-3:])
        layer.selected_label = obj
        unc = table.uncertainty[row]
        self._report(
            f"Object {obj} ({self._visited + 1} of {len(rows)} by {self.order.value}): "
            f"{int(table.sizes[row])} voxels"
            + ("" if np.isnan(unc) else f", uncertainty {unc:.2f}")
            + f", {100 * table.reviewed[row]:.0f} % reviewed."
        )
        return obj

    # -- re-running a post-processing method on a few slices -----------------------------
    def _rerun_region(self, log: EditLog) -> tuple[slice, ...]:
        """The current slices (*Slices around*), within the last rectangle of *Box* if one is
        chosen."""
        shape = tuple(int(n) for n in log.array.shape)
        plane: tuple[slice, ...] = (slice(0, shape[-2]), slice(0, shape[-1]))
        if self.box_layer.value is not None:
            plane = box_region(self.box_layer.value, shape, tuple(self._viewer.dims.point))[-2:]
        if len(shape) == 2:
            return plane
        z = round(float(self._viewer.dims.point[self._viewer.dims.ndim - 3]))
        n = int(self.slices.value)
        return (slice(max(z - n, 0), min(z + n + 1, shape[0])), *plane)

    def preview_rerun(self) -> Any:
        """Post-process the current slices again with the chosen method and parameters and
        show the result as a ``preview`` layer (nothing is written); returns the layer."""
        log = self.edit_log()
        run = self.probs.value
        if log is None:
            return None
        if run is None:
            self._report("Choose the probabilities (a prediction run) to re-run from.", error=True)
            return None
        try:
            params = parse_params(str(self.params.value))
            region = self._rerun_region(log)
            values = rerun_region(log, log.ws.array(f"predictions/{run}"), self.method.value,
                                  region, **params)  # fmt: skip
        except _USER_ERRORS as exc:
            self._report(str(exc), error=True)
            return None
        self._preview = (region, values)
        layer = self.label_layer.value
        translate = [
            s.start * sc for s, sc in zip(region, layer.scale[-len(region) :], strict=True)
        ]
        name = "re-run preview"
        if name in self._viewer.layers:
            self._viewer.layers.remove(name)
        preview = self._viewer.add_labels(values, name=name, scale=layer.scale[-len(region):],
                                          translate=translate, opacity=0.8)  # fmt: skip
        changed = int((values != np.asarray(log.array[region])).sum())
        self._report(f"Preview: {self.method.value} on slices {region[0].start}-"
                     f"{region[0].stop - 1} would change {changed} voxels. Apply re-run to "
                     "write it.")  # fmt: skip
        return preview

    def apply_rerun(self) -> Any:
        """Write the previewed re-run as one undoable edit; returns the edit."""
        log = self.edit_log()
        if log is None or self._preview is None:
            self._report("Preview a re-run first.", error=True)
            return None
        region, values = self._preview
        edit = log.apply(region, values, kind="rerun", method=self.method.value)
        self._preview = None
        if "re-run preview" in self._viewer.layers:
            self._viewer.layers.remove("re-run preview")
        self.label_layer.value.refresh()
        self._table = None
        if edit is None:
            self._report("Re-run applied: nothing changed.")
        else:
            self._report(f"Re-run applied: {edit.index.size} voxels changed (edit {edit.seq}); "
                         "saved.")  # fmt: skip
        return edit

    # -- the touching view: paint the touching class, then back to instances ------------------
    def touching_view(self) -> Any:
        """Show the current slices (or box) as background (0) / object (1) / touching (2)
        (eq 4.1), and gap (3) with ``touching-gap`` (§5.2.1), in an editable ``touching view``
        layer; returns the layer."""
        from stratoseg.training._targets import make_target

        log = self.edit_log()
        if log is None:
            return None
        region = self._rerun_region(log)
        classes = make_target(str(self.view_kind.value), np.asarray(log.array[region]))
        layer = self.label_layer.value
        scale = layer.scale[-len(region) :]
        name = "touching view"
        if name in self._viewer.layers:
            self._viewer.layers.remove(name)
        view = self._viewer.add_labels(
            classes, name=name, scale=scale, opacity=0.8,
            translate=[s.start * sc for s, sc in zip(region, scale, strict=True)],
        )  # fmt: skip
        view.metadata["stratoseg_region"] = [[s.start, s.stop] for s in region]
        self._report("Touching view: paint 2 (touching) between objects, 1 (object), 0; then "
                     "Back to instances.")  # fmt: skip
        return view

    def back_to_instances(self) -> Any:
        """Turn the edited touching view back into instances on its slices, as one undoable
        edit with fresh ids; returns the edit."""
        log = self.edit_log()
        name = "touching view"
        if log is None or name not in self._viewer.layers:
            self._report("Open the touching view first.", error=True)
            return None
        view = self._viewer.layers[name]
        region = tuple(slice(a, b) for a, b in view.metadata["stratoseg_region"])
        before = np.asarray(log.array[region])
        values = instances_from_classes(log, np.asarray(view.data), before)
        edit = log.apply(region, values, kind="touching-view", before=before)
        self._viewer.layers.remove(name)
        self.label_layer.value.refresh()
        self._table = None
        changed = 0 if edit is None else edit.index.size
        self._report(f"Back to instances: {changed} voxels changed; saved.")
        return edit

    def _review(self, log: EditLog, layer: Labels) -> int | None:
        points = self.points_layer.value
        coords = self._voxels(points, layer) if points is not None else []
        if not coords:
            raise ValueError("place a point on each object you checked first")
        marked = review_objects(log.ws, log.name, coords)
        self._table = None  # the reviewed shares changed: read the order again
        if points is not None:
            points.data = np.empty((0, points.ndim))
        self._report(f"Marked {len(coords)} object(s) reviewed ({marked} voxels); saved.")
        return marked

    @staticmethod
    def _voxels(points: Points, labels: Labels) -> list[tuple[float, ...]]:
        """The points in the labels layer's voxel coordinates."""
        out = []
        for p in np.asarray(points.data):
            world = points.data_to_world(p)
            out.append(tuple(float(c) for c in labels.world_to_data(world)))
        return out

    def _report(self, message: str, *, error: bool = False) -> None:
        self.status.value = message
        if error:
            show_error(message)


def parse_params(text: str) -> dict[str, Any]:
    """``"tau1=0.8, min_size=20, fill=false"`` as keyword arguments (numbers, booleans,
    comma-free lists like ``classes=0;1;2``).

    Examples
    --------
    >>> parse_params("tau1=0.8, min_size=20, fill=false, classes=0;1;2")
    {'tau1': 0.8, 'min_size': 20, 'fill': False, 'classes': [0, 1, 2]}
    """
    out: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, raw = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(f"parameters must look like name=value, got {item!r}")
        out[key.strip()] = _value(raw.strip())
    return out


def _value(raw: str) -> Any:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if ";" in raw:
        return [_value(v) for v in raw.split(";") if v]
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    raise ValueError(f"parameter values must be numbers or true/false, got {raw!r}")
