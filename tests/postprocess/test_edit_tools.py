"""Correction tools on one object's box: split, merge, delete, fill; the box search."""

from __future__ import annotations

from pathlib import Path

import dask.array as da
import numpy as np
import pytest
import zarr

from stratoseg.postprocess import (
    delete_object,
    fill_object,
    merge_objects,
    object_box,
    split_object,
)


def _two_touching(shape=(40, 60), a=(20, 18), b=(20, 40), r=11.0) -> np.ndarray:
    yy, xx = np.indices(shape)
    m = ((yy - a[0]) ** 2 + (xx - a[1]) ** 2 < r * r) | (
        (yy - b[0]) ** 2 + (xx - b[1]) ** 2 < r * r
    )
    return np.where(m, 4, 0).astype(np.uint32)


def test_split_by_distance_peaks_and_by_seeds() -> None:
    region = _two_touching()
    region[0:3, 0:3] = 2  # another object, untouched
    auto = split_object(region, 4, next_id=10)
    assert set(np.unique(auto)) == {0, 2, 4, 10}
    assert auto[20, 18] != auto[20, 40]
    assert (auto[0:3, 0:3] == 2).all()
    seeded = split_object(region, 4, next_id=10, seeds=[(20, 15), (20, 45)])
    assert seeded[20, 15] == 4
    assert seeded[20, 45] == 10
    assert ((seeded > 0) == (region > 0)).all()
    with pytest.raises(ValueError, match="not inside object 4"):
        split_object(region, 4, next_id=10, seeds=[(0, 59)])


def test_merge_delete_fill() -> None:
    r = np.zeros((5, 9), np.uint32)
    r[1:4, 1:4], r[1:4, 5:8] = 3, 6
    r[2, 2] = 0
    merged = merge_objects(r, [3, 6])
    assert set(np.unique(merged)) == {0, 3}
    assert set(np.unique(delete_object(r, 6))) == {0, 3}
    assert fill_object(r, 3)[2, 2] == 3
    with pytest.raises(ValueError, match="at least two"):
        merge_objects(r, [3])


def test_fill_closes_a_hole_seen_on_a_slice_even_when_it_opens_in_depth() -> None:
    """A 3-D object (5 x 7 x 7 block of id 2) with a tunnel through z at (3, 3), open at the
    object's top and bottom, and a closed cavity; another object (5) beside it. The tunnel is
    not a hole in 3-D, but it is one on every slice: both are filled, nothing else."""
    r = np.zeros((5, 9, 12), np.uint32)
    r[:, 1:8, 1:8] = 2
    r[:, 3, 3] = 0  # the tunnel, open at z = 0 and z = 4
    r[2, 5, 5] = 0  # a cavity
    r[:, 2:5, 9:12] = 5
    r[:, 3, 10] = 0  # object 5's tunnel stays: only object 2 is filled
    out = fill_object(r, 2)
    assert (out[:, 3, 3] == 2).all()
    assert out[2, 5, 5] == 2
    assert (out[:, 3, 10] == 0).all()
    assert int((out != r).sum()) == 5 + 1


def test_object_box_grows_across_chunks_only_as_far_as_the_object(tmp_path) -> None:
    arr = zarr.create_array(tmp_path / "l.zarr", shape=(64, 256, 256), chunks=(16, 32, 32),
                            dtype=np.uint32)  # fmt: skip
    arr[10:30, 40:150, 100:120] = 8
    arr[0:5, 200:210, 200:210] = 8  # the same id far away is found only if the box reaches it
    box = object_box(arr, 8, (20, 60, 110), margin=0)
    assert box == (slice(10, 30), slice(40, 150), slice(100, 120))
    with pytest.raises(ValueError, match="object 9 is not at or near"):
        object_box(arr, 9, (20, 60, 110))


def test_keep_ids_gives_each_old_id_to_the_new_object_overlapping_it_most(tmp_path) -> None:
    """Hand-worked: old object 1 is split into new 5 and 6 (one voxel of it each: the tie
    goes to the smaller new id, 5 keeps 1), new 7 covers old 2, new 8 covers only background
    and old 9 is gone: 6 and 8 take fresh ids after the image's largest (9)."""
    from stratoseg.io import Volume
    from stratoseg.postprocess import keep_ids
    from stratoseg.workspace import EditLog, Workspace, create_workspace

    before = np.array([[[1, 1, 0, 2, 2, 0, 0, 9]]], np.uint32)
    labels = np.array([[[5, 6, 0, 7, 7, 8, 8, 0]]], np.uint32)
    vol = Volume(da.zeros((1, 1, 8), np.uint8), "zyx", (1.0,) * 3, None, Path("x"), "synthetic")
    with create_workspace(tmp_path / "w.zarr", vol, labels=None, chunks=8,
                          label_images={"cells": before}):  # fmt: skip
        pass
    with Workspace.open(tmp_path / "w.zarr", mode="r+") as ws:
        out = keep_ids(EditLog(ws, "cells"), labels, before)
    assert out.tolist() == [[[1, 10, 0, 2, 2, 11, 11, 0]]]
    assert out.dtype == np.uint32
    with pytest.raises(ValueError, match="differ in shape"):
        keep_ids(None, labels, before[..., :4])
