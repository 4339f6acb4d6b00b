"""Speed of the binary enhancement channel on a 256^3 volume (issue 4's goals).

Run: ``python benchmarks/bench_enhance.py`` (about a minute on 2 cores). It rewrites the
"Enhancement" section of docs/benchmarks.md with, side by side in one run:

- the two Euclidean distance transforms the binary channel needs, called directly
  (``scipy.ndimage.distance_transform_edt`` on the foreground and on the background);
- ``enhance_array`` (the whole channel, eq 4): goal at most 1.5x the direct transforms;
- the clipped channel whole-array and block-wise on the threaded scheduler: goal block-wise at
  least as fast as whole-array.
"""

from __future__ import annotations

import numpy as np
from _report import machine, timed, write_section
from scipy import ndimage as ndi

from stratoseg.enhance import EnhanceParams, enhance_array, enhance_volume
from stratoseg.synthetic import make_composite

SHAPE = (256, 256, 256)
CHUNKS = 128
MAX_DISTANCE = 8.0


def main() -> None:
    image = np.asarray(make_composite(SHAPE, seed=0).image.compute())
    threshold = 128
    fg = image > threshold

    t_edt, _ = timed(lambda: (ndi.distance_transform_edt(fg), ndi.distance_transform_edt(~fg)))
    p = EnhanceParams(method="binary", threshold=threshold / 255)
    t_whole, _ = timed(lambda: enhance_array(image, p))
    clipped = EnhanceParams(method="binary", threshold=threshold / 255, max_distance=MAX_DISTANCE)
    t_clip, whole = timed(lambda: enhance_array(image, clipped))
    t_block, blocks = timed(
        lambda: enhance_volume(image, clipped, chunks=CHUNKS).compute(scheduler="threads")
    )
    diff = float(np.abs(np.asarray(blocks) - np.asarray(whole)).max())
    write_section(
        "enhance",
        [
            "## Enhancement (`benchmarks/bench_enhance.py`)",
            "",
            f"Binary channel (eqs 1, 3, 4) of a {' x '.join(map(str, SHAPE))} uint8 synthetic "
            f"composite. Machine: {machine()}.",
            "",
            "| what | seconds | ratio |",
            "|---|---:|---|",
            f"| 2 x `scipy.ndimage.distance_transform_edt`, called directly | {t_edt:.2f} | 1 |",
            f"| `enhance_array`, binary, whole array | {t_whole:.2f} | "
            f"{t_whole / t_edt:.2f} x the direct transforms (goal <= 1.5) |",
            f"| clipped at {MAX_DISTANCE:g}, whole array | {t_clip:.2f} | 1 |",
            f"| clipped at {MAX_DISTANCE:g}, block-wise ({CHUNKS}^3 blocks + halo, threads) | "
            f"{t_block:.2f} | {t_clip / t_block:.2f} x faster than whole (goal >= 1) |",
            "",
            f"Block-wise and whole-array results differ by at most {diff:.1e}.",
        ],
    )


if __name__ == "__main__":
    main()
