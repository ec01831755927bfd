"""A pretraining detection set: glyphs 0-9 and A-Z on procedural backgrounds, in Roboflow's COCO layout.

`make_glyph_dataset(out_dir)` writes train/ and valid/ like synth/demo.py: category 0 is the placeholder
"glyphs" (supercategory "none", no boxes), then the 36 classes "0".."9", "A".."Z" (ids 1..36). Nothing is
shared with the photo-objects benchmark: no photos (demo.make_background's textures, fractal noise or tiles,
25% crossed by thin lines) and no shape classes. Glyphs: Hershey fonts (simplex, plain, duplex, complex,
triplex; 30% italic), height 4-30% of the long side (log-uniform), stroke 6-16% of it, rotation +-30 deg,
colour contrasting with what lies under it, 20% outlined, 25% on a plate, 15% shadowed; 1-12 per image.
Clutter (long strokes, symbols #%&@?*+=<>) lies under and over them. Boxes are visible extents
(photo_layers.compose); a glyph under 75% visible is not drawn. Camera: blur, noise, JPEG quality 70-95.
Deterministic per (seed, split, index): worker processes change only the speed.
"""
from __future__ import annotations

import cv2
import numpy as np

from .boxes import overlap
from .demo import make_background
from .photo_layers import camera, compose
from .writer import ANN_NAME, Sample, SynthSet, write_dataset  # noqa: F401 (ANN_NAME: for callers)

DATASET_NAME = "glyphs"
CLASSES = tuple("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
SPLITS = ("train", "valid")
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX,
         cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX)
SYMBOLS = "#%&@?*+=<>"  # non-class glyph-like clutter
SS = 2  # supersampling of glyph and stroke drawing
MIN_VISIBLE = 0.75  # a glyph needs this share of its pixels visible to stay readable
_MAX_OVERLAP = 0.3


# ---------------------------------------------------------------------------------------------- backgrounds
def background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(h, w, 3) float32 BGR: demo texture (45%), multi-scale noise (30%) or tiles (25%); 25% crossed by lines."""
    kind = rng.choice(3, p=[0.45, 0.3, 0.25])
    if kind == 0:
        img = make_background(rng, h, w).astype(np.float32)
    else:
        base = rng.uniform(40, 215, 3).astype(np.float32)
        if kind == 1:  # fractal noise: octaves of upsampled random grids, amplitude halving per octave
            img = np.broadcast_to(base, (h, w, 3)).copy()
            amp, tint = rng.uniform(30, 70), rng.uniform(0.3, 1.0, 3).astype(np.float32)
            for octave in range(4):
                cells = 3 * 2 ** octave
                grid = rng.uniform(-1, 1, (max(cells * h // max(h, w), 2), max(cells * w // max(h, w), 2), 1))
                img += cv2.resize(grid.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)[..., None] \
                    * tint * np.float32(amp * 0.5 ** octave)
        else:  # checker, grid or brick tiles at a random angle and period
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            ang, p, f = rng.uniform(0, np.pi), rng.uniform(10, 48), rng.uniform(0.08, 0.25)
            u, v = (xx * np.cos(ang) + yy * np.sin(ang)) / p, (yy * np.cos(ang) - xx * np.sin(ang)) / p
            pattern = int(rng.integers(3))
            if pattern == 0:
                t = (np.floor(u) + np.floor(v)) % 2
            elif pattern == 1:
                t = ((u % 1) < f) | ((v % 1) < f)
            else:
                t = ((v % 1) < f) | (((u + 0.5 * np.floor(v)) % 1) < f)
            other = np.clip(base + rng.uniform(-60, 60, 3), 0, 255).astype(np.float32)
            img = cv2.GaussianBlur(base + t.astype(np.float32)[..., None] * (other - base), (0, 0), 0.7)
        amp = int(rng.integers(3, 12))
        img += rng.integers(-amp, amp + 1, size=(h, w, 3), dtype=np.int16)
    if rng.random() < 0.25:
        for _ in range(int(rng.integers(5, 30))):
            p0, p1 = rng.uniform(-0.2, 1.2, (2, 2)) * (w, h)
            cv2.line(img, tuple(int(c) for c in p0), tuple(int(c) for c in p1), rng.uniform(0, 255, 3).tolist(),
                     int(rng.integers(1, 3)), cv2.LINE_AA)
    return np.clip(img, 0, 255)


def contrast_colour(rng: np.random.Generator, mean) -> np.ndarray:
    """A random BGR float32 colour whose luma differs by >= 80 from `mean`'s (a BGR colour)."""
    luma = np.float32([0.114, 0.587, 0.299])
    for _ in range(30):
        c = rng.uniform(0, 255, 3).astype(np.float32)
        if abs(float((c - mean) @ luma)) >= 80:
            return c
    return np.float32([0, 0, 0] if float(np.asarray(mean) @ luma) > 128 else [255, 255, 255])


