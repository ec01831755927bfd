"""Picture grids: each image twice, ground truth | prediction, tiled into one PNG (plain cv2)."""
from __future__ import annotations

import math
import os
from typing import Mapping, Sequence

import cv2
import numpy as np

from ..errors import UserError
from ..utils.fileio import atomic_write_bytes
from ..visualize import DISPLAY_SCORE_THR, class_name, draw_boxes, draw_detections
from ._arrays import entry_arrays

CAPTION_H = 20  # pixels of the strip above each panel
GAP = 8  # pixels between grid cells (and half of it between the two panels of a pair)
BACKGROUND = (40, 40, 40)
MAX_ASPECT = 2.0  # a panel is at most this many times as wide as high: very wide images get shorter


def _as_bgr(img) -> np.ndarray:
    """(H, W, 3) uint8 BGR of a BGR / gray / BGRA uint8 image."""
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (got {img.dtype}); pass them as cv2.imread returns them")
    if img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 1):
        return cv2.cvtColor(img.reshape(img.shape[:2]), cv2.COLOR_GRAY2BGR)
    if img.ndim == 3 and img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"image of shape {img.shape} is not (H, W, 3) BGR")
    return img


def _fit(img: np.ndarray, height: int) -> tuple[np.ndarray, float]:
    """img resized to `height` rows keeping its aspect (narrower if wider than MAX_ASPECT), and the scale."""
    h, w = img.shape[:2]
    s = min(height / h, MAX_ASPECT * height / w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR), s


def _captioned(panel: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """panel with a dark caption strip of CAPTION_H rows above it: the first of `texts` that fits."""
    strip = np.full((CAPTION_H, panel.shape[1], 3), 25, dtype=np.uint8)
    width = panel.shape[1] - 8
    fits = [t for t in texts if cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)[0][0] <= width]
    text = fits[0] if fits else texts[-1]  # narrow panels get the short form (still cut if narrower)
    cv2.putText(strip, text, (4, CAPTION_H - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (235, 235, 235), 1, cv2.LINE_AA)
    return np.vstack([strip, panel])


def _pair(img, gt: Mapping, pred: Mapping, class_names, score_thr: float, height: int,
          title: str | None) -> np.ndarray:
    """[ground truth | prediction] of one image, each panel `height` rows (or less) plus its caption."""
    small, s = _fit(_as_bgr(img), height)
    g_boxes, g_labels = entry_arrays(gt, with_scores=False)
    p_boxes, p_labels, p_scores = entry_arrays(pred, with_scores=True)
    left = draw_boxes(small, g_boxes * s, g_labels, [class_name(int(v), class_names) for v in g_labels])
    right = draw_detections(small, p_boxes * s, p_scores, p_labels, list(class_names or []), score_thr)
    n_pred = int((p_scores >= score_thr).sum())
    gt_texts = [f"ground truth ({len(g_labels)})", f"GT {len(g_labels)}"]
    if title:
        gt_texts = [f"{title}: {t}" for t in gt_texts] + gt_texts
    left = _captioned(left, gt_texts)
    right = _captioned(right, [f"prediction ({n_pred} >= {score_thr:g})", f"pred {n_pred}"])
    sep = np.full((left.shape[0], GAP // 2, 3), BACKGROUND, dtype=np.uint8)
    return np.hstack([left, sep, right])


def _tile(pairs: list[np.ndarray]) -> np.ndarray:
    """Pairs (each ~2:1) in a grid of about square overall shape, cells padded to the largest pair."""
    cols = max(1, math.ceil(math.sqrt(len(pairs) / 2)))
    rows = math.ceil(len(pairs) / cols)
    ch, cw = max(p.shape[0] for p in pairs), max(p.shape[1] for p in pairs)
    grid = np.full((rows * (ch + GAP) + GAP, cols * (cw + GAP) + GAP, 3), BACKGROUND, dtype=np.uint8)
    for i, p in enumerate(pairs):
        y, x = GAP + (i // cols) * (ch + GAP), GAP + (i % cols) * (cw + GAP)
        grid[y:y + p.shape[0], x:x + p.shape[1]] = p
    return grid


def prediction_grid(images: Sequence[np.ndarray], gts: Sequence[Mapping], preds: Sequence[Mapping],
                    class_names: Sequence[str] | None, out_png: str | os.PathLike, score_thr: float = DISPLAY_SCORE_THR,
                    max_images: int = 16, panel_height: int = 256,
                    titles: Sequence[str] | None = None) -> np.ndarray:
    """Write one PNG of the first `max_images` images as [ground truth | prediction] pairs in a grid.

    images: BGR uint8 (H, W, 3) of any size (gray and BGRA accepted); gts: per image dict(boxes (G, 4)
    xyxy, labels (G,)); preds: per image dict(boxes (K, 4) xyxy, scores (K,), labels (K,)) in the same
    image's pixels (numpy or torch). Each panel is resized to `panel_height` rows keeping its aspect.
    titles: optional per-image caption (e.g. file names). Returns the grid (H, W, 3) BGR uint8.
    """
    if not (len(images) == len(gts) == len(preds)) or (titles is not None and len(titles) != len(images)):
        raise ValueError(f"{len(images)} images, {len(gts)} ground truths, {len(preds)} predictions"
                         + (f", {len(titles)} titles" if titles is not None else "") + ": need one each")
    n = min(len(images), max_images)
    if n < 1:
        raise UserError("no images to draw: the split is empty or max_images < 1")
    pairs = [_pair(images[i], gts[i], preds[i], class_names, score_thr, panel_height,
                   titles[i] if titles is not None else None) for i in range(n)]
    grid = _tile(pairs)
    ok, png = cv2.imencode(".png", grid)
    if not ok:  # pragma: no cover - cv2 fails only on impossible sizes
        raise RuntimeError(f"cv2 could not encode a {grid.shape} PNG")
    atomic_write_bytes(out_png, png.tobytes())
    return grid
