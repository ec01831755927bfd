"""A realistic small detection set: 10 kinds of small objects on real photos, with clutter and occlusion.

`make_photo_objects_dataset(out_dir)` writes Roboflow's COCO layout (`writer.py`) (category 0 is the
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

Shapes, painting and compositing live in `photo_layers.py`, the photos in `photos.py`. Deterministic: one
np.random.Generator per (seed, split, index); the same arguments give the same bytes.
"""
from __future__ import annotations

import numpy as np

from .boxes import overlap
from .photo_layers import SHAPES, camera, compose, make_layer, photo_clutter
from .photos import INSTALL_HINT, load_photos, photo_background  # noqa: F401 (INSTALL_HINT: the CLI's hint)
from .writer import ANN_NAME, Sample, SynthSet, write_dataset  # noqa: F401 (ANN_NAME: for callers)

DATASET_NAME = "photo-objects"
CLASSES = ("disc", "square", "triangle", "star", "cross", "ring", "hexagon", "arrow", "crescent", "diamond")
_HUES = (20, 215, 120, 52, 0, 20, 215, 120, 52, 285)  # degrees; pairs share a hue family
_MAX_OVERLAP = 0.4  # of the smaller object box
_BOX_PER_DIAMETER = 0.85  # typical box side of a shape / its circumscribed diameter


def _plan(rng: np.random.Generator, photos, h: int, w: int) -> list[dict]:
    """Layers in paint order: clutter under, 1-8 objects (<= 40% box overlap), clutter over."""
    under, over = photo_clutter(rng, photos, h, w, (2, 11), (0.03, 0.35))
    n = int(rng.integers(1, 5)) if rng.random() < 0.7 else int(rng.integers(5, 9))
    objs, boxes = [], []
    for _ in range(n * 6):
        if len(objs) == n:
            break
        cls = int(rng.integers(len(CLASSES)))
        r = max(h, w) * np.exp(rng.uniform(np.log(0.04), np.log(0.25))) / _BOX_PER_DIAMETER / 2
        cx, cy = rng.uniform(0.5 * r, w - 0.5 * r), rng.uniform(0.5 * r, h - 0.5 * r)
        box = (cx - r, cy - r, cx + r, cy + r)
        if any(overlap(box, b) > _MAX_OVERLAP for b in boxes):
            continue
        hue = rng.uniform(0, 360) if rng.random() < 0.1 else _HUES[cls] + rng.uniform(-15, 15)
        objs.append(make_layer(rng, photos, SHAPES[CLASSES[cls]], r, cx, cy, hue, cls))
        boxes.append(box)
    return under + objs + over


def render(seed: int, split_idx: int, index: int) -> Sample:
    """Image `index` of split SPLITS[split_idx], JPEG quality 75-95.

    Width 320-640, aspect w/h 0.6-1.6 (height clipped to 240-800); depends only on (seed, split, index).
    """
    rng = np.random.default_rng([seed, split_idx, index])
    photos = load_photos()
    w = int(rng.integers(320, 641))
    h = int(np.clip(round(w / rng.uniform(0.6, 1.6)), 240, 800))
    img, objects = compose(photo_background(rng, photos, h, w), _plan(rng, photos, h, w))
    return camera(rng, img, objects, noise=(1.5, 6.0), quality=(75, 96), blur=(0.4, 1.2))


PHOTO_OBJECTS = SynthSet(DATASET_NAME, "sscma-rtmdet photo objects (synthetic objects on scikit-image photos)",
                         CLASSES, render)


def make_photo_objects_dataset(out_dir, seed: int = 0, num_train: int = 300, num_valid: int = 100,
                               num_test: int = 0, overwrite: bool = False, progress=None, workers: int = 1) -> dict:
    """Write the set into out_dir; returns {split: writer.summarize_coco(...)} for each split written.

    train/ and valid/ are always written, test/ only when num_test > 0. `progress(n)` is called per image.
    Refuses a non-empty out_dir unless overwrite=True, which replaces only the split folders.
    """
    load_photos()  # a missing scikit-image fails before anything is written
    counts = dict(train=num_train, valid=num_valid, **({"test": num_test} if num_test else {}))
    return write_dataset(PHOTO_OBJECTS, out_dir, counts, seed, overwrite=overwrite, progress=progress,
                         workers=workers)
