"""The shipped models' quality as a user gets it: ``stratoseg segment`` with its defaults.

Run: ``python benchmarks/bench_models_cli.py [--only isbi,fibsem,merge,dsb,stack,composite]``
(about ten minutes on 2 CPU cores; needs ``../shared/data``). Every figure comes from the
command a user types, run as a new process (start-up included in the times), with the model
card's defaults and nothing tuned on the test data; alternatives are the same command with one
option changed, or ``stratoseg postprocess`` on the same predictions. Scores use
:mod:`stratoseg.metrics`; where ``../shared/tools/user-path-quality.py`` defines a case, its
scikit-image score is computed beside ours. Rewrites the section between the
``bench_models_cli`` markers of ``docs/models.md``.

Cases:

- **isbi**: ISBI 2012 slices 25-29 (never trained on), ``em-membranes-2d``. V_Rand (eq 15,
  α = 0.5, thinned boundaries; the challenge's definition) per slice, and scikit-image's
  1 - adapted Rand error of the same labels against the 4-connected cells.
- **merge**: the boundary agglomeration's ``merge`` from 0.3 to 0.8 on the tuning slab
  (z 150-174) and on the test slab, each cropped into its own TIFF.
- **fibsem**: FIB-SEM medulla z >= 175 cropped into its own TIFF, ``em-boundaries-3d``.
  Adapted Rand error (CREMI, ground-truth 0 ignored), VOI split / merge, bodies; the
  baseline, threshold + connected components (``--postprocess boundary-components``), at the
  threshold the training script chose on z 150-174 and at the best threshold for the test.
- **dsb**: the 20 held-out DSB2018 images of the ``nuclei-touching-2d`` card, one command
  each. PQ, SQ and detection F1 (IoU > 0.5), mean per image.
- **stack**: a 2-D model on 3-D stacks: ``nuclei-touching-2d`` on synthetic touching nuclei
  (seeds 1 and 2, radius 10, z steps 1 and 3 written as the TIFF's voxel size, so the
  workspace knows the anisotropy), against Otsu's threshold + a distance-transform watershed
  (scikit-image, SciPy) with the voxel size, its ``h`` chosen on the tuning stacks of
  ``scripts/card_settings.py`` as the model's was.
- **composite**: ``stratoseg demo`` (the README's main job) and the seed-7 test composite of
  ``composite-ct-3phase``, per-phase Jaccard.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
import zarr
from skimage.measure import label
from skimage.metrics import adapted_rand_error as skimage_are

from stratoseg.metrics import adapted_rand_error, match_instances, semantic_scores, v_rand, voi

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
DOC = ROOT / "docs" / "models.md"
KEY = "bench_models_cli"
#: The baseline threshold that train_em_boundaries.py chose on z 150-174.
BASELINE_THRESHOLD = 0.1


def stratoseg(*args: str) -> float:
    """Run ``stratoseg ARGS`` as a user would (a new process); its wall time in seconds."""
    start = time.perf_counter()
    done = subprocess.run(["stratoseg", *args], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"failed: stratoseg {' '.join(args)}\n{done.stderr[-2000:]}")
    return time.perf_counter() - start


def labels_of(ws: Path, name: str = "segmentation") -> np.ndarray:
    return np.asarray(zarr.open_group(str(ws), mode="r")[f"labels/{name}/0"][...])


def shown(args: list[str]) -> str:
    """The command as the docs print it (work paths shortened)."""
    return "stratoseg " + " ".join(Path(a).name if "/" in a else a for a in args)


def isbi(work: Path) -> list[dict[str, Any]]:
    image = tifffile.imread(DATA / "isbi2012" / "train-volume.tif")[25:30]
    truth = tifffile.imread(DATA / "isbi2012" / "train-labels.tif")[25:30]
    cells = [label(t > 0, connectivity=1) for t in truth]
    tifffile.imwrite(work / "isbi.tif", image)
    rows = []
    variants = {
        "defaults (stratified, 4 passes of 48², components of b < 0.1)": [],
        "uniform grid of 48² windows (`--tiling crop --halo 0`)": ["--tiling", "crop",
                                                                   "--halo", "0"],
        "membrane threshold 0.5 (`--threshold 0.5`)": ["--threshold", "0.5"],
        "probabilities stored as uint8 (`--dtype uint8`)": ["--dtype", "uint8"],
    }  # fmt: skip
    for k, (what, extra) in enumerate(variants.items()):
        args = ["segment", str(work / "isbi.tif"), "-o", str(work / f"isbi{k}.zarr"),
                "--model", "em-membranes-2d", *extra]  # fmt: skip
        seconds = stratoseg(*args)
        lab = labels_of(work / f"isbi{k}.zarr")
        ours = [v_rand(lab[i], cells[i]).score for i in range(5)]
        theirs = [1 - skimage_are(cells[i], lab[i], ignore_labels=(0,))[0] for i in range(5)]
        rows.append({"case": "ISBI 2012 slices 25-29", "model": "em-membranes-2d",
                     "variant": what, "command": shown(args), "seconds": seconds,
                     "V_Rand": (float(np.mean(ours)), float(np.std(ours))),
                     "V_Rand (skimage)": (float(np.mean(theirs)),
                                          float(np.std(theirs)))})  # fmt: skip
    return rows


def fib_crop(work: Path, name: str, z: slice) -> np.ndarray:
    """Slices ``z`` of the FIB-SEM volume written to ``work/NAME.tif``; their ground truth."""
    folder = DATA / "fibsem-medulla-250"
    tifffile.imwrite(work / f"{name}.tif", tifffile.imread(folder / "raw.tif")[z])
    return tifffile.imread(folder / "groundtruth.tif")[z].astype(np.uint32)


def fib_scores(lab: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Adapted Rand error (ours and scikit-image's), VOI split / merge and bodies."""
    v = voi(lab, truth, ignore_labels=(0,))
    return {"adapted Rand error": adapted_rand_error(lab, truth).error,
            "adapted Rand error (skimage)": skimage_are(truth, lab, ignore_labels=(0,))[0],
            "VOI split": v.split, "VOI merge": v.merge,
            "bodies": len(np.unique(lab[truth != 0]))}  # fmt: skip


