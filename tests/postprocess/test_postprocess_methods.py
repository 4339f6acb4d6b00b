"""Post-processing methods on hand-made 2-D and 3-D cases."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from stratoseg.postprocess import (
    METHODS,
    boundary_watershed,
    distance_watershed,
    fill_holes,
    map_classes,
    map_instances,
    postprocess,
    remove_small_objects,
    threshold_instances,
    watershed_instances,
)


def probs_from(classes: np.ndarray, n: int = 3, high: float = 0.8) -> np.ndarray:
    """A probability map that puts ``high`` on each voxel's class and shares the rest."""
    z = np.full((n, *classes.shape), (1 - high) / (n - 1), np.float32)
    for c in range(n):
        z[c][classes == c] = high
    return z


def test_algorithm_2_equidistant_touching_pixels_are_background() -> None:
    # one row: object A at x 0-1, touching x 2-4, object B at x 5-6
    h = np.array([[1, 1, 2, 2, 2, 1, 1]])
    labels = threshold_instances(probs_from(h), fill=False)
    a, b = labels[0, 0], labels[0, 6]
    assert a != b
    assert a > 0
    assert b > 0
    # x=2 is 1 from A, 3 from B; x=3 is 2 from both (equidistant); x=4 is 1 from B
    assert labels[0].tolist() == [a, a, a, 0, b, b, b]


def test_eq_4_4_touching_pixels_go_to_the_closest_object_in_2d() -> None:
    # an L-shaped touching band around object 1; object 2 far right
    h = np.zeros((5, 9), np.int64)
    h[1:4, 1:3] = 1
    h[0:5, 3] = 2
    h[0, 0:3] = 2
    h[1:4, 6:8] = 1
    labels = threshold_instances(probs_from(h), fill=False)
    left, right = labels[2, 1], labels[2, 6]
    assert left != right
    # every touching pixel is nearer the left object (distance 1 or sqrt 2) than the right (>= 3)
    assert (labels[h == 2] == left).all()
    assert (labels[h == 0] == 0).all()


def _two_disks(shape: tuple[int, ...], centres: list[tuple[int, ...]], r: float) -> np.ndarray:
    """Balls of radius ``r``; where they overlap, each voxel goes to the nearer centre."""
    grid = np.indices(shape)
    d2 = np.stack([sum((g - x) ** 2 for g, x in zip(grid, c, strict=True)) for c in centres])
    return np.where(d2.min(axis=0) <= r * r, d2.argmin(axis=0) + 1, 0).astype(np.int32)


