"""Embedded demo dataset: coloured shapes on textured backgrounds, written in Roboflow's COCO layout.

`make_demo_dataset(out_dir)` writes `out_dir/{train,valid,test}/` with JPEG images and
`_annotations.coco.json`. Category 0 is Roboflow's placeholder named after the dataset ("shapes",
supercategory "none", never used by a box); the real classes follow with ids 1..3. The class is carried by
geometry only: colour, fill/outline, size and rotation are drawn independently of the class.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import UserError
from .boxes import mask_extent, overlap
from .writer import ANN_NAME, SPLITS, Sample, SynthSet, write_dataset

DATASET_NAME = "shapes"
CLASSES = ("circle", "square", "triangle")
_MAX_OVERLAP = 0.25  # of the smaller box: keeps occlusion light


# ---------------------------------------------------------------------------------------------- drawing
def make_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A textured BGR uint8 background (h, w, 3): noise, gradient, stripes or blurred blobs + grain."""
    kind = rng.integers(4)
    base = rng.uniform(40, 215, size=3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = base.astype(np.float32)
    if kind == 0:  # coarse colour noise, upsampled so it is blotchy rather than salt-and-pepper
        small = rng.uniform(-60, 60, size=(max(h // 16, 2), max(w // 16, 2), 3)).astype(np.float32)
        img = base + cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    elif kind == 1:  # linear gradient between two colours
        ang = rng.uniform(0, np.pi)
        t = (np.cos(ang) * xx + np.sin(ang) * yy)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1.0)
        other = rng.uniform(40, 215, size=3)
        img = base * (1 - t[..., None]) + other * t[..., None]
    elif kind == 2:  # sinusoidal stripes at a random angle and period
        ang, period = rng.uniform(0, np.pi), rng.uniform(8, 40)
        t = np.sin((np.cos(ang) * xx + np.sin(ang) * yy) * 2 * np.pi / period)
        img = base + t[..., None] * rng.uniform(15, 45, size=3)
    else:  # blurred blobs drawn at 1/4 scale: low-frequency, so they never look like sharp circles
        sh, sw = max(h // 4, 8), max(w // 4, 8)
        img = np.empty((sh, sw, 3), np.float32)
        img[:] = base
        for _ in range(int(rng.integers(3, 9))):
            c = (int(rng.integers(sw)), int(rng.integers(sh)))
            axes = (int(rng.integers(3, sw // 2)), int(rng.integers(3, sh // 2)))
            cv2.ellipse(img, c, axes, float(rng.uniform(0, 180)), 0, 360, rng.uniform(0, 255, 3).tolist(), -1)
        img = cv2.resize(cv2.GaussianBlur(img, (0, 0), sigmaX=float(rng.uniform(2, 4))), (w, h))
    amp = int(rng.integers(3, 16))  # sensor-like grain (uniform integers: far cheaper than normal draws)
    img = img.astype(np.float32) + rng.integers(-amp, amp + 1, size=(h, w, 3), dtype=np.int16)
    return np.clip(img, 0, 255).astype(np.uint8)


def _shape_points(rng: np.random.Generator, cls: int, cx: float, cy: float, size: float) -> np.ndarray | None:
    """Polygon (K, 2) int32 of a square/triangle with side ~size, randomly rotated; None for a circle."""
    if cls == 0:
        return None
    rot = rng.uniform(-np.pi, np.pi)
    if cls == 1:  # square: corners at 45 + k*90 degrees, circumradius side/sqrt(2)
        angles, radius = rot + np.pi / 4 + np.arange(4) * np.pi / 2, size / np.sqrt(2)
    else:  # roughly equilateral triangle with a little jitter on each vertex angle
        angles = rot + np.arange(3) * 2 * np.pi / 3 + rng.uniform(-0.15, 0.15, 3)
        radius = size / np.sqrt(3)
    pts = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], axis=1)
    return np.round(pts).astype(np.int32)


def _shape_mask(rng: np.random.Generator, cls: int, h: int, w: int, size: float, filled: bool,
                thickness: int) -> np.ndarray:
    """Binary mask (h, w) uint8 of one shape placed uniformly where its full extent fits."""
    half = size / 2
    cx, cy = rng.uniform(half, w - half), rng.uniform(half, h - half)
    mask = np.zeros((h, w), np.uint8)
    t = -1 if filled else thickness
    pts = _shape_points(rng, cls, cx, cy, size)
    if pts is None:
        cv2.circle(mask, (int(round(cx)), int(round(cy))), int(round(half)), 255, t, cv2.LINE_8)
    elif filled:
        cv2.fillPoly(mask, [pts], 255, cv2.LINE_8)
    else:
        cv2.polylines(mask, [pts], True, 255, t, cv2.LINE_8)
    return mask


def _contrast_colour(rng: np.random.Generator, bg_patch: np.ndarray) -> np.ndarray:
    """A random BGR colour far (L1 >= 150) from the patch mean; class-independent by construction."""
    mean = bg_patch.reshape(-1, 3).mean(0)
    for _ in range(20):
        colour = rng.uniform(0, 255, size=3)
        if np.abs(colour - mean).sum() >= 150:
            return colour
    return 255.0 - mean  # pathological mid-grey patch: the complement is always far enough


def render_image(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Draw one image.

    Returns (image BGR uint8 (h, w, 3), background BGR uint8 (h, w, 3), objects) where each object is
    dict(label 0..2, box (x0, y0, x1, y1) inclusive pixel extents of the *visible* shape pixels).
    """
    bg = make_background(rng, h, w)
    img = bg.copy()
    count = 0 if rng.random() < 0.08 else int(rng.integers(1, 6))
    side = min(h, w)
    masks, labels, boxes = [], [], []
    for _ in range(count * 4):  # rejection sampling against heavy overlap; a few tries per object
        if len(masks) == count:
            break
        frac = rng.uniform(0.06, 0.12) if rng.random() < 0.15 else rng.uniform(0.12, 0.45)
        cls = int(rng.integers(len(CLASSES)))
        filled = rng.random() < 0.65
        mask = _shape_mask(rng, cls, h, w, frac * side, filled, int(rng.integers(2, 5)))
        box = mask_extent(mask)
        planned = None if box is None else (box[0], box[1], box[2] + 1, box[3] + 1)  # exclusive ends
        if planned is None or any(overlap(planned, b) > _MAX_OVERLAP for b in boxes):
            continue
        on = mask > 0
        colour = _contrast_colour(rng, bg[box[1]:box[3] + 1, box[0]:box[2] + 1])
        shade = rng.normal(0, 6, size=(int(on.sum()), 3))  # a little texture inside the shape
        img[on] = np.clip(colour + shade, 0, 255).astype(np.uint8)
        for m in masks:  # later shapes hide earlier ones: boxes follow what stays visible
            m[on] = 0
        masks.append(mask)
        labels.append(cls)
        boxes.append(planned)
    objects = []
    for mask, cls in zip(masks, labels):
        vis = mask_extent(mask)
        if vis is not None and (vis[2] - vis[0]) >= 3 and (vis[3] - vis[1]) >= 3:
            objects.append(dict(label=cls, box=vis))
    return img, bg, objects


def render_demo_image(seed: int, split_idx: int, index: int, imgsz_range: tuple[int, int] = (240, 400)):
    """Image `index` of split SPLITS[split_idx]: render_image's (image, background, objects).

    One generator per image, so an image depends only on (seed, split, index), not on the split sizes.
    """
    rng = np.random.default_rng([seed, split_idx, index])
    h, w = (int(rng.integers(imgsz_range[0], imgsz_range[1] + 1)) for _ in range(2))
    return render_image(rng, h, w)


def render(seed: int, split_idx: int, index: int, imgsz_range: tuple[int, int] = (240, 400)) -> Sample:
    """The demo set's image `index` of split SPLITS[split_idx] (JPEG quality 90)."""
    img, _, objects = render_demo_image(seed, split_idx, index, imgsz_range)
    return Sample.from_objects(img, objects, 90)


DEMO = SynthSet(DATASET_NAME, "sscma-rtmdet synthetic shapes demo", CLASSES, render)


def make_demo_dataset(out_dir, seed: int = 0, num_train: int = 240, num_valid: int = 60, num_test: int = 60,
                      imgsz_range: tuple[int, int] = (240, 400), overwrite: bool = False, workers: int = 1) -> dict:
    """Write the demo dataset into out_dir; returns {split: writer.summarize_coco(...)}.

    Deterministic: the same arguments give byte-identical JSON and JPEG files (with any `workers`).
    Refuses a non-empty out_dir unless overwrite=True, which then replaces only the train/valid/test
    sub-folders.
    """
    lo, hi = (int(v) for v in imgsz_range)
    if not 32 <= lo <= hi:
        raise UserError(f"imgsz_range (--imgsz-range) {imgsz_range}: need 32 <= min <= max "
                        "(pixels per image side)")
    return write_dataset(DEMO, out_dir, dict(train=num_train, valid=num_valid, test=num_test), seed,
                         options=dict(imgsz_range=(lo, hi)), overwrite=overwrite, workers=workers,
                         what="demo dataset")


def ensure_demo_dataset(path, seed: int = 0, **kwargs) -> Path:
    """Return `path`, generating the demo dataset there first unless all three splits are complete.

    A folder that holds anything besides (possibly partial) split folders is never touched.
    """
    root = Path(path)
    if all((root / s / ANN_NAME).is_file() for s in SPLITS):
        return root
    if root.exists() and any(p.name not in SPLITS for p in root.iterdir()):
        raise UserError(f"{root} holds other files and no complete demo dataset; "
                        "give an empty or missing folder for the demo dataset")
    make_demo_dataset(root, seed=seed, overwrite=True, **kwargs)
    return root
