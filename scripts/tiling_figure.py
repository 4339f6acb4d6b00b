"""Draw the pictures of docs/inference.md: the block plan and the three tilings of a block.

- ``docs/images/block-plan.png``: a composite slice cut into storage chunks, the chunks grouped
  into blocks, and the input region (block + halo) of two blocks, one at the volume's corner
  where the region is edge-extended.
- ``docs/images/tilings.png``: the windows that ``plan_block`` gives one block for ``crop``,
  ``gaussian`` and ``stratified`` (eq 13), the Gaussian weights, the stratified coverage (the
  per-voxel divisor of eq 14) and eq 13's draws along one axis.

Run: python scripts/tiling_figure.py  (needs only the package; the windows are the real ones)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from stratoseg.inference import Axis, gaussian_weights, plan_block
from stratoseg.synthetic import make_composite

IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
PAD, TITLE = 12, 24

# the block of the tiling pictures and the part of the volume around it that is drawn
BLOCK = (slice(96, 192), slice(96, 192))
VIEW = (48, 240)  # voxels, both axes
WINDOW, HALO, DIVISOR = 48, 8, 8
STEP = WINDOW // 2  # the stratified grid step s'
SCALE = 2  # pixels per voxel
SEED = 3


def font(size: int = 15) -> Any:
    return ImageFont.load_default(size=size)


def palette(n: int, seed: int = 1) -> list[tuple[int, int, int]]:
    """``n`` distinct saturated colours."""
    rng = np.random.default_rng(seed)
    hues = (np.arange(n) / max(n, 1) + rng.uniform(0, 1)) % 1.0
    rng.shuffle(hues)
    out = []
    for h in hues:
        k = np.array([5.0, 3.0, 1.0])
        rgb = 1 - 0.75 * np.clip(np.minimum(4 - (k + 6 * h) % 6, (k + 6 * h) % 6), 0, 1)
        out.append(tuple(int(200 * (1 - c)) + 20 for c in rgb))
    return out


def px(v: float) -> float:
    """Voxel coordinate (in the view) to pixels."""
    return (v - VIEW[0]) * SCALE


def rect(y0: float, x0: float, y1: float, x1: float) -> list[float]:
    """Pixel box of the voxels [y0, y1) x [x0, x1)."""
    return [px(x0), px(y0), px(x1) - 1, px(y1) - 1]


def canvas() -> tuple[Image.Image, ImageDraw.ImageDraw]:
    side = (VIEW[1] - VIEW[0]) * SCALE
    img = Image.new("RGB", (side, side), "white")  # RGB drawn in RGBA mode: fills blend
    draw = ImageDraw.Draw(img, "RGBA")
    y, x = BLOCK
    draw.rectangle(rect(y.start, x.start, y.stop, x.stop), fill=(232, 232, 232, 255))
    return img, draw


def outline_block(draw: ImageDraw.ImageDraw) -> None:
    y, x = BLOCK
    draw.rectangle(rect(y.start, x.start, y.stop, x.stop), outline=(0, 0, 0, 255), width=3)


def crop_panel() -> Image.Image:
    img, draw = canvas()
    axes = [Axis(WINDOW, HALO, DIVISOR)] * 2
    windows = plan_block(BLOCK, axes, "crop")
    colours = palette(len(windows))
    for w, c in zip(windows, colours, strict=True):
        assert w.keep is not None
        ky, kx = w.keep
        draw.rectangle(rect(ky.start, kx.start, ky.stop, kx.stop), fill=(*c, 110))
    for w, c in zip(windows, colours, strict=True):
        oy, ox = w.origin
        box = rect(oy, ox, oy + WINDOW, ox + WINDOW)
        draw.rectangle(box, outline=(*c, 255), width=2)
    outline_block(draw)
    # one window's halo, annotated
    oy, ox = windows[0].origin
    draw.text((px(ox) + 3, px(oy) - 16), "window 0", fill="black", font=font(12))
    return img


def gaussian_sum_panel() -> Image.Image:
    img, draw = canvas()
    axes = [Axis(WINDOW, HALO, DIVISOR)] * 2
    weight = gaussian_weights(axes)
    total = np.zeros((VIEW[1] - VIEW[0],) * 2, np.float32)
    windows = plan_block(BLOCK, axes, "gaussian")
    for w in windows:
        oy, ox = (o - VIEW[0] for o in w.origin)
        total[oy : oy + WINDOW, ox : ox + WINDOW] += weight
    shade = (255 * (1 - np.clip(total / total.max(), 0, 1) * 0.85)).astype(np.uint8)
    rgb = np.stack([shade, shade, np.full_like(shade, 255)], axis=-1)
    img.paste(Image.fromarray(rgb).resize(img.size, Image.Resampling.NEAREST), (0, 0))
    draw = ImageDraw.Draw(img, "RGBA")
    for w, c in zip(windows, palette(len(windows)), strict=True):
        oy, ox = w.origin
        draw.rectangle(rect(oy, ox, oy + WINDOW, ox + WINDOW), outline=(*c, 200), width=1)
    outline_block(draw)
    return img


def gaussian_weight_panel() -> Image.Image:
    axes = [Axis(WINDOW, HALO, DIVISOR)] * 2
    weight = gaussian_weights(axes)
    side = (VIEW[1] - VIEW[0]) * SCALE
    shade = (255 * (1 - weight * 0.85)).astype(np.uint8)
    rgb = np.stack([shade, shade, np.full_like(shade, 255)], axis=-1)
    tile = Image.fromarray(rgb).resize((WINDOW * 4, WINDOW * 4), Image.Resampling.NEAREST)
    img = Image.new("RGB", (side, side), "white")
    top = (side - tile.size[1]) // 2 - 30
    left = (side - tile.size[0]) // 2
    img.paste(tile, (left, top))
    draw = ImageDraw.Draw(img, "RGBA")
    draw.rectangle(
        [left, top, left + tile.size[0] - 1, top + tile.size[1] - 1], outline="black", width=1
    )
    # the profile through the middle
    prof = weight[WINDOW // 2]
    base = top + tile.size[1] + 70
    pts = [(left + (i + 0.5) * 4, base - 50 * v) for i, v in enumerate(prof)]
    draw.line([(left, base), (left + tile.size[0], base)], fill=(150, 150, 150), width=1)
    draw.line(pts, fill=(40, 60, 200), width=3)
    draw.text((left, base + 6), "0", fill="black", font=font(12))
    draw.text(
        (left + tile.size[0], base + 6), str(WINDOW), fill="black", anchor="ra", font=font(12)
    )
    draw.text(
        (side // 2, base + 24),
        f"sigma = W / 8 = {WINDOW / 8:g} voxels, floor 1e-3",
        fill="black",
        anchor="mt",
        font=font(13),
    )
    return img


def stratified_windows(passes: int) -> list[Any]:
    axes = [Axis(WINDOW, HALO, DIVISOR)] * 2
    return plan_block(BLOCK, axes, "stratified", passes=passes, step=[STEP] * 2, seed=SEED)


def stratified_pass_panel() -> Image.Image:
    img, draw = canvas()
    windows = stratified_windows(1)
    for w, c in zip(windows, palette(len(windows), seed=4), strict=True):
        oy, ox = w.origin
        draw.rectangle(rect(oy, ox, oy + WINDOW, ox + WINDOW), outline=(*c, 170), width=1)
    for w in windows:
        oy, ox = w.origin
        draw.ellipse([px(ox) - 3, px(oy) - 3, px(ox) + 3, px(oy) + 3], fill=(200, 30, 30, 255))
    outline_block(draw)
    return img


def coverage_panel(passes: int) -> Image.Image:
    img, draw = canvas()
    count = np.zeros((VIEW[1] - VIEW[0],) * 2, np.int32)
    for w in stratified_windows(passes):
        oy, ox = (o - VIEW[0] for o in w.origin)
        count[max(oy, 0) : oy + WINDOW, max(ox, 0) : ox + WINDOW] += 1
    y, x = BLOCK
    inside = count[y.start - VIEW[0] : y.stop - VIEW[0], x.start - VIEW[0] : x.stop - VIEW[0]]
    lo, hi = int(inside.min()), int(inside.max())
    level = np.clip(count / hi, 0, 1)
    rgb = np.stack([255 - 120 * level, 255 - 200 * level, 255 - 60 * level], axis=-1).astype(
        np.uint8
    )
    img.paste(Image.fromarray(rgb).resize(img.size, Image.Resampling.NEAREST), (0, 0))
    draw = ImageDraw.Draw(img, "RGBA")
    outline_block(draw)
    draw.rectangle([0, px(y.stop) + 60, img.size[0], px(y.stop) + 80], fill=(255, 255, 255, 255))
    draw.text(
        (px(x.start) - 40, px(y.stop) + 62),
        f"windows per voxel in the block: {lo} to {hi}",
        fill="black",
        font=font(13),
    )
    return img


def eq13_panel() -> Image.Image:
    """One axis: grid points (k + 1/2) s' from the start of the block's reach, the interval
    [-s', s'] of each draw, and the windows ``plan_block`` draws in 4 passes."""
    side = (VIEW[1] - VIEW[0]) * SCALE
    img = Image.new("RGB", (side, side), "white")
    draw = ImageDraw.Draw(img, "RGBA")
    y, _ = BLOCK
    lo, hi = y.start, y.stop
    base = lo - WINDOW
    draw.rectangle([px(lo), 20, px(hi) - 1, side - 40], fill=(232, 232, 232, 255))
    draw.text((px(lo) + 4, 24), "block", fill="black", font=font(12))
    row = 60
    for k in range(int(np.ceil((hi - base) / STEP)) + 2):
        centre = base + (k + 0.5) * STEP
        if not VIEW[0] <= centre <= VIEW[1]:
            continue
        yk = row + 14 * (k % 2)
        draw.line([(px(centre - STEP), yk), (px(centre + STEP), yk)], fill=(120, 120, 120, 255))
        draw.line([(px(centre), yk - 5), (px(centre), yk + 5)], fill="black", width=2)
    draw.text((8, row + 26), "ticks: (k + 1/2) s'; lines: the", font=font(13), fill="black")
    draw.text((8, row + 42), "draw's range U(-s', s'), s' = W / 2", font=font(13), fill="black")
    colours = [(200, 30, 30), (30, 120, 200), (40, 150, 60), (200, 120, 20)]
    axis = Axis(WINDOW, HALO, DIVISOR)
    for p, c in enumerate(colours):
        y0 = row + 100 + 50 * p
        windows = plan_block([y], [axis], "stratified", passes=1, step=[STEP], seed=SEED + p)
        for i, w in enumerate(windows):
            o = w.origin[0]
            yy = y0 + 7 * (i % 3)
            x0, x1 = max(px(o), 0), min(px(o + WINDOW), side - 1)
            draw.line([(x0, yy), (x1, yy)], fill=(*c, 150), width=3)
            draw.ellipse([px(o) - 3, yy - 3, px(o) + 3, yy + 3], fill=(*c, 255))
        draw.text((6, y0 - 20), f"pass {p + 1}", fill=(*c, 255), font=font(12))
    draw.text(
        (side // 2, side - 30),
        "the windows of 4 passes (dots: origins)",
        fill="black",
        anchor="mt",
        font=font(13),
    )
    return img


def sheet(panels: list[tuple[str, Image.Image]], cols: int) -> Image.Image:
    w, h = panels[0][1].size
    rows = -(-len(panels) // cols)
    out = Image.new("RGB", (cols * (w + PAD) + PAD, rows * (h + TITLE + PAD) + PAD), "white")
    draw = ImageDraw.Draw(out)
    for k, (name, panel) in enumerate(panels):
        x = PAD + (k % cols) * (w + PAD)
        y = PAD + (k // cols) * (h + TITLE + PAD)
        draw.text((x, y), name, fill="black", font=font())
        out.paste(panel.convert("RGB"), (x, y + TITLE))
        draw.rectangle([x - 1, y + TITLE - 1, x + w, y + TITLE + h], outline=(190, 190, 190))
    return out


def tilings() -> None:
    stride = WINDOW - 2 * HALO
    panels = [
        (f"crop: window {WINDOW}, halo {HALO}, keeps {stride}", crop_panel()),
        ("gaussian: the same windows, sum of weights", gaussian_sum_panel()),
        ("gaussian: the weight of one window", gaussian_weight_panel()),
        (f"stratified, one pass (eq 13), s' = {STEP}", stratified_pass_panel()),
        ("stratified, N = 4: coverage (eq 14)", coverage_panel(4)),
        ("eq 13 along one axis", eq13_panel()),
    ]
    out = sheet(panels, 3)
    out.save(IMAGES / "tilings.png")
    print(f"wrote {IMAGES / 'tilings.png'}")


def block_plan() -> None:
    """A 320 x 448 slice, 64-voxel chunks, blocks of 2 x 3 chunks, two input regions."""
    shape, chunk, block, halo = (320, 448), 64, (128, 192), 24
    margin = 40
    image = np.asarray(make_composite(shape, seed=1).image)
    extended = np.pad(image, margin, mode="edge").astype(np.float32)
    inside = np.zeros(extended.shape, bool)
    inside[margin:-margin, margin:-margin] = True
    grey = 150 + 0.4 * (extended - 128)
    rgb = np.stack([grey] * 3, axis=-1)
    rgb[~inside] = 0.55 * rgb[~inside] + 0.45 * np.array([255, 200, 150])  # edge-extended
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8))
    scale = 2
    img = img.resize((img.size[0] * scale, img.size[1] * scale), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(img, "RGBA")

    def box(y0: int, x0: int, y1: int, x1: int) -> list[int]:
        return [(x0 + margin) * scale, (y0 + margin) * scale, (x1 + margin) * scale - 1,
                (y1 + margin) * scale - 1]  # fmt: skip

    for y in range(0, shape[0] + 1, chunk):
        draw.line(box(y, 0, y, shape[1])[:2] + box(y, shape[1], y, shape[1])[:2],
                  fill=(255, 255, 255, 150), width=1)  # fmt: skip
    for x in range(0, shape[1] + 1, chunk):
        draw.line(box(0, x, 0, x)[:2] + box(shape[0], x, shape[0], x)[:2],
                  fill=(255, 255, 255, 150), width=1)  # fmt: skip
    for y in range(0, shape[0], block[0]):
        for x in range(0, shape[1], block[1]):
            b = box(y, x, min(y + block[0], shape[0]), min(x + block[1], shape[1]))
            draw.rectangle(b, outline=(255, 230, 40, 255), width=3)
    for (y, x), colour in (((128, 192), (60, 200, 255)), ((0, 0), (255, 70, 70))):
        b = box(y, x, min(y + block[0], shape[0]), min(x + block[1], shape[1]))
        draw.rectangle(b, fill=(*colour, 60), outline=(*colour, 255), width=3)
        r = box(y - halo, x - halo, min(y + block[0], shape[0]) + halo,
                min(x + block[1], shape[1]) + halo)  # fmt: skip
        dashed_rect(draw, r, (*colour, 255))
    w, h = img.size
    legend_h = 64
    out = Image.new("RGB", (w + 2 * PAD, h + legend_h + 2 * PAD), "white")
    out.paste(img.convert("RGB"), (PAD, PAD))
    d = ImageDraw.Draw(out)
    lines = [
        ((255, 255, 255), "thin lines: storage chunks (64 x 64); yellow: blocks of 2 x 3 chunks"),
        ((60, 200, 255), "a block (filled) and its input region, block + halo (dashed)"),
        ((255, 70, 70), "a block at the corner: its input region is edge-extended (orange tint)"),
    ]
    for k, (c, text) in enumerate(lines):
        y = h + PAD + 8 + 19 * k
        d.rectangle([PAD, y + 2, PAD + 14, y + 14], fill=c, outline=(120, 120, 120))
        d.text((PAD + 22, y), text, fill="black", font=font(14))
    out.save(IMAGES / "block-plan.png")
    print(f"wrote {IMAGES / 'block-plan.png'}")


def dashed_rect(draw: ImageDraw.ImageDraw, box: list[int], colour: tuple[int, ...]) -> None:
    x0, y0, x1, y1 = box
    dash = 10
    for x in range(x0, x1, 2 * dash):
        for y in (y0, y1):
            draw.line([(x, y), (min(x + dash, x1), y)], fill=colour, width=3)
    for y in range(y0, y1, 2 * dash):
        for x in (x0, x1):
            draw.line([(x, y), (x, min(y + dash, y1))], fill=colour, width=3)


def main() -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    block_plan()
    tilings()


if __name__ == "__main__":
    main()
