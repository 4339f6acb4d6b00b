"""Draw the pictures of ``docs/correction.md``: the Correct widget's window after a split, and
each tool before and after.

A synthetic stack of touching cells (``make_cells``, 32 x 128 x 128) is saved as a workspace
whose ``nuclei`` labels are the ground truth with the mistakes a network makes: two touching
cells under one id, one cell cut in two, a speck in the background, a hole in a cell. The
workspace also holds a prediction run (the touching target of the truth, blurred and noisy:
``synthetic.probability_map``). The workspace is opened with Load / Workspace, and each tool
of the Correct widget is run as a user would, with points where a user would click; every
picture puts the canvas before (points in yellow) next to the canvas after. The last one splits
the grains of a real sand tomogram (``../shared/data/ct-sand``, skipped when absent) from one
point, at the peaks of the distance map. Needs a display; on a headless machine run::

    xvfb-run -a python scripts/screenshot_correction.py [OUT_DIR]
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import napari
import numpy as np
from _screenshots import canvas, process_events, save_panels, save_window
from scipy import ndimage as ndi

from stratoseg.io import Volume, open_volume
from stratoseg.synthetic import make_cells, probability_map
from stratoseg.training._targets import make_target
from stratoseg.widgets.correct import CorrectWidget
from stratoseg.widgets.workspace import WorkspaceWidget
from stratoseg.workspace import create_workspace

OUT = Path(__file__).resolve().parents[1] / "docs" / "images"
SAND = Path(__file__).resolve().parents[2] / "shared" / "data" / "ct-sand" / "sand.tif"
Z = 16


def cells_on_slice(truth: np.ndarray) -> list[int]:
    """The cells of slice ``Z``, largest area first."""
    sizes = np.bincount(truth[Z].ravel())
    sizes[0] = 0
    return [int(i) for i in np.argsort(sizes)[::-1] if sizes[i] > 0]


def touching_pair(plane: np.ndarray) -> tuple[int, int]:
    """Two cells of ``plane`` with the longest shared border."""
    a, b = plane[:, :-1].ravel(), plane[:, 1:].ravel()
    edge = (a != b) & (a > 0) & (b > 0)
    pairs, counts = np.unique(np.sort(np.stack([a[edge], b[edge]]), axis=0), axis=1,
                              return_counts=True)  # fmt: skip
    i, j = pairs[:, int(np.argmax(counts))]
    return int(i), int(j)


def deepest(mask: np.ndarray) -> tuple[int, ...]:
    """The voxel of ``mask`` farthest from its outside."""
    dist = ndi.distance_transform_edt(mask)
    return tuple(int(c) for c in np.unravel_index(int(np.argmax(dist)), dist.shape))


def with_mistakes(truth: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """The truth with four mistakes, and where they are (ids and voxels on slice ``Z``)."""
    labels = truth.copy()
    a, b = touching_pair(truth[Z])
    labels[labels == b] = a  # under-segmentation: two cells, one id
    others = [i for i in cells_on_slice(truth) if i not in (a, b)]
    cut, holed = others[0], others[1]
    _, yc, xc = np.argwhere(truth == cut).mean(axis=0).round().astype(int)
    new = distinct_id(cut, int(truth.max()) + 1)
    half = (labels == cut) & (np.indices(labels.shape)[2] > xc)
    labels[half] = new  # over-segmentation: one cell, two ids
    yh, xh = deepest(truth[Z] == holed)
    yy, xx = np.indices(labels.shape[1:])
    hole = (yy - yh) ** 2 + (xx - xh) ** 2 <= 9
    labels[Z - 3 : Z + 4][:, hole] = 0  # a hole through seven slices
    background = ndi.distance_transform_edt(truth[Z] == 0)
    background[:24], background[-24:], background[:, :24], background[:, -24:] = 0, 0, 0, 0
    ys, xs = np.unravel_index(int(np.argmax(background)), background.shape)
    speck = (yy - ys) ** 2 + (xx - xs) ** 2 <= 6
    labels[Z - 2 : Z + 3][:, speck] = new + 41  # a false object
    where = {
        "pair": (a, b),
        "seeds": [(Z, *deepest(truth[Z] == a)), (Z, *deepest(truth[Z] == b))],
        "cut": [(Z, yc, xc - 3), (Z, yc, xc + 3)],
        "hole": [(Z, yh, xh + 5)],
        "speck": [(Z, ys, xs)],
    }
    return labels, where


def distinct_id(obj: int, start: int) -> int:
    """An id from ``start`` on whose napari colour differs most from ``obj``'s (so that the
    two halves of a cut cell look different)."""
    from napari.layers import Labels

    layer = Labels(np.zeros((2, 2), np.uint32))
    ref = np.asarray(layer.get_color(obj))[:3]
    candidates = range(start, start + 40)

    def distance(i: int) -> float:
        return float(np.abs(np.asarray(layer.get_color(i))[:3] - ref).sum())

    return max(candidates, key=distance)


def focus(viewer: Any, yx: tuple[float, float], size: float = 64) -> None:
    """Centre the view on ``yx`` of slice ``Z`` showing about ``size`` pixels."""
    viewer.dims.set_point(0, Z)
    viewer.reset_view()
    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
    zoom = camera.zoom * 128 / size
    camera.center = (Z, *yx)
    camera.zoom = zoom
    process_events()


def before_after(viewer: Any, widget: CorrectWidget, points: list[tuple[int, ...]],
                 act: Callable[[], Any], caption: str, out: Path) -> Any:  # fmt: skip
    """Show ``points``, take the canvas, run ``act``, take the canvas again, save the pair."""
    seeds = viewer.layers["points"]
    seeds.data = np.array(points, float).reshape(-1, 3)
    before = canvas(viewer)
    result = act()
    if result is None:
        raise SystemExit(f"{caption} failed: {widget.status.value}")
    print(f"{caption}: {widget.status.value}")
    after = canvas(viewer)
    save_panels([(f"{caption}: before", before), (f"{caption}: after", after)], out)
    return result


def open_docked(path: Path, labels: str) -> tuple[Any, Any, CorrectWidget]:
    """A viewer with the workspace at ``path`` opened by Load / Workspace, and Correct."""
    viewer = napari.Viewer(title="StratoSeg", show=True)
    viewer.window._qt_window.resize(1700, 1000)
    loader = WorkspaceWidget(viewer)
    viewer.window.add_dock_widget(loader, name="Load / Workspace", area="right")
    loader.workspace_path.value = path
    loader.open_workspace()
    widget = CorrectWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Correct", area="right")
    points = viewer.add_points(np.empty((0, 3)), ndim=3, name="points", size=3,
                               face_color="yellow")  # fmt: skip
    widget.label_layer.value = viewer.layers[labels]
    widget.points_layer.value = points
    viewer.layers.selection.active = viewer.layers[labels]
    return viewer, loader, widget


def cells_pictures(tmp: Path, out: Path) -> None:
    """Split, merge, delete, fill, re-run, touching view and next object on synthetic cells."""
    cells = make_cells((32, 128, 128), seed=4, radius=8)
    truth = np.asarray(cells.labels).astype(np.uint32)
    labels, where = with_mistakes(truth)
    vol = Volume(cells.image, "zyx", (1.0, 1.0, 1.0), None, Path("cells"), "synthetic")
    path = tmp / "cells.zarr"
    with create_workspace(path, vol, labels=None, chunks=64,
                          label_images={"nuclei": labels}) as ws:  # fmt: skip
        target = make_target("touching", truth)
        ws.write_probabilities("unet", probability_map(target, 3, blur=1.0, seed=1),
                               classes=["background", "nucleus", "touching"])  # fmt: skip
    viewer, _, widget = open_docked(path, "nuclei")
    centre = tuple(np.mean(where["seeds"], axis=0)[1:])
    focus(viewer, centre)
    split = before_after(viewer, widget, where["seeds"], lambda: widget.run("split"),
                         "Split (two seeds)", out / "correct-split.png")  # fmt: skip
    viewer.reset_view()
    save_window(viewer, out / "correct-widget.png", keep=True)  # the split's status shown
    focus(viewer, where["cut"][0][1:])
    before_after(viewer, widget, where["cut"], lambda: widget.run("merge"),
                 "Merge", out / "correct-merge.png")  # fmt: skip
    focus(viewer, where["speck"][0][1:])
    before_after(viewer, widget, where["speck"], lambda: widget.run("delete"),
                 "Delete", out / "correct-delete.png")  # fmt: skip
    focus(viewer, where["hole"][0][1:], size=40)
    before_after(viewer, widget, where["hole"], lambda: widget.run("fill"),
                 "Fill holes", out / "correct-fill.png")  # fmt: skip

    # undo back to before the split; then re-run watershed on three slices from the run
    log = widget.edit_log()
    assert log is not None
    while log.done and log.done[-1] >= split.seq:
        widget.run("undo")
    focus(viewer, centre)
    widget.probs.reset_choices()
    widget.probs.value = "unet"
    widget.method.value = "watershed"
    widget.params.value = "tau1=0.8, min_size=20"
    widget.slices.value = 1
    a, b = where["pair"]
    ys, xs = np.nonzero(np.isin(truth[Z], [a, b]))
    corners = np.array([[ys.min() - 2, xs.min() - 2], [ys.max() + 2, xs.max() + 2]], float)
    box = viewer.add_shapes([corners], shape_type="rectangle", name="box", edge_width=0.5,
                            edge_color="yellow", face_color="transparent")  # fmt: skip
    widget.box_layer.reset_choices()
    widget.box_layer.value = box
    viewer.layers.selection.active = viewer.layers["nuclei"]
    before = canvas(viewer)
    preview = widget.preview_rerun()
    if preview is None:
        raise SystemExit(f"the re-run preview failed: {widget.status.value}")
    viewer.layers["nuclei"].visible = False
    shown = canvas(viewer)
    viewer.layers["nuclei"].visible = True
    widget.apply_rerun()
    print(f"re-run: {widget.status.value}")
    after = canvas(viewer)
    save_panels([("Re-run: before", before), ("Preview (watershed, box, slices 15-17)", shown),
                 ("Applied", after)], out / "correct-rerun.png")  # fmt: skip
    widget.run("undo")
    widget.box_layer.value = None
    viewer.layers.remove(box)

    # the touching view: paint the touching class between the merged pair, then back
    widget.slices.value = 0
    view = widget.touching_view()
    plane = truth[Z]
    border = ((plane == a) & ndi.binary_dilation(plane == b)) | (
        (plane == b) & ndi.binary_dilation(plane == a)
    )
    before = canvas(viewer)
    data = view.data
    data[0][border & (data[0] == 1)] = 2
    view.data = data
    painted = canvas(viewer)
    widget.back_to_instances()
    print(f"touching view: {widget.status.value}")
    after = canvas(viewer)
    save_panels([("Touching view", before), ("Touching class (2) painted", painted),
                 ("Back to instances", after)], out / "correct-touching.png")  # fmt: skip

    # next object by uncertainty: the view moves there and selects its id
    widget.order.value = "uncertainty"
    viewer.reset_view()
    before = canvas(viewer)
    obj = widget.run("next")
    layer = viewer.layers["nuclei"]
    layer.show_selected_label = True
    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
    camera.zoom = camera.zoom * 2
    print(f"next: {widget.status.value}")
    after = canvas(viewer)
    save_panels([("Whole slice", before), (f"Next object by uncertainty: {obj}", after)],
                out / "correct-next.png")  # fmt: skip
    viewer.close()


def sand_picture(tmp: Path, out: Path) -> None:
    """Split the grains of a real sand tomogram (an Otsu mask: one object) from one point."""
    from skimage.filters import threshold_otsu

    if not SAND.exists():
        print(f"skipped the sand picture: {SAND} is absent")
        return
    vol = open_volume(SAND)
    image = np.asarray(vol.data)
    mask = (image > threshold_otsu(image)).astype(np.uint32)
    path = tmp / "sand.zarr"
    with create_workspace(path, vol, labels=None, chunks=64, label_images={"grains": mask}):
        pass
    viewer, _, widget = open_docked(path, "grains")
    widget.h.value = 2.0
    z = image.shape[0] // 2
    point = (z, *deepest(mask[z] > 0))
    viewer.dims.set_point(0, z)
    viewer.reset_view()
    before_after(viewer, widget, [point], lambda: widget.run("split"),
                 "Split (one point, distance peaks)", out / "correct-split-sand.png")  # fmt: skip
    viewer.close()


def main(out: Path = OUT) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cells_pictures(Path(tmp), out)
        sand_picture(Path(tmp), out)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