@pytest.mark.parametrize("ndim", [2, 3])
def test_touching_objects_separated_by_the_touching_class(ndim: int) -> None:
    shape = (24, 40) if ndim == 2 else (20, 24, 40)
    mid = tuple(s // 2 for s in shape[:-1])
    truth = _two_disks(shape, [(*mid, 13), (*mid, 26)], 7.0)
    # semantic map: objects 1, a 2-voxel touching band where the two objects meet
    h = (truth > 0).astype(np.int64)
    near = np.zeros(shape, bool)
    near[..., 19:21] = True
    h[near & (truth > 0)] = 2
    z = probs_from(h)
    # MAP labelling of the object class alone (touching dropped) keeps them apart, but
    # a MAP that mistakes the band for objects merges them: the touching class matters
    merged = map_instances(probs_from((h > 0).astype(np.int64)), touching_class=None)
    assert len(np.unique(merged)) - 1 == 1
    for labels in (threshold_instances(z), watershed_instances(z), map_instances(z)):
        ids = np.unique(labels[labels > 0])
        assert len(ids) == 2
        # each found object is one true object, touching voxels included (up to the band's
        # equidistant middle, which the 2-voxel band does not have)
        for i in ids:
            assert len(np.unique(truth[labels == i])) == 1
        assert ((labels > 0) == (truth > 0)).all()


def test_the_watershed_seeds_and_topography() -> None:
    # objects with a weak interior (z1 = 0.45 < tau1 except at their centres)
    h = np.array([[0, 1, 1, 1, 2, 1, 1, 1, 0]])
    z = probs_from(h)
    z[1, 0, [1, 3, 5, 7]] = 0.45  # only x=2 and x=6 are seeds
    z[0, 0, [1, 3, 5, 7]] = 0.3
    z[2, 0, [1, 3, 5, 7]] = 0.25
    labels = watershed_instances(z, tau0=0.5, tau1=0.5, fill=False)
    a, b = labels[0, 2], labels[0, 6]
    assert a != b
    assert labels[0, 0] == 0
    assert labels[0, 8] == 0
    assert labels[0, 1:4].tolist() == [a, a, a]
    assert labels[0, 5:8].tolist() == [b, b, b]
    assert labels[0, 4] in (a, b)  # the ridge goes to one side


def test_map_and_the_gap_rule() -> None:
    z = np.zeros((4, 1, 3), np.float32)
    z[:, 0, 0] = [0.1, 0.2, 0.3, 0.4]  # gap wins; next best touching
    z[:, 0, 1] = [0.5, 0.2, 0.1, 0.2]
    z[:, 0, 2] = [0.2, 0.2, 0.1, 0.5]  # tie between 0 and 1: the first
    assert map_classes(z).tolist() == [[3, 0, 3]]
    assert map_classes(z, classes=[0, 1, 2]).tolist() == [[2, 0, 0]]
    assert postprocess((z * 255).astype(np.uint8), "map").tolist() == [[3, 0, 3]]


@pytest.mark.parametrize("ndim", [2, 3])
def test_distance_watershed_splits_touching_disks(ndim: int) -> None:
    shape = (24, 40) if ndim == 2 else (24, 24, 40)
    mid = tuple(s // 2 for s in shape[:-1])
    truth = _two_disks(shape, [(*mid, 12), (*mid, 25)], 7.5)
    labels = distance_watershed(truth > 0, h=1.0)
    ids = np.unique(labels[labels > 0])
    assert len(ids) == 2
    for i in ids:
        assert np.bincount(truth[labels == i]).argmax() > 0
        agree = (truth[labels == i] == np.bincount(truth[labels == i]).argmax()).mean()
        assert agree > 0.97
    one = _two_disks(shape, [(*mid, 20)], 8.0)
    assert len(np.unique(distance_watershed(one > 0))) == 2  # 0 and one object


def _membrane(shape: tuple[int, int], gap: slice) -> np.ndarray:
    """A boundary map: a vertical membrane at x = 40 (blurred), weaker in rows ``gap``."""
    x = np.arange(shape[1])
    profile = np.exp(-((x - 40) ** 2) / (2 * 1.2**2))
    b = np.tile(0.9 * profile, (shape[0], 1)).astype(np.float32)
    b[gap] *= 0.45  # an open boundary: the membrane fades under the threshold
    return b


def test_the_boundary_watershed_closes_an_open_membrane() -> None:
    b = _membrane((48, 80), slice(20, 28))
    assert (b[20:28] < 0.5).all()  # open: thresholding alone joins the two cells
    from scipy import ndimage as ndi

    _plain, n = ndi.label(b < 0.5)
    assert n == 1
    labels = boundary_watershed(b, threshold=0.5, segment_threshold=0.3)
    ids = np.unique(labels[labels > 0])
    assert len(ids) == 2
    assert len(np.unique(labels[:, :38])) == 1
    assert len(np.unique(labels[:, 43:])) == 1
    assert labels[0, 0] != labels[0, 79]
    # a line through the middle of a cell (b near 0) is not added
    flat = np.zeros((40, 40), np.float32)
    flat[:, 0] = flat[:, -1] = 0.9
    assert len(np.unique(boundary_watershed(flat)[:, 1:-1])) == 1
    # assign_boundaries grows the cells over the membrane
    grown = boundary_watershed(b, assign_boundaries=True)
    assert (grown > 0).all()
    assert len(np.unique(grown)) == 2


def test_flooding_the_map_puts_the_line_on_the_faded_membrane() -> None:
    """``flood="boundary"``: the basins follow the map's ridge, so in the gap the cut runs
    along the faded membrane (x = 40, b = 0.405 there) and the two cells stay apart."""
    b = _membrane((48, 80), slice(20, 28))
    labels = boundary_watershed(b, threshold=0.5, h=2.0, segment_threshold=0.3,
                                flood="boundary")  # fmt: skip
    assert len(np.unique(labels[labels > 0])) == 2
    for row in range(20, 28):
        assert np.flatnonzero(labels[row] == 0).tolist() == [40]


def test_boundary_watershed_in_3d() -> None:
    b = np.stack([_membrane((32, 80), slice(12, 20))] * 6)
    labels = boundary_watershed(b)
    assert len(np.unique(labels[labels > 0])) == 2


def test_fill_holes_and_small_objects() -> None:
    labels = np.zeros((7, 12), np.int32)
    labels[1:6, 1:6] = 1
    labels[3, 3] = 0  # a hole of object 1
    labels[1:6, 6:11] = 2
    labels[3, 6] = 0  # a hole shared with object 1's border: enclosed by 1 and 2 together
    labels[0, 11] = 3  # a one-voxel object
    filled = fill_holes(labels)
    assert filled[3, 3] == 1
    assert filled[3, 6] == 0
    assert (remove_small_objects(filled, 2) == np.where(filled == 3, 0, filled)).all()
    assert (remove_small_objects(filled, 0) == filled).all()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: postprocess(np.zeros((3, 4, 4)), "nope"), "method must be one of"),
        (lambda: postprocess(np.zeros((3, 4, 4)), "threshold", gamma1=2), "gamma1 must be"),
        (lambda: postprocess(np.zeros((3, 4, 4)), "threshold", touching_class=5), "touching_class"),
        (lambda: postprocess(np.zeros((3, 4, 4)), "watershed", bogus=1), "unknown parameter"),
        (lambda: postprocess(np.zeros((3, 4, 4)), "map", instances=True, object_class=7),
         r"object_class must be a class of the map \(0..2\), got 7"),
        (lambda: postprocess(np.zeros((3, 4, 4)), "map", instances=True, touching_class=3),
         "touching_class must be"),
        (lambda: postprocess(np.zeros((3, 4, 4)), "distance-watershed", object_class=-1),
         "object_class must be"),
        (lambda: postprocess(np.zeros((4, 4)), "map"), r"shape \(classes, y, x\)"),
        (lambda: postprocess(np.full((2, 4, 4), np.nan), "map"), "NaN"),
        (lambda: postprocess(np.zeros((2, 4, 4), complex), "map"), "dtype complex"),
        (lambda: map_classes(np.zeros((3, 4, 4)), classes=[0, 7]), "classes must be"),
        (lambda: remove_small_objects(np.zeros((4, 4), int), -1), "min_size"),
        (lambda: fill_holes(np.zeros((4, 4), float)), "integer array"),
        (lambda: distance_watershed(np.ones((4, 4), bool), h=0), "h must be"),
        (lambda: boundary_watershed(np.zeros((4, 4)), threshold=1.5), "threshold must be"),
        (lambda: boundary_watershed(np.zeros((4, 4)), flood="b"),
         "flood must be 'distance' or 'boundary', got 'b'"),
        (lambda: postprocess(np.zeros((2, 4, 4)), "boundary-watershed", boundary_class=3),
         "boundary_class"),
    ],
)  # fmt: skip
def test_bad_input_names_the_parameter(call: Any, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        call()


def test_every_method_runs_on_a_map_and_returns_labels_of_its_shape() -> None:
    h = _two_disks((20, 32), [(10, 10), (10, 21)], 6.0)
    classes = (h > 0).astype(np.int64)
    classes[:, 15:17][h[:, 15:17] > 0] = 2
    z = probs_from(classes)
    for name, method in METHODS.items():
        out = postprocess(z, name)
        assert out.shape == (20, 32), name
        assert out.max() >= 1, name
        assert (out.dtype == np.uint8) == (method.output == "semantic"), name


def test_each_training_target_recommends_a_method_that_runs() -> None:
    from stratoseg.training._targets import TARGETS

    for name, kind in TARGETS.items():
        spec = dict(kind.postprocess)
        method = spec.pop("kind")
        n = len(kind.classes) if kind.classes else 3
        h = _two_disks((20, 32), [(10, 10), (10, 21)], 6.0).clip(max=n - 1)
        out = postprocess(probs_from(h.astype(np.int64), n=n), method, **spec)
        assert out.shape == (20, 32), name
        assert out.max() >= 1, name


def test_distance_watershed_keeps_thin_pieces() -> None:
    mask = np.zeros((20, 30), bool)
    mask[5, 2:12] = True  # a one-voxel-wide fibre: no dome of height h = 3
    mask[8:18, 15:25] = True
    labels = distance_watershed(mask, h=3.0)
    assert ((labels > 0) == mask).all()
    assert len(np.unique(labels[mask])) == 2
