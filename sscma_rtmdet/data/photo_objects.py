"""A realistic small detection set: 10 kinds of small objects on real photos, with clutter and occlusion.

`make_photo_objects_dataset(out_dir)` writes Roboflow's COCO layout like `data/demo.py` (category 0 is the
placeholder "photo-objects", supercategory "none", no boxes; the classes follow with ids 1..10).

- Backgrounds: random crops (zoom 0.5-1.5, mirror, colour jitter) of the real photos that the
  scikit-image wheel ships in `skimage/data/` (found without importing skimage; requirements/bench.txt).
  Colour photos are drawn twice as often as grey ones, which get a stronger colour cast.
- Objects: one shape per class, with a typical colour per class (hue +-15 degrees, saturation and value
  varied; two classes share each hue family so shape decides, and 10% of objects get any hue), a lighting
  gradient, photo texture, a soft shadow, anti-aliased edges, rotation and mild aspect/perspective
  jitter. Box side 4-25% of the image's long side (log-uniform), i.e. 8-48 px in a 192 px letterbox
  whatever the aspect ratio; 1-8 per image, up to 40% box overlap.
- Clutter: 2-10 non-class shapes (irregular polygons, bars, ellipses, blobs, and loose look-alikes:
  half discs, L shapes, trapezoids) painted the same way, under and over the objects.
- Boxes are the visible extent (alpha >= 0.5 and not covered by a later layer's alpha >= 0.5). An object
  with less than 40% of its pixels visible (covered or outside the frame) is not drawn at all, so the
  set holds no unlabelled fragments of a class.
- Camera: blur on 30% of images, Gaussian sensor noise, JPEG quality 75-95 (baseline encoder).

Shapes, painting and compositing live in `data/photo_layers.py`. Deterministic: one
np.random.Generator per (seed, split, index); the same arguments give the same bytes.
"""
from __future__ import annotations

import functools
import importlib.util
import json
import struct
from pathlib import Path

import cv2
import numpy as np

from ..errors import UserError
from ..utils.fileio import atomic_write_bytes, atomic_write_text
from .demo import ANN_NAME, prepare_output_dir, summarize_coco
from .photo_layers import SHAPES, clutter_polys, compose, make_layer

DATASET_NAME = "photo-objects"
CLASSES = ("disc", "square", "triangle", "star", "cross", "ring", "hexagon", "arrow", "crescent", "diamond")
_HUES = (20, 215, 120, 52, 0, 20, 215, 120, 52, 285)  # degrees; pairs share a hue family
SPLITS = ("train", "valid", "test")
PHOTOS = ("astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png",
          "coffee.png", "coins.png", "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png",
          "moon.png", "motorcycle_left.png", "motorcycle_right.png", "page.png", "retina.jpg", "rocket.jpg",
          "text.png")
INSTALL_HINT = ".venv/bin/python -m pip install --no-deps scikit-image==0.25.2"
_MAX_OVERLAP = 0.4  # of the smaller object box
_BOX_PER_DIAMETER = 0.85  # typical box side of a shape / its circumscribed diameter
_FIXED_DATE = "2024-01-01T00:00:00+00:00"


# ---------------------------------------------------------------------------------------------- photos
def _strip_iccp(data: bytes) -> bytes:
    """PNG bytes without iCCP chunks (some skimage PNGs carry one that makes libpng print warnings)."""
    if not data.startswith(b"\x89PNG"):
        return data
    out, pos = [data[:8]], 8
    while pos + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind != b"iCCP":
            out.append(data[pos:pos + 12 + n])
        pos += 12 + n
    return b"".join(out)


@functools.lru_cache(maxsize=1)
def load_photos() -> tuple[np.ndarray, ...]:
    """The PHOTOS as BGR uint8 (h, w, 3), in PHOTOS order; UserError naming the package if missing."""
    spec = importlib.util.find_spec("skimage")  # locates the wheel without executing the package
    folder = Path(spec.submodule_search_locations[0]) / "data" if spec and spec.submodule_search_locations \
        else None
    missing = [p for p in PHOTOS if folder is None or not (folder / p).is_file()]
    if missing:
        raise UserError(f"the real photos come from the scikit-image wheel (package scikit-image==0.25.2), "
                        f"but {', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''} not found "
                        f"in {folder or 'any skimage folder'}; install it with `{INSTALL_HINT}` "
                        "(or run bash scripts/setup_env.sh)")
    photos = []
    for name in PHOTOS:
        buf = np.frombuffer(_strip_iccp((folder / name).read_bytes()), np.uint8)
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if img is None:
            raise UserError(f"cannot decode {folder / name}; reinstall with `{INSTALL_HINT}`")
        photos.append(img)
    return tuple(photos)


