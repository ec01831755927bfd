"""The broad pretraining set: 72 classes of four kinds of objects, with distractors, occlusion, blur and noise.

`make_broad_dataset(out_dir)` writes Roboflow's COCO layout (`writer.py`; placeholder category "broad", the
classes follow with ids 1..72):

- glyphs (36): "0".."9", "A".."Z" drawn as in glyphs.py (Hershey fonts, outlines, plates, shadows);
- shapes (18): pretrain_figures.SHAPES (heart, spade, club, bolt, gear, flower, ...), textured, lit, 40%
  bevelled, any rotation;
- objects of parts (16): pretrain_figures.OBJECTS (pencil, ladder, traffic light, anchor, ...), each part
  in its own colour, cylinders shaded, +-35 degrees;
- cut-outs (2): face (scikit-image's LFW crops) and horse (its silhouette), cutouts.py.

Families take 38% / 27% / 31% / 4% of the objects (SHARE), classes within a family equally often. None is
a class (or a look-alike of one) of the demo set, the
photo-objects benchmark or the everyday benchmark, and no photo of theirs is used: backgrounds are
glyphs.background's procedural textures (60%) or dead leaves (40%, many flat polygons and ellipses under
one texture); textures of painted parts are procedural or matplotlib's sample photo.
- Sizes: the long side of an object is 4.2-62.5% of the image's long side (log-uniform), i.e. 8-120 px at
  192; images 256-384 px a side, 1-16 objects planned each (<= 45% box overlap), 1-8 distractors (glyphs.clutter's
  strokes and symbols, LFW non-face crops, junk figures of random parts) under and over them.
- Boxes are visible extents (photo_layers.compose): glyphs need 75% of their pixels visible, others 50%.
- Camera: blur on 30% of images, Gaussian noise, JPEG quality 60-95. Deterministic per (seed, split, index);
  worker processes change only the speed.
"""
from __future__ import annotations

import cv2
import numpy as np

from . import glyphs
from .boxes import overlap
from .cutouts import face_layer, horse_layer, sources
from .paint import style_colour, texture
from .parts import ell, figure_layer, line, rect
from .photo_layers import camera, compose
from .pretrain_figures import OBJECTS, SHAPES
from .writer import Sample, SynthSet, write_dataset

DATASET_NAME = "broad"
CUTOUTS = ("face", "horse")
CLASSES = glyphs.CLASSES + tuple(SHAPES) + tuple(OBJECTS) + CUTOUTS
FAMILIES = ("glyph",) * len(glyphs.CLASSES) + ("shape",) * len(SHAPES) + ("object",) * len(OBJECTS) \
    + ("cutout",) * len(CUTOUTS)
SHARE = dict(glyph=0.38, shape=0.27, object=0.31, cutout=0.04)  # of the objects; equal within a family
WEIGHTS = np.array([SHARE[f] / FAMILIES.count(f) for f in FAMILIES])
SIZE = (8 / 192, 120 / 192)  # object long side / image long side: 8-120 px at 192
MIN_VISIBLE = 0.5
_MAX_OVERLAP = 0.45


