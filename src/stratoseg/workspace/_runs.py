"""Prediction runs written block by block: ``predictions/<run>`` with its completed blocks.

A block-wise run cannot write its array under a temporary name and rename it at the end (a
resumed run continues the same array), so completeness is in the attributes instead:
``complete`` is false until the last block is written, and ``blocks_done`` lists the blocks
whose chunks are on disk. A block is marked only after its chunks are written, so a killed run
never claims a block it did not finish, and ``--resume`` redoes exactly the unmarked ones.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import zarr
from zarr.codecs import ZstdCodec

from stratoseg._memory import empty
from stratoseg.workspace._chunks import ChunkWriter, remove_temporaries
from stratoseg.workspace._workspace import Workspace, check_name

__all__ = ["EncodedBlock", "PredictionRun", "open_prediction_run"]

_SLAB = 2**20  # voxels per class encoded at a time (bounds the float temporaries of a write)


def map_labels(probs: np.ndarray, *, out: np.ndarray) -> np.ndarray:
    """``argmax(probs, axis=0)`` written into ``out`` (the first class wins a tie).

    A running maximum over the classes, each step one comparison and one ``numpy.where``:
    about 4.5 times as fast as ``numpy.argmax`` along the first axis for a few classes (which
    reads the classes of each voxel far apart), and 2.5 times as fast as assigning through
    boolean masks.

    Examples
    --------
    >>> p = np.array([[0.2, 0.5, 0.1], [0.7, 0.5, 0.1], [0.1, 0.0, 0.8]])
    >>> map_labels(p, out=np.empty(3, np.uint8)).tolist()
    [1, 0, 2]
    """
    classes = probs.shape[0]
    if classes == 1:
        out[...] = 0
        return out
    labels = np.greater(probs[1], probs[0]).astype(out.dtype)
    best = np.maximum(probs[0], probs[1]) if classes > 2 else None
    for k in range(2, classes):
        assert best is not None
        labels = np.where(np.greater(probs[k], best), out.dtype.type(k), labels)
        if k < classes - 1:
            np.maximum(best, probs[k], out=best)
    out[...] = labels
    return out


class EncodedBlock:
    """One block's outputs in their storage types, filled piece by piece.

    ``probs``: ``(K, *block)`` uint8 (``round(255 clip(p, 0, 1))``) or float16; ``labels``: the
    MAP class per voxel (or None), uint8 for up to 256 classes whatever the label image's
    dtype (cast as it is written). :meth:`put` encodes float probabilities of any part of
    the block as they are predicted, so a block is never held in float32 (4 bytes per class
    and voxel) to be written: 1 or 2 bytes per class and voxel, plus 1 for the labels.
    """

    def __init__(
        self,
        region: Sequence[slice],
        *,
        classes: int,
        dtype: Any,
        label_dtype: Any | None,
    ) -> None:
        self.region = tuple(slice(int(s.start), int(s.stop)) for s in region)
        spatial = tuple(s.stop - s.start for s in self.region)
        self.probs = empty((classes, *spatial), dtype)
        if label_dtype is not None and classes <= 256:
            label_dtype = np.uint8
        self.labels = None if label_dtype is None else empty(spatial, label_dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        """``(K, *block)``."""
        return tuple(self.probs.shape)

    def put(self, where: tuple[slice, ...], probs: np.ndarray) -> None:
        """Encode ``probs`` ``(K, *part)`` (float) into the part ``where`` of the block (slices
        in block coordinates), in slabs of about ``_SLAB`` voxels so temporaries stay small."""
        rows = max(1, _SLAB // max(1, int(np.prod(probs.shape[2:]))))
        for a in range(0, probs.shape[1], rows):
            part = probs[:, a : a + rows]
            first = where[0].start + a
            dst = tuple([slice(first, first + part.shape[1]), *where[1:]])
            if self.probs.dtype == np.uint8:
                tmp = np.multiply(part, 255)
                np.clip(tmp, 0, 255, out=tmp)
                np.rint(tmp, out=tmp)
                self.probs[tuple([slice(None), *dst])] = tmp
            else:
                self.probs[tuple([slice(None), *dst])] = part
            if self.labels is not None:
                map_labels(part, out=self.labels[dst])


class PredictionRun:
    """Writer of one block-wise prediction run (thread-safe marking of finished blocks).

    Attributes
    ----------
    array : zarr.Array
        ``predictions/<run>``, ``(K, *grid)``, uint8 (``round(255 p)``) or float16.
    labels : zarr.Array or None
        ``labels/<name>/0`` for the MAP labels, when asked for.
    done : set of int
        Indices of the blocks already on disk.
    """

    def __init__(self, array: zarr.Array, labels: zarr.Array | None) -> None:
        self.array = array
        self.labels = labels
        self._writers = [ChunkWriter(array)] + ([] if labels is None else [ChunkWriter(labels)])
        done: Any = array.attrs.get("blocks_done", [])
        self.done: set[int] = {int(i) for i in done}
        self._lock = threading.Lock()

    @property
    def complete(self) -> bool:
        return bool(self.array.attrs.get("complete", False))

    def encoder(self, region: Sequence[slice]) -> EncodedBlock:
        """An empty :class:`EncodedBlock` for ``region``, in this run's storage types."""
        return EncodedBlock(
            region,
            classes=int(self.array.shape[0]),
            dtype=self.array.dtype,
            label_dtype=None if self.labels is None else self.labels.dtype,
        )

    def write(self, index: int, region: Sequence[slice], probs: np.ndarray | EncodedBlock) -> None:
        """Write one block's probabilities ``(K, *region)`` float (or already encoded, see
        :meth:`encoder`) and its MAP labels, then mark it done."""
        self.write_chunks(region, probs)
        self.mark_done(index)

    def mark_done(self, index: int) -> None:
        """Record block ``index`` as on disk (call only once its chunks are written)."""
        with self._lock:
            self.done.add(int(index))
            self.array.attrs["blocks_done"] = sorted(self.done)

    def write_chunks(self, region: Sequence[slice], probs: np.ndarray | EncodedBlock) -> None:
        """Write one block's chunks without marking it (a worker process of a cluster writes
        them; the process that runs the job marks the block once the task returns)."""
        where = tuple(region)
        if isinstance(probs, EncodedBlock):
            block = probs
            if block.region != where:
                raise ValueError(f"encoded block {block.region} written to region {where}")
        else:
            block = self.encoder(where)
            block.put(tuple(slice(0, int(s.stop) - int(s.start)) for s in where), probs)
        if self.labels is not None and block.labels is None:
            raise ValueError("this run writes labels; the encoded block has none")
        # one slab of whole chunks at a time: the same chunks, each written once, with the
        # padded edge chunks (and the labels' cast) bounded by a slab, not the block
        step = int(self.array.chunks[1])
        first = where[0]
        for a in range(first.start, first.stop, step):
            rows = slice(a, min(a + step, first.stop))
            part = (slice(a - first.start, rows.stop - first.start),)
            dst = (rows, *where[1:])
            probs_part = block.probs[tuple([slice(None), *part])]
            self._writers[0].write((slice(None), *dst), probs_part)
            if self.labels is not None:
                assert block.labels is not None
                labels = block.labels[part]
                if labels.dtype != self.labels.dtype:
                    labels = labels.astype(self.labels.dtype)
                self._writers[1].write(dst, labels)

    def finish(self) -> None:
        """Mark the run complete (all blocks written)."""
        with self._lock:
            self.array.attrs["complete"] = True

    def close(self) -> None:
        """Let the chunk writers' threads go (a later :meth:`write` starts them again)."""
        for writer in self._writers:
            writer.close()


