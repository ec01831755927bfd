"""The second learning benchmark's set: 8 everyday-like objects among look-alike distractors on real photos.

`make_everyday_dataset(out_dir)` writes Roboflow's COCO layout (`writer.py`; category 0 is the placeholder
"everyday-objects", the classes mug, bottle, key, umbrella, bulb, car, fish, tree follow with ids 1..8).
It differs in kind from the photo-objects set (flat single-colour shapes whose colour family hints at the
class): these objects are made of several parts in their own colours (a mug's body, rim and handle; a car's
body, windows and wheels), with cylinder shading and textures, and the class shows only in the parts: every
image also holds look-alikes that are no class (everyday_figures.DISTRACTORS: a tumbler without handle, a
jar, a spoon, a hand fan, a balloon, a wagon, a leaf, a round sign on a pole) at the same sizes, plus the
photo-objects set's clutter shapes.

- Backgrounds: crops of the scikit-image wheel's photos (photos.py, as for photo-objects); object textures
  come from the same photos.
- Objects: upright +-25 degrees, mirrored half of the time, box side 6-35% of the image's long side
  (log-uniform: about 11-67 px in a 192 px letterbox); 1-7 per image, <= 35% box overlap; 1-5 distractors.
- Boxes are visible extents (photo_layers.compose); an object under 50% visible is not drawn.
- Camera: blur on 30% of images, Gaussian noise, JPEG quality 75-95. Deterministic per (seed, split, index).
"""
from __future__ import annotations

import functools

import cv2
import numpy as np

from .boxes import overlap
from .everyday_figures import CLASSES as FIGURES, DISTRACTORS
from .parts import figure_layer
from .photo_layers import camera, compose, photo_clutter
from .photos import load_photos, photo_background
from .writer import Sample, SynthSet, write_dataset

DATASET_NAME = "everyday-objects"
CLASSES = tuple(FIGURES)
MIN_VISIBLE = 0.5
_MAX_OVERLAP = 0.35


@functools.lru_cache(maxsize=1)
def grey_photos() -> tuple[np.ndarray, ...]:
    """The photos as grey float32 (h, w) in 0..1: texture sources for painted parts."""
    return tuple(cv2.cvtColor(p, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255 for p in load_photos())


def _spot(rng: np.random.Generator, h: int, w: int) -> tuple[float, float, float]:
    """(radius, cx, cy) of an object whose box side is 6-35% of the long side (log-uniform)."""
    r = max(h, w) * np.exp(rng.uniform(np.log(0.06), np.log(0.35))) / 2
    return r, rng.uniform(0.4 * r, w - 0.4 * r), rng.uniform(0.4 * r, h - 0.4 * r)


def _figure(rng, label: int, draw, r: float, cx: float, cy: float) -> dict:
    """A layer of draw(rng) of radius r at (cx, cy): upright +-25 degrees, mirrored half of the time."""
    parts, styles, cylinders = draw(rng)
    mirror = -1.0 if rng.random() < 0.5 else 1.0
    return figure_layer(rng, label, parts, styles, r, cx, cy, angle=rng.uniform(-25, 25),
                        aspect=mirror * rng.uniform(0.85, 1.15), cylinders=cylinders, sources=grey_photos())


def _objects(rng: np.random.Generator, h: int, w: int) -> list[dict]:
    """1-7 object layers whose boxes overlap by <= 35% (a few tries each; a crowded image gets fewer)."""
    n = int(rng.integers(1, 5)) if rng.random() < 0.75 else int(rng.integers(5, 8))
    layers, boxes, tries = [], [], 0
    while len(boxes) < n and tries < 6 * n:
        tries += 1
        cls = int(rng.integers(len(CLASSES)))
        r, cx, cy = _spot(rng, h, w)
        box = (cx - r, cy - r, cx + r, cy + r)
        if all(overlap(box, b) <= _MAX_OVERLAP for b in boxes):
            boxes.append(box)
            layers.append(_figure(rng, cls, FIGURES[CLASSES[cls]], r, cx, cy))
    return layers


def _plan(rng: np.random.Generator, photos, h: int, w: int) -> list[dict]:
    """Layers in paint order: clutter under, objects and look-alikes in random order, clutter over."""
    under, over = photo_clutter(rng, photos, h, w, (0, 6), (0.03, 0.3))
    middle = _objects(rng, h, w)
    names = list(DISTRACTORS)
    for _ in range(int(rng.integers(1, 6))):
        middle.append(_figure(rng, -1, DISTRACTORS[names[int(rng.integers(len(names)))]], *_spot(rng, h, w)))
    order = rng.permutation(len(middle))
    return under + [middle[i] for i in order] + over


def render(seed: int, split_idx: int, index: int) -> Sample:
    """Image `index` of split SPLITS[split_idx]; width 320-560, aspect w/h 0.6-1.6 (height 240-720)."""
    rng = np.random.default_rng([seed, split_idx, index])
    photos = load_photos()
    w = int(rng.integers(320, 561))
    h = int(np.clip(round(w / rng.uniform(0.6, 1.6)), 240, 720))
    img, objects = compose(photo_background(rng, photos, h, w), _plan(rng, photos, h, w), MIN_VISIBLE)
    return camera(rng, img, objects, noise=(1.5, 6.0), quality=(75, 96), blur=(0.4, 1.2))


EVERYDAY = SynthSet(DATASET_NAME, "sscma-rtmdet everyday objects (objects of parts among look-alikes on "
                    "scikit-image photos)", CLASSES, render)


def make_everyday_dataset(out_dir, seed: int = 0, num_train: int = 400, num_valid: int = 100, num_test: int = 0,
                          overwrite: bool = False, progress=None, workers: int = 1) -> dict:
    """Write the set into out_dir (train/, valid/, and test/ when num_test > 0); returns
    {split: writer.summarize_coco(...)}. Refuses a non-empty out_dir unless overwrite=True."""
    load_photos()  # a missing scikit-image fails before anything is written
    counts = dict(train=num_train, valid=num_valid, **({"test": num_test} if num_test else {}))
    return write_dataset(EVERYDAY, out_dir, counts, seed, overwrite=overwrite, progress=progress, workers=workers,
                         what="everyday-objects dataset")
