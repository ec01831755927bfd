"""Draw boxes with label tags on images (BGR uint8), for --show-dir, tools/infer.py and report pictures.

Tags stay inside the image and do not overprint each other where a free spot exists: `layout_tags` tries
above the box, inside its top edge, then below it, and takes the first spot clear of the tags placed so far.
"""
from __future__ import annotations

import colorsys
from typing import Sequence

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
TAG_PAD = 2  # pixels of tag colour around the text

Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive)


def class_color(label: int) -> tuple[int, int, int]:
    """A stable, distinct BGR colour per class (golden-ratio hue steps)."""
    r, g, b = colorsys.hsv_to_rgb((label * 0.618034) % 1.0, 0.85, 0.95)
    return int(b * 255), int(g * 255), int(r * 255)


def text_color(bgr: Sequence[int]) -> tuple[int, int, int]:
    """Black or white, whichever contrasts more with `bgr` (WCAG relative luminance)."""
    lin = [(c / 255) / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in bgr]
    lum = 0.0722 * lin[0] + 0.7152 * lin[1] + 0.2126 * lin[2]
    # contrast with black (lum + 0.05) / 0.05 beats contrast with white 1.05 / (lum + 0.05) above ~0.179
    return (0, 0, 0) if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else (255, 255, 255)


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _candidates(box: Sequence[int], tw: int, th: int, img_hw: tuple[int, int]) -> list[Rect]:
    """Tag spots for one box in preference order: above, inside the top edge, below (in-image ones only)."""
    h, w = img_hw
    x0, y0, _, y1 = box
    x = min(max(x0, 0), max(w - tw, 0))  # clamp so the tag is not cut at the left or right edge
    inside_y = min(max(y0, 0), max(h - th, 0))
    spots = []
    if y0 - th >= 0:
        spots.append((x, y0 - th, x + tw, y0))
    spots.append((x, inside_y, x + tw, inside_y + th))
    if y1 + th <= h:
        spots.append((x, y1, x + tw, y1 + th))
    return spots


def layout_tags(boxes, tag_sizes: Sequence[tuple[int, int]], img_hw: tuple[int, int]) -> list[Rect]:
    """Tag rectangles for `boxes` (K, 4) xyxy pixels with tag sizes [(width, height)] in an (H, W) image.

    Boxes are placed in the given order (give the most important first): each takes the first of
    above / inside-top / below that lies in the image and overlaps no tag placed before it, else the first
    in-image spot. Returns K rects (x0, y0, x1, y1), x1/y1 exclusive.
    """
    placed: list[Rect] = []
    for box, (tw, th) in zip(np.asarray(boxes, dtype=np.float64).reshape(-1, 4), tag_sizes):
        spots = _candidates([int(round(v)) for v in box], int(tw), int(th), img_hw)
        placed.append(next((s for s in spots if not any(_overlaps(s, p) for p in placed)), spots[0]))
    return placed


def draw_style(img_hw: tuple[int, int]) -> tuple[int, float]:
    """Line thickness and font scale for an image size (thicker on big images, as before)."""
    thick = max(1, round(min(img_hw) / 240))
    return thick, 0.4 * thick


def tag_size(text: str, font_scale: float) -> tuple[int, int]:
    """(width, height) in pixels of a tag holding `text`, padding included."""
    (tw, th), base = cv2.getTextSize(text, FONT, font_scale, 1)
    return tw + 2 * TAG_PAD, th + base + 2 * TAG_PAD


def draw_boxes(img: np.ndarray, boxes, labels, texts: Sequence[str]) -> np.ndarray:
    """Copy of `img` (H, W, 3) BGR uint8 with boxes (K, 4) xyxy coloured by labels (K,) and tagged `texts`.

    Drawn in the given order, so later boxes are on top; every tag is drawn after every box line, and
    later boxes get the first pick of tag spots.
    """
    out = img.copy()
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    keep = np.isfinite(boxes).all(axis=1)
    boxes, labels, texts = boxes[keep], labels[keep], [t for t, k in zip(texts, keep) if k]
    thick, scale = draw_style(out.shape[:2])
    for box, label in zip(boxes, labels):
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), class_color(int(label)), thick)
    sizes = [tag_size(t, scale) for t in texts]
    rects = layout_tags(boxes[::-1], sizes[::-1], out.shape[:2])[::-1]
    for (tx0, ty0, tx1, ty1), label, text in zip(rects, labels, texts):
        color = class_color(int(label))
        cv2.rectangle(out, (tx0, ty0), (tx1 - 1, ty1 - 1), color, -1)
        _, base = cv2.getTextSize(text, FONT, scale, 1)
        cv2.putText(out, text, (tx0 + TAG_PAD, ty1 - TAG_PAD - base), FONT, scale, text_color(color), 1,
                    cv2.LINE_AA)
    return out


#: What a person looking at pictures wants (the deployment's test_cfg keeps score_thr 0.001 for COCO AP).
DISPLAY_SCORE_THR = 0.3


def class_name(label: int, classes: Sequence[str] | None) -> str:
    """The class name of `label`, or the number when no (or too short a) name list is given."""
    return classes[label] if classes and 0 <= label < len(classes) else str(label)


def draw_detections(img: np.ndarray, boxes, scores, labels, classes: list[str] | None = None,
                    score_thr: float = DISPLAY_SCORE_THR) -> np.ndarray:
    """Copy of `img` with boxes (K,4 xyxy, original pixels) scoring >= score_thr drawn and labelled.

    Tags read "name score"; higher scores are drawn on top and get the first pick of tag spots.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    order = [i for i in np.argsort(scores, kind="stable") if scores[i] >= score_thr]
    texts = [f"{class_name(int(labels[i]), classes)} {scores[i]:.2f}" for i in order]
    return draw_boxes(img, boxes[order], labels[order], texts)
