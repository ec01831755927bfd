"""The one box convention of the generated sets, and the two helpers every set uses.

Boxes are xyxy with exclusive ends while an image is planned (`overlap`), and inclusive pixel extents
(x0, y0, x1, y1) of visible pixels in a `Sample` (`mask_extent`); the writer turns the latter into COCO
[x, y, w, h] with w = x1 - x0 + 1.
"""
from __future__ import annotations

import cv2
import numpy as np


def overlap(a, b) -> float:
    """Intersection of two xyxy boxes (exclusive ends) over the smaller one's area; 0 when disjoint."""
    iw, ih = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))


def mask_extent(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Inclusive pixel extents (x0, y0, x1, y1) of a mask's nonzero pixels (h, w), or None if empty."""
    x, y, w, h = cv2.boundingRect(mask)
    if w == 0 or h == 0:
        return None
    return x, y, x + w - 1, y + h - 1