def fibsem(work: Path) -> list[dict[str, Any]]:
    truth = fib_crop(work, "fib", slice(175, None))
    ws = work / "fib.zarr"

    def scored(lab: np.ndarray) -> dict[str, Any]:
        return fib_scores(lab, truth)

    args = ["segment", str(work / "fib.tif"), "-o", str(ws), "--model", "em-boundaries-3d"]
    rows = [{"case": "FIB-SEM medulla z >= 175", "model": "em-boundaries-3d",
             "variant": "defaults (boundary agglomeration, float16 maps)", "command": shown(args),
             "seconds": stratoseg(*args), **scored(labels_of(ws))}]  # fmt: skip
    post = ["postprocess", str(ws), "--predictions", "em-boundaries-3d", "--overwrite"]
    alternatives = {
        f"baseline: threshold {BASELINE_THRESHOLD} + connected components":
            ["--method", "boundary-components", "--threshold", str(BASELINE_THRESHOLD)],
        "Herreros §3.2.8 lines (the previous recommendation)":
            ["--method", "boundary-watershed", "--threshold", "0.3", "--h", "2",
             "--segment-threshold", "0", "--flood", "boundary", "--assign-boundaries", "yes"],
    }  # fmt: skip
    for what, extra in alternatives.items():
        cmd = [*post, *extra, "--labels", "alt"]
        seconds = stratoseg(*cmd)
        rows.append({"case": "FIB-SEM medulla z >= 175", "model": "em-boundaries-3d",
                     "variant": what, "command": shown(cmd), "seconds": seconds,
                     **scored(labels_of(ws, "alt"))})  # fmt: skip
    best = None
    for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        cmd = [*post, "--method", "boundary-components", "--threshold", str(t), "--labels", "alt"]
        stratoseg(*cmd)
        s = scored(labels_of(ws, "alt"))
        if best is None or s["adapted Rand error"] < best[1]["adapted Rand error"]:
            best = (t, s, cmd)
    assert best is not None
    rows.append({"case": "FIB-SEM medulla z >= 175", "model": "em-boundaries-3d",
                 "variant": f"baseline at the best threshold for the test ({best[0]})",
                 "command": shown(best[2]), "seconds": float("nan"), **best[1]})  # fmt: skip
    uint8 = ["segment", str(ws), "--model", "em-boundaries-3d", "--dtype", "uint8",
             "--overwrite"]  # fmt: skip
    seconds = stratoseg(*uint8)
    rows.append({"case": "FIB-SEM medulla z >= 175", "model": "em-boundaries-3d",
                 "variant": "probabilities stored as uint8 (`--dtype uint8`)",
                 "command": shown(uint8), "seconds": seconds, **scored(labels_of(ws))})  # fmt: skip
    lines = alternatives["Herreros §3.2.8 lines (the previous recommendation)"]
    cmd = [*post, *lines, "--labels", "alt"]
    seconds = stratoseg(*cmd)
    rows.append({"case": "FIB-SEM medulla z >= 175", "model": "em-boundaries-3d",
                 "variant": "Herreros §3.2.8 lines on the uint8 maps", "command": shown(cmd),
                 "seconds": seconds, **scored(labels_of(ws, "alt"))})  # fmt: skip
    return rows


