"""Stratified patch sampling against a uniform grid: the error at window borders (issue 5).

Run: ``python benchmarks/bench_stratified.py`` (two to five minutes on 2 cores; no GPU needed).
It rewrites the "Stratified sampling" section of docs/benchmarks.md and draws
``docs/images/stratified-border.png``.

The comparison is the border-mask evaluation of Hammoumi et al. (2021, §6.4, Fig. 10 and
Table 3) on a 3-class segmentation: a real U-Net (the tiny 2-D network of the tests, trained
here for seconds on a synthetic composite) predicts 192 x 192 composite slices with windows of
32 x 32 laid

- on a uniform non-overlapping grid (eqs 11-12 with ``s' = W``: ``crop`` tiling, halo 0), and
- by stratified sampling, N = 1, 2, 4, 8 passes of windows whose origins are the grid of step
  ``s' = W / 2`` jittered by ``U(-s', s')`` (eq 13), averaged (eq 14);
- for reference, the ``crop`` and ``gaussian`` tilings with a halo of 8 voxels, and ``crop``
  with a halo of 24 voxels (at least the network's 23): one whole-image forward pass.

The error is the misclassification rate of the MAP labels against the ground truth, inside the
border area (voxels within 2 voxels of an edge between two windows of the uniform grid) and the
inside area (voxels at least 2 voxels from every window edge), as in the test
``tests/inference/test_stratified.py``, whose helpers this script imports (and
``tests/_tiny_model.py``'s training function): the tests folder is put on ``sys.path``, nothing
is copied.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
from _report import machine, timed, write_section
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "inference")]

from test_stratified import (  # noqa: E402
    BORDER,
    IMAGE_SEED,
    SHAPE,
    WINDOW,
    border_masks,
    composite_slice,
    load_predictor,
    mask_errors,
    predict_image,
)

from _tiny_model import train_tiny_model  # noqa: E402

FIGURE = ROOT / "docs" / "images" / "stratified-border.png"
IMAGE_SEEDS = (1, 2, 3, 4, 5, 6)
TRAINING_SEEDS = (0, 1, 2)  # 0: the tests' model
NOTE = " (the tests' model, above)"
#: (label, predict_image keyword arguments)
METHODS: list[tuple[str, dict[str, Any]]] = [
    ("uniform grid (`crop`, halo 0)", {"tiling": "crop"}),
    *[(f"stratified, N = {n}", {"tiling": "stratified", "passes": n}) for n in (1, 2, 4, 8)],
    ("`crop`, halo 8", {"tiling": "crop", "halo": 8}),
    ("`gaussian`, halo 8", {"tiling": "gaussian", "halo": 8}),
    ("`crop`, window 80, halo 24 (one whole-image pass)", {"window": 80, "halo": 24}),
]
#: The tiling that equals one forward pass over the whole (edge-extended) image.
REFERENCE = METHODS[-1][0]


class Counting:
    """A ``predict`` callable that counts the voxels it forwards."""

    def __init__(self, predictor: Any) -> None:
        self.predictor = predictor
        self.voxels = 0

    def __call__(self, tiles: np.ndarray) -> np.ndarray:
        self.voxels += int(tiles.shape[0] * np.prod(tiles.shape[2:]))
        return np.asarray(self.predictor(tiles))


def distance_to_edge(shape: tuple[int, ...], window: int = WINDOW) -> np.ndarray:
    """Voxels from each voxel to the nearest edge of its uniform-grid window (0 on the edge)."""
    r = np.arange(max(shape)) % window
    d = np.minimum(r, window - 1 - r)
    return np.minimum(d[: shape[0], None], d[None, : shape[1]])


def deviation(probs: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Total variation distance ``(1/2) sum_k |p_k - q_k|`` per voxel, in [0, 1]."""
    return np.asarray(0.5 * np.abs(probs - reference).sum(axis=0))


