"""Correction tools on a 512^3 label volume: split and merge act on the object's box only.

Run: ``python benchmarks/bench_edit.py`` (about a minute). Rewrites the "edit" section of
docs/benchmarks.md. A workspace holds a 512^3 uint32 label image (64^3 chunks) tiled with
16^3 objects, and in its middle one object made of two touching balls (radius 20) next to a
ball-shaped neighbour. Each tool is timed end to end as the Correct widget runs it: find the
object's box from a clicked voxel (``object_box``), compute (``split_object`` by distance
peaks, ``merge_objects``), write the changed chunks and record the undoable edit
(``EditLog.apply``; a merge reads the box of the merged-away object, whose voxels alone
change); then the edit is undone. Median of 5. Beside them, reading the whole
label image once: what a tool that touched the whole volume would pay at the least.
Goals (issue 7): split < 0.3 s, merge < 0.1 s.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import dask.array as da
import numpy as np
from _report import machine, write_section

from stratoseg.io import Volume
from stratoseg.postprocess import merge_objects, object_box, split_object
from stratoseg.workspace import EditLog, create_workspace

N, CHUNK, REPEATS = 512, 64, 5
BIG, NEIGHBOUR = 10_000_000, 10_000_001


def _tiles(block: np.ndarray, block_info: dict | None = None) -> np.ndarray:
    assert block_info is not None
    starts = [r[0] for r in block_info[None]["array-location"]]
    idx = np.indices(block.shape, dtype=np.int64)
    cells = [(i + s) // 16 for i, s in zip(idx, starts, strict=True)]
    out = 1 + cells[0] * (N // 16) ** 2 + cells[1] * (N // 16) + cells[2]
    c = N // 2
    zz, yy, xx = (i + s for i, s in zip(idx, starts, strict=True))
    two = ((zz - c) ** 2 + (yy - c) ** 2 + (xx - c + 17) ** 2 < 400) | (
        (zz - c) ** 2 + (yy - c) ** 2 + (xx - c - 17) ** 2 < 400
    )
    out[two] = BIG
    out[(zz - c) ** 2 + (yy - c - 40) ** 2 + (xx - c) ** 2 < 225] = NEIGHBOUR
    return out.astype(np.uint32)


def timed_tool(log: EditLog, run) -> float:
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter()
        edit = run()
        times.append(time.perf_counter() - t)
        assert edit is not None
        log.undo()
    return statistics.median(times)


def main() -> int:
    c = N // 2
    with tempfile.TemporaryDirectory() as tmp:
        image = da.zeros((N, N, N), np.uint8, chunks=CHUNK)
        vol = Volume(image, "zyx", (1.0, 1.0, 1.0), None, Path("x"), "x")
        with create_workspace(Path(tmp) / "w.zarr", vol, labels=None, chunks=CHUNK) as ws:
            start = time.perf_counter()
            tiles = da.zeros((N, N, N), np.uint32, chunks=CHUNK).map_blocks(_tiles, dtype=np.uint32)
            ws.write_labels("cells", tiles)
            print(f"labels written in {time.perf_counter() - start:.0f} s", flush=True)
            arr = ws.labels("cells")
            log = EditLog(ws, "cells")

            def split():
                box = object_box(arr, BIG, (c, c, c - 17))
                region = np.asarray(arr[box])
                new = split_object(region, BIG, next_id=BIG + 2)
                return log.apply(box, new, kind="split", before=region)

            def merge():  # only the voxels of the merged-away object change: its box
                box = object_box(arr, NEIGHBOUR, (c, c + 40, c))
                region = np.asarray(arr[box])
                new = merge_objects(region, [BIG, NEIGHBOUR])
                return log.apply(box, new, kind="merge", before=region)

            t_split = timed_tool(log, split)
            t_merge = timed_tool(log, merge)
            t = time.perf_counter()
            np.asarray(arr[...]).max()
            t_whole = time.perf_counter() - t
    lines = [
        "## Correction tools on a 512^3 label image (`benchmarks/bench_edit.py`)",
        "",
        f"Machine: {machine()}. uint32 labels, 64^3 chunks (zstd), 16^3 tiles plus a "
        "two-ball object (radius 20) and a neighbour. End to end per tool: the object's box "
        "from a clicked voxel, the computation, the write of the touched chunks and the "
        f"undo record; median of {REPEATS}.",
        "",
        "| tool | seconds | goal | share of one whole-volume read |",
        "|---|---:|---:|---:|",
        f"| split (distance peaks) | {t_split:.3f} | < 0.3 | {t_split / t_whole:.3f} |",
        f"| merge (two objects) | {t_merge:.3f} | < 0.1 | {t_merge / t_whole:.3f} |",
        f"| reading the whole label image | {t_whole:.2f} | | 1 |",
    ]
    write_section("edit", lines)
    print("\n".join(lines))
    return 0 if t_split < 0.3 and t_merge < 0.1 else 1


if __name__ == "__main__":
    sys.exit(main())
