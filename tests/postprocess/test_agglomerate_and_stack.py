"""Boundary components, mean-boundary agglomeration and a 2-D model's slices into 3-D objects,
on hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from _postprocess_cases import balls, probabilities, same_partition

from stratoseg.postprocess import (
    boundary_agglomeration,
    boundary_components,
    link_slices,
    postprocess,
    relative_spacing,
    split_stack,
)
from stratoseg.postprocess._agglomerate import agglomerate, face_means
from stratoseg.postprocess._blockwise import postprocess_blockwise


def test_face_means_by_hand() -> None:
    regions = np.array([[1, 1, 2], [1, 3, 3]])
    b = np.array([[0.1, 0.4, 0.2], [0.3, 0.6, 0.0]])
    lo, hi, sums, counts = face_means(regions, b)
    # faces (max of the two sides): 1|2 at (0,1)-(0,2): 0.4; 1|3 at (0,1)-(1,1): 0.6 and
    # (1,0)-(1,1): 0.6; 2|3 at (0,2)-(1,2): 0.2
    assert lo.tolist() == [1, 1, 2]
    assert hi.tolist() == [2, 3, 3]
    assert sums.tolist() == pytest.approx([0.4, 1.2, 0.2])
    assert counts.tolist() == [1, 2, 1]


def test_agglomeration_pools_the_faces_of_merged_regions() -> None:
    # 1|2 mean 0.2, 2|3 mean 0.45 (0.9 / 2), 1|3 mean 0.6 (1.2 / 2)
    lo, hi = np.array([1, 1, 2]), np.array([2, 3, 3])
    sums, counts = np.array([0.4, 1.2, 0.9]), np.array([2, 2, 2])
    # 1 and 2 merge first (0.2); the face of {1, 2} to 3 is then (0.9 + 1.2) / 4 = 0.525,
    # so at merge 0.5 region 3 stays apart, although its face to 2 alone is 0.45
    merged = agglomerate(lo, hi, sums, counts, merge=0.5)
    assert len(merged) == 1
    assert {*merged, *merged.values()} == {1, 2}
    assert len(agglomerate(lo, hi, sums, counts, merge=0.53)) == 2
    assert agglomerate(lo, hi, sums, counts, merge=0.2) == {}  # 0.2 is not below 0.2


def test_boundary_components_by_hand() -> None:
    b = np.zeros((3, 7), np.float32)
    b[:, 3] = 0.8
    b[1, 5] = 0.3  # under the threshold: still cell
    labels = boundary_components(b, threshold=0.5, assign_boundaries=False)
    assert labels[:, :3].min() == labels[:, :3].max() == 1
    assert (labels[:, 3] == 0).all()
    assert (labels[:, 4:] == 2).all()
    dense = boundary_components(b, threshold=0.5)
    assert dense.min() == 1  # the membrane went to a cell
    assert len(np.unique(dense)) == 2
    # a region under min_size is removed, its voxels flooded by the neighbour
    b2 = np.zeros((3, 9), np.float32)
    b2[:, 3], b2[:, 5] = 0.8, 0.9  # cells of 9, 3 and 9 pixels
    assert len(np.unique(boundary_components(b2, threshold=0.5))) == 3
    assert len(np.unique(boundary_components(b2, threshold=0.5, min_size=4))) == 2


def test_agglomeration_merges_false_cuts_and_keeps_membranes_with_gaps() -> None:
    b = np.zeros((12, 30), np.float32)
    b[:, 9] = 0.35  # a faint false cut through cell A
    b[:, 20] = 0.95  # a true membrane between A and C ...
    b[5:7, 20] = 0.25  # ... with a gap in it
    labels = boundary_agglomeration(b, threshold=0.3, h=0.5, merge=0.5)
    assert len(np.unique(labels[:, :20])) == 1  # the false cut is undone
    assert len(np.unique(labels[:, 21:])) == 1
    assert labels[0, 0] != labels[0, -1]  # the membrane keeps A and C apart despite its gap
    open_cut = boundary_agglomeration(b, threshold=0.3, h=0.5, merge=0.2)
    assert open_cut[0, 0] != open_cut[0, 15]  # with a strict merge the cut stays
    thin = boundary_agglomeration(b, threshold=0.3, h=0.5, assign_boundaries=False)
    assert (thin[:, 20][b[:, 20] >= 0.3] == 0).all()


def test_link_slices_mutual_best_and_minimum_overlap() -> None:
    s = np.zeros((3, 1, 10), int)
    s[0, 0, 0:4] = 1
    s[0, 0, 4:6] = 2
    s[1, 0, 0:6] = 3  # overlaps 1 by 4 and 2 by 2: mutual best with 1
    s[2, 0, 5:10] = 4  # overlaps 3 by 1 voxel: 1 < 0.5 * min(6, 5)
    out = link_slices(s)
    assert out[0, 0, 0] == out[1, 0, 0]
    assert out[0, 0, 4] != out[1, 0, 4]
    assert out[2, 0, 9] not in (out[1, 0, 0], out[0, 0, 4])
    assert len(np.unique(out)) == 4  # background + {1, 3}, {2}, {4}
    assert len(np.unique(link_slices(s, min_overlap=0.1))) == 3  # now 4 joins {1, 3}


def _stacked_balls() -> np.ndarray:
    """Two balls of radius 5 stacked in z, touching; every slice holds one object (id 1)."""
    z, y, x = np.indices((24, 16, 16))
    top = (z - 6.5) ** 2 + (y - 8) ** 2 + (x - 8) ** 2 <= 30
    bottom = (z - 16.5) ** 2 + (y - 8) ** 2 + (x - 8) ** 2 <= 30
    return (top | bottom).astype(np.int32)


def test_split_stack_cuts_objects_stacked_in_z_that_link_joins() -> None:
    per_slice = _stacked_balls()
    assert len(np.unique(link_slices(per_slice))) == 2  # one object: link cannot see the neck
    split = split_stack(per_slice, h=0.5)
    assert len(np.unique(split)) == 3
    assert split[6, 8, 8] != split[16, 8, 8]
    assert (split > 0).sum() == (per_slice > 0).sum()  # every voxel kept


def test_split_stack_uses_the_anisotropy() -> None:
    per_slice = _stacked_balls()[::3]  # every third slice: z step 3
    assert len(np.unique(split_stack(per_slice, h=0.5, sampling=(3.0, 1.0, 1.0)))) == 3
    assert relative_spacing((3.0, 1.0, 1.0)) == (3.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="voxel size must be positive"):
        relative_spacing((0.0, 1.0, 1.0))


def test_linked_slices_keep_each_slice_s_2d_result() -> None:
    truth = balls((6, 48, 48), 12, 7.0, seed=5)
    z = probabilities(truth, seed=6)
    linked = postprocess(z, "watershed", stack="link")
    for k in range(z.shape[1]):
        assert same_partition(linked[k], postprocess(z[:, k], "watershed"))
    volume = postprocess(z, "watershed", stack="volume")
    assert same_partition(volume, postprocess(z, "watershed"))


def test_blockwise_linked_and_split_stacks_equal_the_whole_array(tmp_path) -> None:
    truth = balls((24, 48, 48), 20, 6.0, seed=7)
    z = probabilities(truth, seed=8)
    for stack in ("link", {"kind": "split", "h": 1.0}):
        whole = postprocess(z, "watershed", stack=stack)
        out = zarr.create_array(tmp_path / f"{stack!s:.4}.zarr", shape=truth.shape,
                                chunks=(12, 24, 24), dtype=np.int32)  # fmt: skip
        postprocess_blockwise(z, "watershed", out=out, block=(12, 24, 24), halo=14, stack=stack)
        assert same_partition(np.asarray(out[...]), whole)


def test_bad_stacks_and_parameters() -> None:
    z = np.full((2, 3, 8, 8), 0.5, np.float32)
    with pytest.raises(ValueError, match="stack must be one of"):
        postprocess(z, "boundary-components", stack="slices")
    with pytest.raises(ValueError, match="unknown parameters for stack 'link'"):
        postprocess(z, "boundary-components", stack={"kind": "link", "h": 1})
    with pytest.raises(ValueError, match="merge must be between 0 and 1"):
        postprocess(z, "boundary-agglomeration", merge=2)
    with pytest.raises(ValueError, match="min_overlap must be between 0 and 1"):
        link_slices(np.zeros((2, 4, 4), int), min_overlap=1.5)
    with pytest.raises(ValueError, match=r"labels must be 3-D"):
        split_stack(np.zeros((4, 4), int))