@functools.lru_cache(maxsize=1)
def _gray_flags() -> tuple[bool, ...]:
    """Per photo: True if stored in grey levels (all three channels equal)."""
    return tuple(bool((p[..., 0] == p[..., 1]).all() and (p[..., 1] == p[..., 2]).all())
                 for p in load_photos())


def _background(rng: np.random.Generator, photos, h: int, w: int) -> np.ndarray:
    """(h, w, 3) float32 BGR: a zoomed, maybe mirrored crop of a random photo with colour jitter."""
    weights = np.where(_gray_flags(), 1.0, 2.0)  # colour photos twice as often
    k = int(rng.choice(len(photos), p=weights / weights.sum()))
    src = photos[k]
    ph, pw = src.shape[:2]
    zoom = rng.uniform(0.5, 1.5)
    ch, cw = h / zoom, w / zoom
    f = min(1.0, ph / ch, pw / cw)  # the crop must fit in the photo
    ch, cw = max(int(ch * f), 8), max(int(cw * f), 8)
    y0, x0 = int(rng.integers(ph - ch + 1)), int(rng.integers(pw - cw + 1))
    crop = src[y0:y0 + ch, x0:x0 + cw]
    img = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA if cw > w else cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    hsv = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-5, 5)) % 180  # OpenCV hue: 2 degrees per unit
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.7, 1.3), 0, 255)
    img = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    mean = float(img.mean())
    img = (img - mean) * rng.uniform(0.75, 1.25) + mean + rng.uniform(-30, 30)
    tint = 0.18 if _gray_flags()[k] else 0.08  # grey photos get a stronger colour cast
    img = img * rng.uniform(1 - tint, 1 + tint, size=3).astype(np.float32)  # white balance
    return np.clip(img, 0, 255)


def _plan(rng: np.random.Generator, photos, h: int, w: int) -> list[dict]:
    """Layers in paint order: clutter under, 1-8 objects (<= 40% box overlap), clutter over."""
    side = min(h, w)
    under, over = [], []
    for _ in range(int(rng.integers(2, 11))):
        r = side * np.exp(rng.uniform(np.log(0.03), np.log(0.35))) / 2
        lay = make_layer(rng, photos, clutter_polys(rng), r, rng.uniform(0, w), rng.uniform(0, h),
                     rng.uniform(0, 360), -1)
        (under if rng.random() < 0.6 else over).append(lay)
    n = int(rng.integers(1, 5)) if rng.random() < 0.7 else int(rng.integers(5, 9))
    objs, boxes = [], []
    for _ in range(n * 6):
        if len(objs) == n:
            break
        cls = int(rng.integers(len(CLASSES)))
        r = max(h, w) * np.exp(rng.uniform(np.log(0.04), np.log(0.25))) / _BOX_PER_DIAMETER / 2
        cx, cy = rng.uniform(0.5 * r, w - 0.5 * r), rng.uniform(0.5 * r, h - 0.5 * r)
        box = (cx - r, cy - r, cx + r, cy + r)
        if any(_overlap(box, b) > _MAX_OVERLAP for b in boxes):
            continue
        hue = rng.uniform(0, 360) if rng.random() < 0.1 else _HUES[cls] + rng.uniform(-15, 15)
        objs.append(make_layer(rng, photos, SHAPES[CLASSES[cls]], r, cx, cy, hue, cls))
        boxes.append(box)
    return under + objs + over


def _overlap(a, b) -> float:
    """Intersection of two xyxy boxes over the smaller one's area."""
    iw, ih = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))


