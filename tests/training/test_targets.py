"""Targets from label images, checked pixel by pixel against hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest

from stratoseg.training import (
    TARGETS,
    augment_touching,
    boundary_target,
    make_target,
    semantic_target,
    touching_gap_target,
    touching_target,
)


def test_touching_2d_marks_voxels_with_more_than_one_foreign_neighbour() -> None:
    g = np.array(
        [
            [0, 0, 0, 0, 0, 0],
            [0, 1, 1, 2, 2, 0],
            [0, 1, 1, 2, 2, 0],
            [0, 0, 0, 0, 0, 0],
        ]
    )
    expected = np.array(
        [
            [0, 0, 0, 0, 0, 0],
            [0, 1, 2, 2, 1, 0],
            [0, 1, 2, 2, 1, 0],
            [0, 0, 0, 0, 0, 0],
        ]
    )
    h = touching_target(g)
    assert h.dtype == np.uint8
    np.testing.assert_array_equal(h, expected)


def test_touching_needs_more_than_one_foreign_neighbour() -> None:
    # a diagonal contact: each voxel sees exactly one voxel of the other object (eq 4.1: > 1)
    g = np.array([[1, 0], [0, 2]])
    np.testing.assert_array_equal(touching_target(g), [[1, 0], [0, 1]])


def test_touching_neighbourhood_size_k() -> None:
    g = np.array([[1, 1, 1, 2, 2, 2], [1, 1, 1, 2, 2, 2]])
    np.testing.assert_array_equal(touching_target(g, k=1)[0], [1, 1, 2, 2, 1, 1])
    np.testing.assert_array_equal(touching_target(g, k=2)[0], [1, 2, 2, 2, 2, 1])


def test_touching_3d() -> None:
    g = np.zeros((2, 2, 4), dtype=np.uint16)
    g[..., :2] = 1
    g[..., 2:] = 7
    h = touching_target(g)
    np.testing.assert_array_equal(h[..., [0, 3]], 1)
    np.testing.assert_array_equal(h[..., [1, 2]], 2)


def test_gap_class_fills_narrow_background_between_objects_3d() -> None:
    g = np.zeros((5, 5, 8), dtype=np.int32)
    g[..., :3] = 1
    g[..., 5:] = 2
    h = touching_gap_target(g, k=2, radius=2)
    # the gap (x = 3, 4) is class 3 inside, where the ball of radius 2 fits between objects ...
    assert h[2, 2, 3] == 3
    assert h[2, 2, 4] == 3
    # ... but not at the corners, where the ball reaches beyond both objects' ends
    assert h[0, 0, 3] == 0
    assert h[4, 4, 4] == 0
    # objects 2 voxels apart do not touch, even with k = 2: their classes stay 1
    np.testing.assert_array_equal(h[..., :3], 1)
    np.testing.assert_array_equal(h[..., 5:], 1)
    assert set(np.unique(h)) == {0, 1, 3}


def test_gap_is_not_set_far_from_objects() -> None:
    g = np.zeros((9, 9), dtype=np.int32)
    g[4, 4] = 1
    h = touching_gap_target(g, k=1, radius=2)
    assert h[4, 4] == 1
    assert (h[g == 0] == 0).all()


def test_algorithm_1_adds_dilated_gaps_between_touching_objects() -> None:
    h = np.zeros((3, 7), dtype=np.uint8)
    h[:, :3] = 1
    h[:, 4:] = 1
    out = augment_touching(h)
    np.testing.assert_array_equal(out, np.tile([1, 1, 2, 2, 2, 1, 1], (3, 1)))


def test_algorithm_1_leaves_a_convex_object_alone_and_works_in_3d() -> None:
    h = np.zeros((5, 5, 5), dtype=np.uint8)
    h[1:4, 1:4, 1:4] = 1
    np.testing.assert_array_equal(augment_touching(h), h)
    h2 = np.zeros((3, 3, 7), dtype=np.uint8)
    h2[..., :3] = 1
    h2[..., 4:] = 1
    out = augment_touching(h2)
    np.testing.assert_array_equal(out[1, 1], [1, 1, 2, 2, 2, 1, 1])


def test_boundary_target_marks_membranes_and_direct_contacts() -> None:
    g = np.array([[1, 1, 0, 2, 2, 3]])
    np.testing.assert_array_equal(boundary_target(g), [[0, 0, 1, 0, 1, 1]])
    # with width 2, the first object's pixel 1 is 2 from the second object: boundary too
    np.testing.assert_array_equal(boundary_target(g, width=2), [[0, 1, 1, 1, 1, 1]])


def test_semantic_target_refuses_unknown_classes() -> None:
    with pytest.raises(ValueError, match=r"class \[3\].*3 classes"):
        semantic_target(np.array([[0, 3]]), num_classes=3)
    with pytest.raises(ValueError, match="target must be one of"):
        make_target("nope", np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="mask must be binary"):
        augment_touching(np.array([[0, 2]]))
    with pytest.raises(TypeError, match="integers"):
        touching_target(np.zeros((2, 2)))


def test_every_target_kind_says_how_to_post_process() -> None:
    for kind in TARGETS.values():
        assert kind.postprocess["kind"]
        g = np.zeros((6, 6), dtype=np.int32)
        g[1:3, 1:3] = 1
        h = make_target(kind.name, g, num_classes=2)
        if kind.classes is not None:
            assert h.max() < len(kind.classes)
