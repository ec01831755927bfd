"""Draw detections on images (BGR uint8), for --show-dir and tools/infer.py."""
from __future__ import annotations

import colorsys

import cv2
import numpy as np


def class_color(label: int) -> tuple[int, int, int]:
    """A stable, distinct BGR colour per class (golden-ratio hue steps)."""
    r, g, b = colorsys.hsv_to_rgb((label * 0.618034) % 1.0, 0.85, 0.95)
    return int(b * 255), int(g * 255), int(r * 255)


def draw_detections(img: np.ndarray, boxes, scores, labels, classes: list[str] | None = None,
                    score_thr: float = 0.3) -> np.ndarray:
    """Copy of `img` with boxes (K,4 xyxy, original pixels) scoring >= score_thr drawn and labelled."""
    out = img.copy()
    boxes, scores, labels = (np.asarray(a) for a in (boxes, scores, labels))
    thick = max(1, round(min(img.shape[:2]) / 240))
    for box, score, label in sorted(zip(boxes, scores, labels), key=lambda t: t[1]):
        if score < score_thr:
            continue
        x0, y0, x1, y1 = (int(round(float(v))) for v in box)
        color = class_color(int(label))
        cv2.rectangle(out, (x0, y0), (x1, y1), color, thick)
        name = classes[int(label)] if classes and int(label) < len(classes) else str(int(label))
        text = f"{name} {float(score):.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick, 1)
        ty = max(y0, th + base)
        cv2.rectangle(out, (x0, ty - th - base), (x0 + tw, ty), color, -1)
        cv2.putText(out, text, (x0, ty - base), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return out
