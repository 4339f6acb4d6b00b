"""Per-object statistics read chunk by chunk, and the visiting orders."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from stratoseg.postprocess import object_table


def test_object_table_by_chunks_equals_the_whole_count(tmp_path) -> None:
    labels = np.zeros((6, 40, 40), np.uint32)
    labels[1:3, 2:12, 2:12] = 5  # 200 voxels, inside one chunk
    labels[:, 15:35, 15:35] = 9  # 2400 voxels across chunks
    labels[4, 38, 38] = 2  # a one-voxel object
    arr = zarr.create_array(tmp_path / "l.zarr", shape=labels.shape, chunks=(4, 16, 16),
                            dtype=np.uint32)  # fmt: skip
    arr[...] = labels
    probs = np.zeros((2, 6, 40, 40), np.float32)
    probs[0], probs[1] = 1.0, 0.0
    probs[:, labels == 9] = 0.5  # object 9 is maximally uncertain
    reviewed = np.zeros(labels.shape, np.uint8)
    reviewed[1] = 1  # half of object 5, a sixth of object 9
    table = object_table(arr, probs=probs, reviewed=reviewed)
    assert table.ids.tolist() == [2, 5, 9]
    assert table.sizes.tolist() == [1, 200, 2400]
    np.testing.assert_allclose(table.centres[1], [1.5, 6.5, 6.5])
    np.testing.assert_allclose(table.centres[2], [2.5, 24.5, 24.5])
    np.testing.assert_allclose(table.uncertainty, [0.0, 0.0, 1.0], atol=1e-5)
    np.testing.assert_allclose(table.reviewed, [0.0, 0.5, 1 / 6])  # slice 1 of 6 of object 9
    assert table.ids[table.order("size")].tolist() == [2, 5, 9]
    assert table.ids[table.order("uncertainty")][0] == 9
    reviewed[:] = 0
    reviewed[labels == 9] = 1
    again = object_table(arr, reviewed=reviewed)
    assert again.ids[again.order("unreviewed")].tolist() == [5, 2]  # largest unreviewed first
    assert np.isnan(again.uncertainty).all()
    with pytest.raises(ValueError, match="order must be one of"):
        table.order("colour")