def render_photo_image(seed: int, split_idx: int, index: int):
    """Image `index` of split SPLITS[split_idx]: (BGR uint8 (h, w, 3), objects, JPEG quality).

    Width 320-640, aspect w/h 0.6-1.6 (height clipped to 240-800); depends only on (seed, split, index).
    """
    rng = np.random.default_rng([seed, split_idx, index])
    photos = load_photos()
    w = int(rng.integers(320, 641))
    h = int(np.clip(round(w / rng.uniform(0.6, 1.6)), 240, 800))
    img, objects = compose(_background(rng, photos, h, w), _plan(rng, photos, h, w))
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.2))
    img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(1.5, 6.0))
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), objects, int(rng.integers(75, 96))


# ---------------------------------------------------------------------------------------------- writing
def _write_split(split_dir: Path, split_idx: int, seed: int, num: int, progress=None) -> dict:
    """Render `num` images into split_dir, then its annotation file (written last); returns the COCO dict."""
    split_dir.mkdir(parents=True, exist_ok=True)
    coco = dict(info=dict(year="2024", version="1", description="sscma-rtmdet photo objects (synthetic "
                          "objects on scikit-image photos)", contributor="sscma-rtmdet", url="",
                          date_created=_FIXED_DATE),
                licenses=[dict(id=1, url="https://creativecommons.org/licenses/by/4.0/", name="CC BY 4.0")],
                categories=[dict(id=0, name=DATASET_NAME, supercategory="none")]
                + [dict(id=i + 1, name=n, supercategory=DATASET_NAME) for i, n in enumerate(CLASSES)],
                images=[], annotations=[])
    for i in range(num):
        img, objects, quality = render_photo_image(seed, split_idx, i)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_OPTIMIZE, 0,
                                             cv2.IMWRITE_JPEG_PROGRESSIVE, 0])
        if not ok:  # pragma: no cover - cv2 without JPEG support
            raise RuntimeError("cv2.imencode failed to write JPEG")
        name = f"{split_dir.name}_{i:04d}.jpg"
        atomic_write_bytes(split_dir / name, buf.tobytes())
        coco["images"].append(dict(id=i, license=1, file_name=name, height=img.shape[0], width=img.shape[1],
                                   date_captured=_FIXED_DATE))
        for obj in objects:
            x0, y0, x1, y1 = obj["box"]
            bw, bh = float(x1 - x0 + 1), float(y1 - y0 + 1)
            coco["annotations"].append(dict(
                id=len(coco["annotations"]), image_id=i, category_id=obj["label"] + 1,
                bbox=[float(x0), float(y0), bw, bh], area=bw * bh, segmentation=[], iscrowd=0))
        if progress:
            progress(1)
    atomic_write_text(split_dir / ANN_NAME, json.dumps(coco))
    return coco


def make_photo_objects_dataset(out_dir, seed: int = 0, num_train: int = 300, num_valid: int = 100,
                               num_test: int = 0, overwrite: bool = False, progress=None) -> dict:
    """Write the set into out_dir; returns {split: demo.summarize_coco(...)} for each split written.

    train/ and valid/ are always written, test/ only when num_test > 0. `progress(n)` is called per image.
    Refuses a non-empty out_dir unless overwrite=True, which replaces only the split folders.
    """
    out = Path(out_dir)
    load_photos()  # a missing scikit-image fails before anything is written
    prepare_output_dir(out, dict(num_train=num_train, num_valid=num_valid, num_test=num_test), overwrite)
    summary = {}
    for idx, (split, num) in enumerate(zip(SPLITS, (num_train, num_valid, num_test))):
        if num > 0 or split != "test":
            summary[split] = summarize_coco(_write_split(out / split, idx, seed, num, progress))
    return summary


def format_summary(summary: dict) -> str:
    """Table of make_photo_objects_dataset's return value: images, boxes and boxes per class per split."""
    lines = [f"{'split':<6} {'images':>6} {'boxes':>5}  " + " ".join(CLASSES)]
    for split, s in summary.items():
        per = " ".join(f"{s['per_class'][c]:>{len(c)}}" for c in CLASSES)
        lines.append(f"{split:<6} {s['images']:>6} {s['boxes']:>5}  {per}")
    return "\n".join(lines)