def merge(work: Path) -> list[dict[str, Any]]:
    """The agglomeration's ``merge`` swept on the tuning slab (z 150-174) and on the test
    slab, each cropped into its own file and segmented as a user would."""
    rows = []
    slabs = (("tune", slice(150, 175), "FIB-SEM tuning slab z 150-174, merge"),
             ("test", slice(175, None), "FIB-SEM test slab z >= 175, merge"))  # fmt: skip
    for name, z, case in slabs:
        truth = fib_crop(work, name, z)
        ws = work / f"{name}.zarr"
        stratoseg("segment", str(work / f"{name}.tif"), "-o", str(ws), "--model",
                  "em-boundaries-3d", "--no-labels")  # fmt: skip
        for m in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
            cmd = ["postprocess", str(ws), "--predictions", "em-boundaries-3d", "--method",
                   "boundary-agglomeration", "--threshold", "0.5", "--h", "1", "--merge",
                   str(m), "--flood", "boundary", "--assign-boundaries", "yes", "--labels",
                   "alt", "--overwrite"]  # fmt: skip
            seconds = stratoseg(*cmd)
            rows.append({"case": case, "model": "em-boundaries-3d", "variant": f"merge {m}",
                         "command": shown(cmd), "seconds": seconds,
                         **fib_scores(labels_of(ws, "alt"), truth)})  # fmt: skip
    return rows


def pq_row(case: str, model: str, variant: str, args: list[str], seconds: float,
           pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, Any]:  # fmt: skip
    scores = [match_instances(p, g) for p, g in pairs]
    return {"case": case, "model": model, "variant": variant, "command": shown(args),
            "seconds": seconds, "PQ": float(np.mean([s.pq for s in scores])),
            "SQ": float(np.mean([s.sq for s in scores])),
            "F1": float(np.mean([s.f1 for s in scores])), "images": len(pairs)}  # fmt: skip


