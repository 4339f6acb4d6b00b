"""Speed of the metrics on a 256^3 volume with about 5,000 instances (issue 3's goal: < 10 s).

Run: ``python benchmarks/bench_metrics.py`` (about a minute on 2 cores). It rewrites the
"Metrics" section of docs/benchmarks.md. Timings are wall-clock seconds of one run each, on
whatever machine runs it; the ratio column compares scikit-image's adapted Rand error and VOI
with ours on the same arrays in the same run, which is what stays meaningful on a shared
machine.
"""

from __future__ import annotations

import numpy as np
from _report import machine, timed, write_section

from stratoseg.metrics import (
    adapted_rand_error,
    contingency,
    evaluate,
    match_instances,
    semantic_scores,
    v_rand,
    voi,
)
from stratoseg.synthetic import make_membranes

SHAPE = (256, 256, 256)


def make_pair() -> tuple[np.ndarray, np.ndarray]:
    """A dense instance ground truth and a plausible prediction: shifted by one voxel, every
    tenth object merged into its neighbour id, and the membranes (0) kept as boundary."""
    gt = np.asarray(make_membranes(SHAPE, seed=0, cell_size=15.0).labels.compute())
    ids = np.unique(gt)
    ids = ids[ids > 0]
    remap = np.arange(int(ids.max()) + 1, dtype=np.uint32)
    remap[ids[1::10]] = ids[0:-1:10]  # every tenth object takes another object's id
    pred = remap[np.roll(gt, 1, axis=2)]
    return pred, gt


def main() -> None:
    t_make, (pred, gt) = timed(make_pair)
    n_inst = len(np.unique(gt)) - 1
    contingency(pred, gt)  # a first full-size call pays page faults and allocations: warm up
    rows: list[tuple[str, float, str]] = []
    rows.append(("contingency table (one pass)", *_fmt(timed(lambda: contingency(pred, gt)))))
    rows.append(("V_Rand (eq 15)", *_fmt(timed(lambda: v_rand(pred, gt)))))
    t_ours_voi, _ = timed(lambda: voi(pred, gt))
    rows.append(("VOI", t_ours_voi, ""))
    t_ours_are, _ = timed(lambda: adapted_rand_error(pred, gt))
    rows.append(("adapted Rand error", t_ours_are, ""))
    rows.append(("PQ / SQ / RQ / F1", *_fmt(timed(lambda: match_instances(pred, gt)))))
    sem_gt, sem_pred = (gt % 3).astype(np.uint8), (pred % 3).astype(np.uint8)
    rows.append(
        ("Jaccard / Dice (3 classes)", *_fmt(timed(lambda: semantic_scores(sem_pred, sem_gt))))
    )
    label_all = ["vrand", "vinfo", "arand", "voi", "pq", "bf1"]
    t_all, _ = timed(lambda: evaluate(pred, gt, metrics=label_all))
    rows.append(("evaluate(): vrand, vinfo, arand, voi, pq, bf1", t_all, "one table shared"))
    img_gt = gt.astype(np.float32) % 7
    img_pred = img_gt + np.random.default_rng(0).normal(0, 0.5, img_gt.shape).astype(np.float32)
    t_img, _ = timed(lambda: evaluate(img_pred, img_gt, metrics=["psnr", "ssim", "uiq"]))
    rows.append(("evaluate(): psnr, ssim, uiq (global, float32)", t_img, ""))

    from skimage.metrics import adapted_rand_error as sk_are
    from skimage.metrics import variation_of_information as sk_voi

    t_sk_voi, _ = timed(lambda: sk_voi(gt, pred))
    t_sk_are, _ = timed(lambda: sk_are(gt, pred))
    rows.append(
        ("scikit-image VOI (reference)", t_sk_voi, f"ours {t_sk_voi / t_ours_voi:.1f}x faster")
    )
    rows.append(
        (
            "scikit-image adapted Rand (reference)",
            t_sk_are,
            f"ours {t_sk_are / t_ours_are:.1f}x faster",
        )
    )
    total_all_metrics = t_all + t_img + rows[5][1]
    write_metrics(rows, n_inst, t_make, total_all_metrics)


def _fmt(result: tuple[float, object]) -> tuple[float, str]:
    return result[0], ""


def write_metrics(
    rows: list[tuple[str, float, str]], n_inst: int, t_make: float, total: float
) -> None:
    write_section(
        "metrics",
        [
            "## Metrics (`benchmarks/bench_metrics.py`)",
            "",
            f"Volume {' x '.join(map(str, SHAPE))}, {n_inst:,} ground-truth instances "
            f"(synthetic membranes, cell size 15), prediction = ground truth shifted by one voxel "
            f"with every tenth object merged. Machine: {machine()}. Making the pair took "
            f"{t_make:.1f} s.",
            "",
            "| what | seconds | note |",
            "|---|---:|---|",
            *(f"| {name} | {sec:.2f} | {note} |" for name, sec, note in rows),
            "",
            f"**All metrics** (label metrics through `evaluate`, semantic scores, image quality): "
            f"{total:.1f} s; the goal is under 10 s.",
        ],
    )


if __name__ == "__main__":
    main()
