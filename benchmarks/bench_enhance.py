"""Speed of the enhancement channels (issue 4's goals).

Run: ``python benchmarks/bench_enhance.py`` (about three minutes on 2 cores, 4 GB of memory).
It rewrites the "Enhancement" section of docs/benchmarks.md with, side by side in one run:

- the Euclidean distance transforms the binary channel needs, called directly: the one
  multi-label ``edt.edt`` call the channel makes, the two binary ``edt.edt`` calls, and the two
  ``scipy.ndimage.distance_transform_edt`` calls of the textbook version;
- ``enhance_array`` (the whole channel, eq 4) on a 256^3 volume: goal at most 1.5x the direct
  transforms;
- the clipped channel of a 512^3 workspace (64^3 chunks) from stored image to stored channel:
  the whole-array way (read it all, ``enhance_array``, write it) against the block-wise way
  (``write_enhanced_channel``: blocks of whole chunks under a memory budget, read with their
  halo, computed and written on dask's threads): goal block-wise at least as fast; and, for
  the record, the same computation in memory (no reading or writing to overlap), with the
  storage chunks as blocks and with the grouped blocks;
- the napari preview of one 512 x 512 slice for each method, clipped and not (goal under
  200 ms), on a real ISBI 2012 slice when ``../shared/data`` is there, else on a slice of the
  synthetic composite.
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from pathlib import Path

import edt
import numpy as np
import tifffile
from _report import machine, timed, write_section
from scipy import ndimage as ndi

from stratoseg._threads import num_threads
from stratoseg.enhance import (
    EnhanceParams,
    enhance_array,
    enhance_volume,
    write_enhanced_channel,
)
from stratoseg.io import write_tiff
from stratoseg.synthetic import make_composite
from stratoseg.workspace import create_workspace

SHAPE = (256, 256, 256)
WS_SHAPE = (512, 512, 512)
WS_CHUNKS = 64
MAX_DISTANCE = 8.0
ISBI = Path(__file__).resolve().parents[2] / "shared" / "data" / "isbi2012" / "train-volume.tif"
METHODS = ("binary", "grayscale", "projected", "geodesic")


def median_ms(fn: object, repeats: int = 7) -> float:
    """Median wall-clock milliseconds of ``repeats`` calls after one warm-up call."""
    assert callable(fn)
    fn()
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return 1000 * statistics.median(runs)


def volume_rows() -> list[str]:
    image = np.asarray(make_composite(SHAPE, seed=0).image.compute())
    threshold = 128
    fg = image > threshold
    labels = fg.astype(np.uint8) + 1
    threads = num_threads()

    t_multi, _ = timed(lambda: edt.edt(labels, parallel=threads))
    t_two, _ = timed(lambda: (edt.edt(fg, parallel=threads), edt.edt(~fg, parallel=threads)))
    t_scipy, _ = timed(lambda: (ndi.distance_transform_edt(fg), ndi.distance_transform_edt(~fg)))
    p = EnhanceParams(method="binary", threshold=threshold / 255)
    t_whole, _ = timed(lambda: enhance_array(image, p))
    return [
        f"Binary channel (eqs 1, 3, 4) of a {' x '.join(map(str, SHAPE))} uint8 synthetic "
        f"composite; `edt` with {threads} threads.",
        "",
        "| what | seconds | ratio |",
        "|---|---:|---|",
        f"| one multi-label `edt.edt` (both maps), called directly | {t_multi:.2f} | 1 |",
        f"| 2 x binary `edt.edt`, called directly | {t_two:.2f} | {t_two / t_multi:.2f} |",
        f"| 2 x `scipy.ndimage.distance_transform_edt`, called directly | {t_scipy:.2f} | "
        f"{t_scipy / t_multi:.2f} |",
        f"| `enhance_array`, binary, whole array | {t_whole:.2f} | "
        f"{t_whole / t_multi:.2f} x the direct transform (goal <= 1.5); "
        f"{t_whole / t_scipy:.2f} x the two scipy transforms |",
    ]


def workspace_rows() -> list[str]:
    image = make_composite(WS_SHAPE, seed=0).image
    clipped = EnhanceParams(method="binary", threshold=128 / 255, max_distance=MAX_DISTANCE)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "composite.tif"
        write_tiff(image, source)
        ws = create_workspace(Path(tmp) / "ws.zarr", source, chunks=WS_CHUNKS, labels=None)

        def whole_way() -> None:
            data = np.asarray(ws.image().data)
            ws.write_channel("whole", enhance_array(data, clipped), overwrite=True)

        t_ws_whole, _ = timed(whole_way)
        t_ws_block, _ = timed(
            lambda: write_enhanced_channel(ws, clipped, name="blocks", overwrite=True)
        )
        diff = float(
            np.abs(
                np.asarray(ws.array("channels/blocks")) - np.asarray(ws.array("channels/whole"))
            ).max()
        )
        data = np.asarray(ws.image().data)
        ws.close()
    block = enhance_volume(data, clipped).chunksize  # numpy: 64^3 chunks, grouped
    t_mem_whole, _ = timed(lambda: enhance_array(data, clipped))
    t_mem_chunks, _ = timed(lambda: enhance_volume(data, clipped, chunks=WS_CHUNKS).compute())
    t_mem_grouped, _ = timed(lambda: enhance_volume(data, clipped).compute())
    size = " x ".join(map(str, WS_SHAPE))
    return [
        "",
        f"Clipped binary channel (max distance {MAX_DISTANCE:g}, halo "
        f"{math.ceil(MAX_DISTANCE) + 1}) of a {size} workspace with {WS_CHUNKS}^3 chunks; "
        f"grouped blocks are {' x '.join(map(str, block))}.",
        "",
        "| what | seconds | ratio |",
        "|---|---:|---|",
        f"| stored image to stored channel, whole array (read all, compute, write) | "
        f"{t_ws_whole:.2f} | 1 |",
        f"| stored image to stored channel, block-wise (`write_enhanced_channel`) | "
        f"{t_ws_block:.2f} | {t_ws_whole / t_ws_block:.2f} x faster than whole (goal >= 1) |",
        f"| in memory, whole array | {t_mem_whole:.2f} | 1 |",
        f"| in memory, block-wise, blocks = the {WS_CHUNKS}^3 chunks | {t_mem_chunks:.2f} | "
        f"{t_mem_whole / t_mem_chunks:.2f} x |",
        f"| in memory, block-wise, grouped blocks | {t_mem_grouped:.2f} | "
        f"{t_mem_whole / t_mem_grouped:.2f} x |",
        "",
        f"Block-wise and whole-array channels differ by at most {diff:.1e}. `edt` holds the "
        "GIL and uses every core inside each call, so in memory blocks cannot overlap and "
        "pay for their halos; from storage to storage, reading and writing (which release "
        "the GIL) overlap the computation of other blocks.",
    ]


def preview_rows() -> list[str]:
    if ISBI.exists():
        plane = np.asarray(tifffile.imread(ISBI, key=0))
        source = "slice 0 of the real ISBI 2012 `train-volume.tif` (512 x 512 uint8)"
    else:
        plane = np.asarray(make_composite((1, 512, 512), seed=0).image[0].compute())
        source = "a 512 x 512 slice of the synthetic composite (`../shared/data` absent)"
    rows = [
        "",
        f"Preview of one slice as the Enhance widget computes it, on {source}: median of 7 "
        "runs, default parameters (Otsu threshold, 16 levels, gamma 1). Goal: under 200 ms.",
        "",
        "| method | unclipped, ms | clipped at 10 px, ms |",
        "|---|---:|---:|",
    ]
    for method in METHODS:
        times = []
        for distance in (None, 10.0):
            params = EnhanceParams(method=method, max_distance=distance)
            times.append(median_ms(lambda params=params: enhance_array(plane, params)))
        rows.append(f"| {method} | {times[0]:.0f} | {times[1]:.0f} |")
    return rows


def main() -> None:
    write_section(
        "enhance",
        [
            "## Enhancement (`benchmarks/bench_enhance.py`)",
            "",
            f"Machine: {machine()}.",
            "",
            *volume_rows(),
            *workspace_rows(),
            *preview_rows(),
        ],
    )


if __name__ == "__main__":
    main()