def dsb(work: Path) -> list[dict[str, Any]]:
    files = sorted((DATA / "dsb2018-nuclei" / "images").glob("*.tif"))
    test = [f for i, f in enumerate(files) if i % 4 == 3]
    variants = {"defaults (gaussian tiling, watershed on z2 - z1, τ0 0.6, τ1 0.9)": None,
                "MAP, touching pixels to the nearest nucleus": ["--method", "map",
                                                                "--instances"],
                "thresholded maps, Algorithm 2 (γ1 0.6, γ2 0.4)": [
                    "--method", "threshold", "--gamma1", "0.6", "--gamma2", "0.4"]}  # fmt: skip
    pairs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {v: [] for v in variants}
    seconds, commands = 0.0, {}
    for f in test:
        truth = tifffile.imread(DATA / "dsb2018-nuclei" / "labels" / f.name)
        ws = work / f"{f.stem}.zarr"
        args = ["segment", str(f), "-o", str(ws), "--model", "nuclei-touching-2d"]
        seconds += stratoseg(*args)
        commands[next(iter(variants))] = args
        pairs[next(iter(variants))].append((labels_of(ws), truth))
        for what, extra in list(variants.items())[1:]:
            assert extra is not None
            cmd = ["postprocess", str(ws), "--predictions", "nuclei-touching-2d", *extra,
                   "--labels", "alt", "--overwrite"]  # fmt: skip
            stratoseg(*cmd)
            commands[what] = cmd
            pairs[what].append((labels_of(ws, "alt"), truth))
    return [pq_row("DSB2018, the card's 20 test images", "nuclei-touching-2d", what,
                   commands[what], seconds / len(test) if k == 0 else float("nan"), pairs[what])
            for k, what in enumerate(variants)]  # fmt: skip


def stack(work: Path) -> list[dict[str, Any]]:
    sys.path.insert(0, str(ROOT / "scripts"))
    from card_settings import TUNING_STACKS, nuclei_stack
    from skimage.filters import threshold_otsu

    from stratoseg.postprocess import distance_watershed

    def baseline(image: np.ndarray, step: int, h: float) -> np.ndarray:
        return distance_watershed(image > threshold_otsu(image), h=h, sampling=(step, 1, 1))

    grid = (0.25, 0.5, 1.0, 2.0)
    tuning = [(nuclei_stack(*s), s[2]) for s in TUNING_STACKS]
    h = max(grid, key=lambda h: np.mean([match_instances(baseline(i, st, h), t).pq
                                         for (i, t), st in tuning]))  # fmt: skip
    rows = []
    for seed in (1, 2):
        for step in (1, 3):
            image, truth = nuclei_stack(seed, 10.0, step)
            tif = work / f"nuclei{seed}-{step}.tif"
            tifffile.imwrite(tif, image, imagej=True, metadata={"spacing": step, "axes": "ZYX"},
                             resolution=(1.0, 1.0))  # fmt: skip
            case = f"3-D nuclei, seed {seed}, z step {step} ({len(np.unique(truth)) - 1} nuclei)"
            for what, extra in {"defaults (slices split in 3-D, h 0.5)": [],
                                "stack as one volume (`--stack volume`)": ["--stack", "volume"],
                                "slices linked by overlap (`--stack link`)": ["--stack", "link"],
                                }.items():  # fmt: skip
                ws = work / f"nuclei{seed}-{step}-{len(extra)}{''.join(extra)}.zarr"
                args = ["segment", str(tif), "-o", str(ws), "--model", "nuclei-touching-2d",
                        *extra]  # fmt: skip
                seconds = stratoseg(*args)
                rows.append(pq_row(case, "nuclei-touching-2d", what, args, seconds,
                                   [(labels_of(ws), truth)]))  # fmt: skip
            base = baseline(image, step, h)
            rows.append({**pq_row(case, "(none)", f"Otsu + distance watershed (h {h}, tuned)",
                                  [], float("nan"), [(base, truth)]),
                         "command": "Python: threshold_otsu, distance_watershed"})  # fmt: skip
    return rows


