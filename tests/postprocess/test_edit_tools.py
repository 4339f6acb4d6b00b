"""Correction tools on one object's box: split, merge, delete, fill; the box search."""

from __future__ import annotations

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


def test_object_box_grows_across_chunks_only_as_far_as_the_object(tmp_path) -> None:
    arr = zarr.create_array(tmp_path / "l.zarr", shape=(64, 256, 256), chunks=(16, 32, 32),
                            dtype=np.uint32)  # fmt: skip
    arr[10:30, 40:150, 100:120] = 8
    arr[0:5, 200:210, 200:210] = 8  # the same id far away is found only if the box reaches it
    box = object_box(arr, 8, (20, 60, 110), margin=0)
    assert box == (slice(10, 30), slice(40, 150), slice(100, 120))
    with pytest.raises(ValueError, match="object 9 is not at or near"):
        object_box(arr, 9, (20, 60, 110))