def measure(package: Path, methods: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Per method, over the images: mean errors (:func:`mask_errors`), voxels forwarded per
    voxel, the error and the deviation from the whole-image pass (when it is among the methods)
    by distance to a window edge; and the probabilities of the test's image (for the figure)."""
    predictor, card = load_predictor(package)
    border, inside = border_masks(SHAPE)
    dist = distance_to_edge(SHAPE)
    core = np.zeros(SHAPE, bool)
    core[BORDER:-BORDER, BORDER:-BORDER] = True  # the image's own edge left out, as for masks
    bins = WINDOW // 2
    per_bin = np.bincount(dist[core], minlength=bins) * len(IMAGE_SEEDS)
    counters = {label: Counting(predictor) for label, _ in methods}
    errors: dict[str, list[dict[str, float]]] = {label: [] for label, _ in methods}
    wrong_at = {label: np.zeros(bins) for label, _ in methods}
    apart_at = {label: np.zeros(bins) for label, _ in methods}
    seconds = dict.fromkeys(counters, 0.0)
    probs_of_test_image: dict[str, np.ndarray] = {}
    for seed in IMAGE_SEEDS:
        image, truth = composite_slice(seed=seed)
        probs = {}
        for label, kwargs in methods:
            t, probs[label] = timed(
                lambda label=label, kwargs=kwargs, image=image: predict_image(
                    counters[label], card, image, **kwargs
                )
            )
            seconds[label] += t
        for label, p in probs.items():
            e = mask_errors(p, truth, border, inside)
            wrong = (np.argmax(p, axis=0) != truth) & core
            wrong_at[label] += np.bincount(dist[wrong], minlength=bins)
            if REFERENCE in probs:
                apart = deviation(p, probs[REFERENCE])
                e["border_apart"] = float(apart[border].mean())
                e["inside_apart"] = float(apart[inside].mean())
                apart_at[label] += np.bincount(dist[core], weights=apart[core], minlength=bins)
            errors[label].append(e)
        if seed == IMAGE_SEED:
            probs_of_test_image = probs
    rows = {}
    for label, es in errors.items():
        row = {k: float(np.mean([e[k] for e in es])) for k in es[0]}
        row["forwarded"] = counters[label].voxels / (len(IMAGE_SEEDS) * np.prod(SHAPE))
        row["seconds"] = seconds[label] / len(IMAGE_SEEDS)
        rows[label] = row
    return {
        "rows": rows,
        "wrong_at": {k: v / per_bin for k, v in wrong_at.items()},
        "apart_at": {k: v / per_bin for k, v in apart_at.items()},
        "probs": probs_of_test_image,
    }


# ---------------------------------------------------------------------------------------- figure

SCALE = 2
PAD, TITLE = 12, 22
CLASS_RGB = np.array([[60, 60, 60], [240, 200, 40], [40, 120, 240]], np.uint8)


def font(size: int = 15) -> Any:
    return ImageFont.load_default(size=size)


def upscale(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray(rgb).resize(
        (rgb.shape[1] * SCALE, rgb.shape[0] * SCALE), Image.Resampling.NEAREST
    )


def error_map(probs: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """White where the network is sure of the true class, darker as ``p(true class)`` drops,
    red where the MAP label is wrong."""
    p_true = np.take_along_axis(probs, truth[None].astype(np.intp), axis=0)[0]
    level = (255 * np.clip(p_true, 0, 1)).astype(np.uint8)
    rgb = np.repeat(level[..., None], 3, axis=2)
    rgb[np.argmax(probs, axis=0) != truth] = (220, 30, 30)
    return rgb


def apart_map(probs: np.ndarray, reference: np.ndarray, full: float = 0.25) -> np.ndarray:
    """White where the probabilities equal the whole-image pass's, black at a total variation
    distance of ``full`` or more."""
    level = 255 * (1 - np.clip(deviation(probs, reference) / full, 0, 1))
    return np.repeat(level.astype(np.uint8)[..., None], 3, axis=2)


def draw_grid(draw: ImageDraw.ImageDraw, x0: int, y0: int, shape: tuple[int, ...]) -> None:
    """The uniform grid's window edges: ticks outside the panel, dotted lines over it."""
    colour = (0, 150, 190)
    for k in range(WINDOW, shape[0], WINDOW):
        edge = k * SCALE - 0.5  # between voxels k - 1 and k
        for along in range(0, shape[1] * SCALE, 5):
            draw.point((x0 + along, y0 + edge), fill=colour)
            draw.point((x0 + edge, y0 + along), fill=colour)
        draw.line([(x0 + edge, y0 - 7), (x0 + edge, y0 - 1)], fill=colour, width=2)
        draw.line([(x0 - 7, y0 + edge), (x0 - 1, y0 + edge)], fill=colour, width=2)


def chart(
    curves: dict[str, np.ndarray], size: tuple[int, int], top_value: float, ticks: list[float],
    percent: bool,
) -> Image.Image:  # fmt: skip
    """Curves against the distance to the nearest uniform-grid window edge."""
    w, h = size
    sheet = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(sheet)
    left, right, top, bottom = 52, 12, 12, 46
    n = len(next(iter(curves.values())))

    def xy(i: float, v: float) -> tuple[float, float]:
        v = min(max(v, 0.0), top_value)
        return (
            left + i / (n - 1) * (w - left - right),
            top + (1 - v / top_value) * (h - top - bottom),
        )

    for v in ticks:
        y = xy(0, v)[1]
        draw.line([(left, y), (w - right, y)], fill=(225, 225, 225))
        text = f"{100 * v:.0f} %" if percent else f"{v:.2f}"
        draw.text((left - 6, y), text, fill="black", anchor="rm", font=font(13))
    for i in range(0, n, 3):
        x = xy(i, 0)[0]
        draw.text((x, h - bottom + 6), str(i), fill="black", anchor="mt", font=font(13))
    draw.text(
        ((left + w - right) / 2, h - 20),
        "voxels from the nearest window edge",
        fill="black",
        anchor="mt",
        font=font(13),
    )
    draw.rectangle([left, top, w - right, h - bottom], outline="black")
    colours = [(220, 30, 30), (0, 110, 200), (120, 120, 120)]
    for k, ((name, values), colour) in enumerate(zip(curves.items(), colours, strict=False)):
        draw.line([xy(i, float(v)) for i, v in enumerate(values)], fill=colour, width=3)
        draw.text((w - right - 10, top + 8 + 18 * k), name, fill=colour, anchor="ra", font=font(14))
    return sheet


def figure(result: dict[str, Any], uniform: str, stratified: str) -> None:
    image, truth = composite_slice()
    border, inside = border_masks(SHAPE)
    masks = np.full((*SHAPE, 3), 255, np.uint8)
    masks[border] = (240, 150, 40)
    masks[inside] = (200, 225, 245)
    side = SHAPE[0] * SCALE
    probs, reference = result["probs"], result["probs"][REFERENCE]
    names = {uniform: "uniform grid", stratified: "stratified, N = 4", REFERENCE: "whole pass"}

    def curves(key: str, labels: list[str]) -> dict[str, np.ndarray]:
        # up to 12 voxels: beyond, few voxels per distance (the window centres) and noisy
        return {names[label]: result[key][label][:13] for label in labels}

    panels: list[tuple[str, Image.Image, bool]] = [
        ("composite slice (seed 3)", upscale(np.repeat(image[..., None], 3, axis=2)), False),
        ("ground truth: matrix, fibre, pore", upscale(CLASS_RGB[truth]), False),
        ("border area (orange), inside area (blue)", upscale(masks), True),
        ("uniform grid: p(true class); red: wrong", upscale(error_map(probs[uniform], truth)),
         True),
        ("stratified, N = 4 (eqs 13-14): the same", upscale(error_map(probs[stratified], truth)),
         True),
        ("wrong labels, mean of the 6 slices", chart(
            curves("wrong_at", [uniform, stratified, REFERENCE]), (side, side), 0.08,
            [0, 0.02, 0.04, 0.06, 0.08], True), False),
        ("uniform grid: distance from the whole pass", upscale(apart_map(probs[uniform],
         reference)), True),
        ("stratified, N = 4: the same", upscale(apart_map(probs[stratified], reference)), True),
        ("distance from the whole pass, mean", chart(
            curves("apart_at", [uniform, stratified]), (side, side), 0.08,
            [0, 0.02, 0.04, 0.06, 0.08], False), False),
    ]  # fmt: skip
    cols = 3
    rows = -(-len(panels) // cols)
    sheet = Image.new(
        "RGB", (cols * (side + PAD) + PAD, rows * (side + TITLE + PAD) + PAD), "white"
    )
    draw = ImageDraw.Draw(sheet)
    for k, (name, panel, grid) in enumerate(panels):
        x = PAD + (k % cols) * (side + PAD)
        y = PAD + (k // cols) * (side + TITLE + PAD)
        draw.text((x, y), name, fill="black", font=font())
        sheet.paste(panel, (x, y + TITLE))
        if grid:
            draw_grid(draw, x, y + TITLE, SHAPE)
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(FIGURE)
    print(f"wrote {FIGURE}")


# ---------------------------------------------------------------------------------------- report


def pct(v: float) -> str:
    return f"{100 * v:.2f}"


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        packages = {}
        train_seconds = {}
        for seed in TRAINING_SEEDS:
            t, packages[seed] = timed(
                lambda seed=seed: train_tiny_model(Path(tmp) / f"tiny-{seed}.zip", seed=seed)
            )
            train_seconds[seed] = t
        main_result = measure(packages[0], METHODS)
        others = {
            seed: measure(packages[seed], METHODS[:1] + METHODS[3:4])["rows"]
            for seed in TRAINING_SEEDS[1:]
        }
    uniform, stratified4 = METHODS[0][0], METHODS[3][0]
    figure(main_result, uniform, stratified4)
    rows = main_result["rows"]
    table = [
        "| tiling | border area, % wrong | inside area, % wrong | border / inside | whole "
        "image, % wrong | border area, distance from the whole pass | voxels forwarded per "
        "voxel |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, _ in METHODS:
        r = rows[label]
        table.append(
            f"| {label} | {pct(r['border'])} | {pct(r['inside'])} | "
            f"{r['border'] / r['inside']:.2f} | {pct(r['all'])} | {r['border_apart']:.3f} | "
            f"{r['forwarded']:.1f} |"
        )
    seeds = [
        "| training seed | uniform grid: border / inside / whole image, % wrong | stratified "
        "N = 4: border / inside / whole image, % wrong |",
        "|---|---:|---:|",
    ]
    verdicts = []
    for seed in TRAINING_SEEDS:
        r = rows if seed == 0 else others[seed]
        u, s = r[uniform], r[stratified4]
        seeds.append(
            f"| {seed}{NOTE if seed == 0 else ''} | "
            f"{pct(u['border'])} / {pct(u['inside'])} / {pct(u['all'])} | "
            f"{pct(s['border'])} / {pct(s['inside'])} / {pct(s['all'])} |"
        )
        if seed:
            verdicts.append(
                f"seed {seed}: the uniform grid's border area is "
                f"{'worse' if u['border'] > u['inside'] else 'no worse'} than its inside, and "
                f"stratified sampling {'lowers' if s['border'] < u['border'] else 'raises'} the "
                f"border error ({pct(u['border'])} to {pct(s['border'])} %) and "
                f"{'lowers' if s['all'] < u['all'] else 'raises'} the whole image's"
            )
    u, s = rows[uniform], rows[stratified4]
    crop8, whole = rows[METHODS[5][0]], rows[REFERENCE]
    write_section(
        "stratified",
        [
            "## Stratified sampling: error at window borders (`benchmarks/bench_stratified.py`)",
            "",
            f"Machine: {machine()}. Issue 5's acceptance; the border-mask comparison of "
            "Hammoumi et al. (2021), Fig. 10 and Table 3, on a 3-class segmentation.",
            "",
            f"The tiny 2-D U-Net of the tests (depth 2, 8 filters, receptive field 44, halo 23; "
            f"{train_seconds[0]:.0f} s of training on a synthetic composite) segments "
            f"{len(IMAGE_SEEDS)} synthetic composite slices of {SHAPE[0]} x {SHAPE[1]} (seeds "
            f"{', '.join(map(str, IMAGE_SEEDS))}; the test uses seed {IMAGE_SEED}) with windows "
            f"of {WINDOW} x {WINDOW}, each slice as one block. Error: the fraction of voxels "
            "whose MAP label differs from the ground truth, in the *border area* (voxels within "
            f"{BORDER} voxels of an edge between two windows of the uniform grid; "
            f"{100 * border_masks(SHAPE)[0].mean():.0f} % of the slice) and the *inside area* "
            f"(at least {BORDER} voxels from every window edge); mean over the slices. "
            "Stratified: grid step s' = W / 2 = 16, origins jittered by U(-s', s') (eq 13), "
            "passes averaged (eq 14), stratified seed 0. *Distance from the whole pass*: the "
            "total variation distance (1/2) sum_k |p_k - q_k| between the tiling's class "
            "probabilities p and those of one forward pass over the whole image q (the last "
            "row), which isolates what the tiling itself adds.",
            "",
            "![A composite slice, its ground truth, the border and inside masks; the error maps "
            "of the uniform grid and of stratified sampling (N = 4) with the error rate against "
            "the distance to a window edge; their distance from the whole-image pass, "
            "likewise](images/stratified-border.png)",
            "",
            *table,
            "",
            f"With the uniform grid the error is concentrated on the window borders "
            f"({pct(u['border'])} % against {pct(u['inside'])} % inside, and a distance from "
            f"the whole pass of {u['border_apart']:.3f} against {u['inside_apart']:.3f}); with "
            f"N = 4 stratified passes the border area's error drops to {pct(s['border'])} % "
            f"({s['border'] / u['border']:.2f} x) and is level with the inside's "
            f"({pct(s['inside'])} %); the whole image's error goes from {pct(u['all'])} to "
            f"{pct(s['all'])} %. The seams are gone, at {s['forwarded']:.0f} times the forward "
            f"work. The `crop` tiling with a halo of 8 gets there too ({pct(crop8['border'])} / "
            f"{pct(crop8['inside'])} %) for {crop8['forwarded']:.0f} times the work, as close to "
            f"the whole-image pass ({pct(whole['all'])} %) as anything measured here. In the "
            f"figure (slice {IMAGE_SEED}) dotted lines mark the uniform grid's window edges; "
            "the curves stop at 12 voxels from an edge, beyond which few voxels remain per "
            "distance (the window centres).",
            "",
            "How much a network suffers at window borders depends on the network. Two more "
            "tiny models, trained the same way with other seeds, on the same six slices:",
            "",
            *seeds,
            "",
            "; ".join(verdicts).capitalize() + ". Stratified sampling removes a border "
            "effect where the network has one; the test pins the tests' model (training seed "
            "0), which has one.",
        ],
    )


if __name__ == "__main__":
    main()