def open_prediction_run(
    ws: Workspace,
    run: str,
    *,
    classes: Sequence[str],
    chunks: Sequence[int],
    dtype: Literal["uint8", "float16"] = "uint8",
    labels: str | None = None,
    params: dict[str, Any] | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> PredictionRun:
    """Create (or, with ``resume``, reopen) ``predictions/<run>`` for block-wise writing.

    Parameters
    ----------
    ws : Workspace
        Open for writing.
    run : str
        Run name.
    classes : sequence of str
        Class names (one channel each).
    chunks : sequence of int
        Spatial chunks of the outputs (the blocks are whole numbers of them).
    dtype : {"uint8", "float16"}
    labels : str, optional
        Also write MAP labels to ``labels/<labels>/0``.
    params : dict
        The run's parameters, stored in the attributes; a resumed run must have the same.
    resume : bool
        Continue an incomplete run of that name with the same parameters.
    overwrite : bool
        Replace an existing run (and label image) of that name.
    """
    check_name(run, what="run name")
    if dtype not in ("uint8", "float16"):
        raise ValueError(f"dtype must be 'uint8' or 'float16', got {dtype!r}")
    params = dict(params or {})
    exists = run in ws.predictions()
    if exists and resume:
        array = ws.array(f"predictions/{run}")
        stored: Any = array.attrs.get("classes", [])
        if array.attrs.get("params") != params or list(stored) != list(classes):
            raise ValueError(
                f"predictions/{run} was started with other parameters; resume it with the "
                "same ones, or pass overwrite to start again"
            )
        label_array = ws.labels(labels) if labels is not None else None
        # chunks a killed run was writing: never renamed into place, so never read; removed
        remove_temporaries(ws.path / "predictions" / run)
        if labels is not None:
            remove_temporaries(ws.path / "labels" / labels)
        return PredictionRun(array, label_array)
    if exists and not overwrite:
        raise FileExistsError(
            f"predictions/{run} already exists in {ws.path} (pass resume to continue it or "
            "overwrite to replace it)"
        )
    if exists:
        ws.delete(f"predictions/{run}")
    label_array = None
    if labels is not None:
        label_dtype = np.uint8 if len(classes) <= 255 else np.uint16
        if labels in ws.label_names():
            existing = ws.labels(labels)
            untouched = existing.nchunks_initialized == 0  # e.g. made empty at import
            if untouched and np.dtype(existing.dtype).itemsize >= np.dtype(label_dtype).itemsize:
                label_array = existing
            elif not overwrite:
                raise FileExistsError(
                    f"labels/{labels} already exists in {ws.path} and has content (pass "
                    "overwrite to replace it, or choose another labels name)"
                )
            else:
                ws.delete(f"labels/{labels}")
        if label_array is None:
            label_array = ws.create_labels(labels, dtype=label_dtype)
    ws._check_writable()
    if "predictions" not in ws.root:
        ws.root.create_group("predictions")
    array = zarr.create_array(
        store=str(ws.path / "predictions" / run),
        shape=(len(classes), *ws.spatial_shape),
        dtype=dtype,
        chunks=(len(classes), *(int(c) for c in chunks)),
        fill_value=0,
        # zstd level 1: probabilities are K times the volume, and at level 1 they compress as
        # well as at zarr's default (3) in half the time, time the writer takes from the network
        compressors=ZstdCodec(level=1),
        attributes={
            "classes": list(classes),
            "scale": 1 / 255 if dtype == "uint8" else 1.0,
            "params": params,
            "complete": False,
            "blocks_done": [],
        },
    )
    ws.journal.append("prediction-started", name=run, labels=labels, **params)
    return PredictionRun(array, label_array)