def dead_leaves(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(h, w, 3) float32: 40-140 flat random polygons, ellipses and bars, largest first, under one texture."""
    img = np.empty((h, w, 3), np.float32)
    img[:] = style_colour(rng, "any")
    n = int(rng.integers(40, 141))
    for size in np.sort(np.exp(rng.uniform(np.log(0.02), np.log(0.5), n)))[::-1] * max(h, w):
        c, colour = rng.uniform(0, 1, 2) * (w, h), style_colour(rng, "any" if rng.random() < 0.7 else "dark").tolist()
        kind = int(rng.integers(3))
        if kind == 0:
            ang = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(3, 8))))
            pts = c + size / 2 * rng.uniform(0.4, 1, (len(ang), 1)) * np.stack([np.cos(ang), np.sin(ang)], 1)
            cv2.fillPoly(img, [np.int32(pts)], colour, cv2.LINE_AA)
        elif kind == 1:
            cv2.ellipse(img, tuple(int(v) for v in c), (int(size / 2) + 1, int(size * rng.uniform(0.1, 0.5)) + 1),
                        float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
        else:
            a = rng.uniform(0, np.pi)
            p0 = c - size / 2 * np.array([np.cos(a), np.sin(a)])
            cv2.line(img, tuple(int(v) for v in p0), tuple(int(v) for v in 2 * c - p0), colour,
                     max(int(size * rng.uniform(0.03, 0.12)), 1), cv2.LINE_AA)
    img *= texture(rng, h, w)[..., None]
    return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.2))


def _junk(rng: np.random.Generator) -> tuple:
    """Parts of no class: 2-5 random ellipses, bars and strokes in 1-3 colours."""
    parts = []
    for _ in range(int(rng.integers(2, 6))):
        x, y, a, b, slot = *rng.uniform(-0.6, 0.6, 2), *rng.uniform(0.1, 0.5, 2), int(rng.integers(3))
        kind = int(rng.integers(3))
        if kind == 0:
            parts.append(ell(x, y, a, b, slot, rng.uniform(0, 180)))
        elif kind == 1:
            parts.append(rect(x - a, y - b / 3, x + a, y + b / 3, slot))
        else:
            parts.append(line(rng.uniform(-0.9, 0.9, (3, 2)), rng.uniform(0.05, 0.2), slot))
    return parts, ["any", "any", "dark"], (0,)


def _place(rng, h: int, w: int, side: float, boxes: list):
    """A centre for an object of long side `side` whose box overlaps no planned box by > 45%, or None."""
    for _ in range(6):
        cx, cy = rng.uniform(0.3 * side, w - 0.3 * side), rng.uniform(0.3 * side, h - 0.3 * side)
        box = (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)
        if not any(overlap(box, b) > _MAX_OVERLAP for b in boxes):
            boxes.append(box)
            return cx, cy
    return None


def _object_layers(rng: np.random.Generator, bg: np.ndarray, label: int, boxes: list) -> list[dict]:
    """The layers of one object of class `label` (glyphs: maybe with a plate), [] when there is no room."""
    h, w = bg.shape[:2]
    side = max(h, w) * np.exp(rng.uniform(*np.log(SIZE)))
    family, name = FAMILIES[label], CLASSES[label]
    if family == "glyph":
        return glyphs.glyph_layers(rng, bg, label, boxes, height=side * 0.85)
    centre = _place(rng, h, w, side, boxes)
    if centre is None:
        return []
    if family == "cutout":
        return [face_layer(rng, label, side, *centre) if name == "face" else horse_layer(rng, label, side, *centre)]
    parts, styles, cylinders = (SHAPES if family == "shape" else OBJECTS)[name](rng)
    angle = rng.uniform(-180, 180) if family == "shape" else rng.uniform(-35, 35)
    aspect = (-1 if rng.random() < 0.5 else 1) * rng.uniform(0.8, 1.2)
    bevel = rng.uniform(0.2, 0.6) if family == "shape" and rng.random() < 0.4 else 0.0
    return [figure_layer(rng, label, parts, styles, side / 2, *centre, angle=angle, aspect=aspect,
                         cylinders=cylinders, sources=sources()["textures"], bevel_strength=bevel)]


def _distractor(rng: np.random.Generator, bg: np.ndarray) -> dict:
    """One non-class layer: glyph clutter (50%), an LFW non-face crop (20%) or a junk figure (30%)."""
    h, w = bg.shape[:2]
    kind = rng.choice(3, p=[0.5, 0.2, 0.3])
    if kind == 0:
        return glyphs.clutter(rng, bg)
    side = max(h, w) * np.exp(rng.uniform(*np.log(SIZE)))
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    if kind == 1:
        return face_layer(rng, -1, side, cx, cy, face=False)
    parts, styles, cylinders = _junk(rng)
    return figure_layer(rng, -1, parts, styles, side / 2, cx, cy, angle=rng.uniform(-180, 180),
                        cylinders=cylinders, sources=sources()["textures"])


def render(seed: int, split_idx: int, index: int) -> Sample:
    """Image `index` of split SPLITS[split_idx]: sides 256-384 px, JPEG quality 60-95."""
    rng = np.random.default_rng([seed, split_idx, index])
    w, h = (int(v) for v in rng.integers(256, 385, 2))
    bg = glyphs.background(rng, h, w) if rng.random() < 0.6 else dead_leaves(rng, h, w)
    distractors = [_distractor(rng, bg) for _ in range(int(rng.integers(1, 9)))]
    split = int(rng.integers(len(distractors) + 1))
    n = int(rng.integers(1, 7)) if rng.random() < 0.5 else int(rng.integers(7, 17))
    boxes, objects = [], []
    for _ in range(n):
        objects += _object_layers(rng, bg, int(rng.choice(len(CLASSES), p=WEIGHTS)), boxes)
    img, found = compose(bg.copy(), distractors[:split] + objects + distractors[split:], MIN_VISIBLE)
    return camera(rng, img, found, noise=(1.0, 6.0), quality=(60, 96), blur=(0.3, 1.3))


BROAD = SynthSet(DATASET_NAME, "sscma-rtmdet broad pretraining set (glyphs, shapes, objects of parts, cut-outs)",
                 CLASSES, render)


def make_broad_dataset(out_dir, seed: int = 0, num_train: int = 6000, num_valid: int = 300,
                       overwrite: bool = False, progress=None, workers: int = 2) -> dict:
    """Write the set into out_dir (train/ and valid/); returns {split: writer.summarize_coco(...)}.

    `workers` > 1 renders in that many spawned processes (same bytes; callers need a `__main__` guard).
    Refuses a non-empty out_dir unless overwrite=True, which replaces only train/ and valid/."""
    sources()  # a missing wheel fails before anything is written
    return write_dataset(BROAD, out_dir, dict(train=num_train, valid=num_valid), seed, overwrite=overwrite,
                         progress=progress, workers=workers, what="broad pretraining dataset",
                         splits=("train", "valid"))
