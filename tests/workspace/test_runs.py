"""Encoding a block's outputs for storage: MAP labels and uint8 probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from stratoseg.workspace._runs import EncodedBlock, map_labels


@pytest.mark.parametrize("classes", [1, 2, 3, 7])
def test_map_labels_is_numpy_argmax_ties_included(classes: int) -> None:
    rng = np.random.default_rng(classes)
    probs = rng.integers(0, 4, (classes, 30, 40)).astype(np.float32)  # many exact ties
    got = map_labels(probs, out=np.empty((30, 40), np.uint8))
    np.testing.assert_array_equal(got, np.argmax(probs, axis=0))


def test_encoded_block_rounds_and_labels_each_part() -> None:
    block = EncodedBlock((slice(8, 12), slice(0, 6)), classes=2, dtype=np.uint8,
                         label_dtype=np.uint32)  # fmt: skip
    assert block.labels is not None
    assert block.labels.dtype == np.uint8  # compact, whatever the label image's dtype
    p = np.zeros((2, 4, 6), np.float32)
    p[0] = 0.3
    p[1] = 0.7
    p[:, 1, 2] = (0.6, 0.4)
    block.put((slice(0, 2), slice(0, 6)), p[:, :2])
    block.put((slice(2, 4), slice(0, 6)), p[:, 2:])
    assert block.probs[0, 0, 0] == round(255 * 0.3)
    assert block.probs[1, 0, 0] == round(255 * 0.7)
    assert block.labels[1, 2] == 0
    assert int(block.labels.sum()) == 4 * 6 - 1