# ---------------------------------------------------------------------------------------------- drawing
def _warp_down(canvas: np.ndarray, angle: float, aspect: float) -> np.ndarray:
    """Rotate (degrees, about the centre) and x-stretch an SS-scale uint8 canvas; alpha float32 at 1x,
    cropped to its ink plus a 1 px margin."""
    s = canvas.shape[0]
    m = cv2.getRotationMatrix2D((s / 2, s / 2), angle, 1.0)
    m[:, :2] = m[:, :2] @ np.diag([aspect, 1.0])
    m[:, 2] += (s / 2) - m[:, :2] @ [s / 2, s / 2]
    big = cv2.warpAffine(canvas, m, (s, s), flags=cv2.INTER_LINEAR)
    a = cv2.resize(big, (s // SS, s // SS), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    x, y, bw, bh = cv2.boundingRect((a > 0.02).astype(np.uint8))
    return np.pad(a[y:y + bh, x:x + bw], 1)


def glyph_alpha(ch: str, font: int, height: float, stroke: float, angle: float = 0.0,
                aspect: float = 1.0) -> np.ndarray:
    """Anti-aliased alpha (sh, sw) float32 in [0, 1] of one Hershey glyph about `height` px tall with
    `stroke` px lines, rotated by `angle` degrees; cropped to its ink (+1 px margin)."""
    th = cv2.getTextSize(ch, font, 1.0, 1)[0][1]
    scale, thick = SS * height / th, max(int(round(SS * stroke)), 1)
    (tw, th), base = cv2.getTextSize(ch, font, scale, thick)
    s = int(np.ceil(1.5 * max(tw * aspect, th + base) + 2 * thick)) + 4
    s += (-s) % SS
    canvas = np.zeros((s, s), np.uint8)
    cv2.putText(canvas, ch, ((s - tw) // 2, (s + th) // 2), font, scale, 255, thick, cv2.LINE_8)
    return _warp_down(canvas, angle, aspect)


def _layer(label, x0, y0, alpha, bgr, shadow=0.0, shift=(0, 0)) -> dict:
    """A photo_layers layer; bgr is a colour (3,) or a per-pixel (sh, sw, 3) array."""
    bgr = np.broadcast_to(np.asarray(bgr, np.float32), alpha.shape + (3,))
    return dict(label=label, x0=int(x0), y0=int(y0), alpha=alpha, area=int((alpha >= 0.5).sum()), bgr=bgr,
                shadow=shadow, shift=shift)


def _random_glyph(rng: np.random.Generator, h: int, w: int, label: int, text: str | None = None,
                  height: float | None = None) -> np.ndarray:
    """Alpha of a random-font glyph of class `label` (or of `text`) sized 4-30% of the long side (or
    `height` px: the draw is made either way, so the random stream is the same)."""
    font = int(FONTS[int(rng.integers(len(FONTS)))]) | (cv2.FONT_ITALIC if rng.random() < 0.3 else 0)
    drawn = max(h, w) * np.exp(rng.uniform(np.log(0.04), np.log(0.30)))
    height = drawn if height is None else height
    stroke = max(height * rng.uniform(0.06, 0.16), 1.2)
    return glyph_alpha(text or CLASSES[label], font, height, stroke, rng.uniform(-30, 30), rng.uniform(0.8, 1.2))


def _plate(rng: np.random.Generator, sh: int, sw: int) -> tuple[np.ndarray, int]:
    """Anti-aliased alpha of a rectangle or ellipse backing plate around an (sh, sw) glyph, and its margin."""
    m = int(max(sh, sw) * rng.uniform(0.1, 0.3)) + 2
    canvas = np.zeros((sh + 2 * m, sw + 2 * m), np.uint8)
    if rng.random() < 0.6:
        cv2.rectangle(canvas, (1, 1), (sw + 2 * m - 2, sh + 2 * m - 2), 255, -1, cv2.LINE_AA)
    else:
        cv2.ellipse(canvas, (sw // 2 + m, sh // 2 + m), (sw // 2 + m - 1, sh // 2 + m - 1), 0, 0, 360, 255, -1,
                    cv2.LINE_AA)
    return canvas.astype(np.float32) / 255, m


def clutter(rng: np.random.Generator, bg: np.ndarray) -> dict:
    """One non-class layer (label -1): a smooth squiggle, a long line or a symbol, anywhere (may leave the frame)."""
    h, w = bg.shape[:2]
    kind = int(rng.integers(3))
    if kind == 2:
        alpha = _random_glyph(rng, h, w, -1, SYMBOLS[int(rng.integers(len(SYMBOLS)))])
    else:
        size, ang = int(max(h, w) * rng.uniform(0.25, 0.7)), rng.uniform(0, np.pi)
        t = np.linspace(0, 1, 48)[:, None]  # long open strokes: never short bars or closed loops
        pts = 0.5 + (t - 0.5) * rng.uniform(0.6, 0.95) * [np.cos(ang), np.sin(ang)] \
            + (kind == 0) * 0.15 * np.sin(2 * np.pi * (t * rng.uniform(0.3, 0.6, 2) + rng.uniform(0, 1, 2)))
        canvas = np.zeros((size * SS, size * SS), np.uint8)
        cv2.polylines(canvas, [np.int32(pts * size * SS)], False, 255, int(SS * rng.uniform(1, 5)), cv2.LINE_8)
        alpha = _warp_down(canvas, 0.0, 1.0)
    y0, x0 = int(rng.integers(-alpha.shape[0] // 2, h)), int(rng.integers(-alpha.shape[1] // 2, w))
    mean = bg[max(y0, 0):max(y0, 0) + alpha.shape[0], max(x0, 0):max(x0, 0) + alpha.shape[1]].reshape(-1, 3)
    return _layer(-1, x0, y0, alpha, contrast_colour(rng, mean.mean(0) if len(mean) else 128))


def glyph_layers(rng: np.random.Generator, bg: np.ndarray, label: int, boxes: list, height: float | None = None,
                 offset: int = 0) -> list[dict]:
    """[plate?, glyph] layers of one glyph placed fully in frame with <= 30% overlap; [] if no room.

    label: index in CLASSES; the glyph layer is labelled label + offset; height: see _random_glyph."""
    h, w = bg.shape[:2]
    alpha, core = _random_glyph(rng, h, w, label, height=height), None
    if rng.random() < 0.2:  # outline: a dilated rim in a second colour, part of the glyph's extent
        rim = 1 + max(alpha.shape) // 50
        core = np.pad(alpha, rim)
        alpha = cv2.dilate(core, np.ones((3, 3), np.uint8), iterations=rim)
    plate, m = _plate(rng, *alpha.shape) if rng.random() < 0.25 else (None, 0)
    sh, sw = alpha.shape[0] + 2 * m, alpha.shape[1] + 2 * m
    for _ in range(6 if sh <= h and sw <= w else 0):
        y0, x0 = int(rng.integers(h - sh + 1)), int(rng.integers(w - sw + 1))
        if not any(overlap((x0, y0, x0 + sw, y0 + sh), b) > _MAX_OVERLAP for b in boxes):
            break
    else:
        return []
    boxes.append((x0, y0, x0 + sw, y0 + sh))
    layers, under = [], bg[y0:y0 + sh, x0:x0 + sw].reshape(-1, 3).mean(0)
    if plate is not None:
        under = contrast_colour(rng, under)
        layers.append(_layer(-1, x0, y0, plate, under))
    colour = contrast_colour(rng, under)
    if core is not None:
        colour = core[..., None] * colour + (1 - core[..., None]) * contrast_colour(rng, colour)
    shadow = float(rng.uniform(0.2, 0.5)) if rng.random() < 0.15 else 0.0
    shift = tuple(int(v) for v in rng.integers(-3, 4, 2))
    layers.append(dict(_layer(label + offset, x0 + m, y0 + m, alpha, colour, shadow, shift), min_visible=MIN_VISIBLE))
    return layers


def render(seed: int, split_idx: int, index: int) -> Sample:
    """Image `index` of split SPLITS[split_idx], JPEG quality 70-95.

    Sides 256-480 px, never square (they differ by >= 16 px); depends only on (seed, split, index).
    """
    rng = np.random.default_rng([seed, split_idx, index])
    w, h = 256, 256
    while abs(w - h) < 16:
        w, h = (int(v) for v in rng.integers(256, 481, 2))
    bg = background(rng, h, w)
    under = [clutter(rng, bg) for _ in range(int(rng.integers(0, 5)))]
    boxes, glyphs = [], []
    for _ in range(int(rng.integers(1, 13))):
        glyphs += glyph_layers(rng, bg, int(rng.integers(len(CLASSES))), boxes)
    over = [clutter(rng, bg) for _ in range(int(rng.integers(0, 3)))]
    img, objects = compose(bg.copy(), under + glyphs + over, MIN_VISIBLE)
    return camera(rng, img, objects, noise=(1.0, 5.0), quality=(70, 96))


GLYPHS = SynthSet(DATASET_NAME, "sscma-rtmdet glyphs (Hershey 0-9 A-Z on procedural backgrounds)", CLASSES, render)


def make_glyph_dataset(out_dir, seed: int = 0, num_train: int = 3000, num_valid: int = 200,
                       overwrite: bool = False, progress=None, workers: int = 2) -> dict:
    """Write the set into out_dir; returns {split: writer.summarize_coco(...)}.

    `progress(n)` is called per image; `workers` > 1 renders in that many processes (same bytes).
    Refuses a non-empty out_dir unless overwrite=True, which replaces only train/ and valid/.
    """
    return write_dataset(GLYPHS, out_dir, dict(train=num_train, valid=num_valid), seed, overwrite=overwrite,
                         progress=progress, workers=workers, splits=SPLITS)