def composite(work: Path) -> list[dict[str, Any]]:
    rows = []
    args = ["demo", "-o", str(work / "demo.zarr")]
    start = time.perf_counter()
    out = subprocess.run(["stratoseg", *args], capture_output=True, text=True, check=True).stdout
    seconds = time.perf_counter() - start
    found = dict(re.findall(r"(matrix|fibre|pore) ([0-9.]+)", out))
    rows.append({"case": "synthetic composite, the demo (64 x 128 x 128, seed 0)",
                 "model": "composite-ct-3phase", "variant": "defaults (crop tiling, MAP)",
                 "command": shown(args), "seconds": seconds,
                 **{f"Jaccard {k}": float(v) for k, v in found.items()},
                 "mean Jaccard": float(np.mean([float(v) for v in found.values()]))})  # fmt: skip
    synth = ["synth", "composite", "-o", str(work / "c7.tif"), "--shape", "64", "192", "192",
             "--seed", "7"]  # fmt: skip
    stratoseg(*synth)
    args = ["segment", str(work / "c7.tif"), "-o", str(work / "c7.zarr"), "--model",
            "composite-ct-3phase"]  # fmt: skip
    seconds = stratoseg(*args)
    s = semantic_scores(labels_of(work / "c7.zarr"), tifffile.imread(work / "c7_gt.tif"),
                        n_classes=3)  # fmt: skip
    rows.append({"case": "synthetic composite, seed 7 (64 x 192 x 192)",
                 "model": "composite-ct-3phase", "variant": "defaults (crop tiling, MAP)",
                 "command": shown(args), "seconds": seconds,
                 **{f"Jaccard {k}": float(j) for k, j in zip(("matrix", "fibre", "pore"),
                                                            s.jaccard, strict=True)},
                 "mean Jaccard": float(s.mean_jaccard)})  # fmt: skip
    return rows


CASES = {"isbi": isbi, "fibsem": fibsem, "merge": merge, "dsb": dsb, "stack": stack,
         "composite": composite}  # fmt: skip


def _cell(value: Any) -> str:
    if isinstance(value, tuple):
        return f"{value[0]:.3f} ± {value[1]:.3f}"
    if isinstance(value, float):
        return "" if np.isnan(value) else f"{value:.3f}"
    return str(value)


def table(rows: list[dict[str, Any]]) -> list[str]:
    """One markdown table per case, the measures as columns, the command beside each row."""
    lines: list[str] = []
    for case in dict.fromkeys(r["case"] for r in rows):
        group = [r for r in rows if r["case"] == case]
        measures = [k for k in group[0] if k not in ("case", "model", "variant", "command",
                                                      "seconds", "images")]  # fmt: skip
        lines += ["", f"**{case}** ({group[0]['model']})", "",
                  "| variant | " + " | ".join(measures) + " | wall s | command |",
                  "|---|" + "---:|" * (len(measures) + 1) + "---|"]  # fmt: skip
        for r in group:
            cells = [_cell(r.get(m, "")) for m in measures]
            seconds = "" if np.isnan(r["seconds"]) else f"{r['seconds']:.0f}"
            lines.append(f"| {r['variant']} | " + " | ".join(cells)
                         + f" | {seconds} | `{r['command']}` |")  # fmt: skip
    return lines


def write(lines: list[str], *, key: str = KEY) -> None:
    """Replace the section between the ``key`` markers of ``docs/models.md``."""
    start, end = f"<!-- {key}:start -->", f"<!-- {key}:end -->"
    text = DOC.read_text()
    block = "\n".join([start, *lines, end])
    if start in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)


def main() -> int:
    from _report import machine

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(CASES), help="cases, comma-separated")
    parser.add_argument("--work", type=Path, help="keep the workspaces here")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit the docs")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"the data folder {DATA} is absent", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-models-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for name in args.only.split(","):
        found = CASES[name](work)
        rows += found
        print(json.dumps(found, default=str), flush=True)
    lines = [f"Measured by `python benchmarks/bench_models_cli.py` on {machine()}; each "
             "command run as a new process with the shipped package's defaults (wall times "
             "include start-up), scores by `stratoseg.metrics` (and scikit-image where "
             "named).", *table(rows)]  # fmt: skip
    print("\n".join(lines))
    if not args.no_write and args.only == ",".join(CASES):
        write(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
