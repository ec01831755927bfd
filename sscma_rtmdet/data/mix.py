"""Cached multi-image augmentations (mmdet 3.3.0 CachedMosaic / CachedMixUp semantics).

Each instance keeps a FIFO cache of the samples it has seen (random_pop=False pops the oldest). With a
DataLoader every worker process holds its own copy of the pipeline, hence its own cache: a sample only
mixes with images that went through the same worker. That matches mmdet and is fine for training.
Sizes are (H, W).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .preprocess import DEFAULT_PAD_VALUE
from .transforms import _pad_value, _with, as_hw, clip_and_filter, resize_img


def _snapshot(s: dict) -> dict:
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}


class _Cache:
    def __init__(self, max_cached_images: int, random_pop: bool):
        if int(max_cached_images) < 1:
            raise ValueError(f"max_cached_images={max_cached_images!r} must be >= 1")
        self.max = int(max_cached_images)
        self.random_pop = bool(random_pop)
        self.items: list[dict] = []

    def push(self, s: dict, rng: np.random.Generator) -> None:
        self.items.append(_snapshot(s))
        if len(self.items) > self.max:
            idx = int(rng.integers(0, len(self.items))) if self.random_pop else 0
            self.items.pop(idx)


class CachedMosaic:
    """2x2 mosaic on a (2H, 2W) canvas filled with pad_val around a random centre; boxes clipped to it.

    The current sample is the top-left tile; three tiles are drawn from the cache. Until the cache holds
    more than 4 samples (or with probability 1 - prob) the sample passes through unchanged.
    """

    def __init__(self, img_scale, center_ratio_range: Sequence[float] = (0.5, 1.5), pad_val: float = DEFAULT_PAD_VALUE,
                 prob: float = 1.0, max_cached_images: int = 40, random_pop: bool = False):
        self.img_hw = as_hw(img_scale, "img_scale")
        self.center_ratio_range = tuple(float(v) for v in center_ratio_range)
        self.pad_val = _pad_value(pad_val)
        if not 0 <= prob <= 1:
            raise ValueError(f"prob={prob!r} must be in [0, 1]")
        self.prob = float(prob)
        self.cache = _Cache(max_cached_images, random_pop)

    def __call__(self, s: dict, rng: np.random.Generator) -> dict:
        self.cache.push(s, rng)
        items = self.cache.items
        if len(items) <= 4 or rng.uniform(0, 1) > self.prob:
            return s
        tiles = [s] + [items[int(rng.integers(0, len(items)))] for _ in range(3)]
        H, W = self.img_hw
        canvas = np.full((2 * H, 2 * W, 3), self.pad_val, np.uint8)
        cx = int(rng.uniform(*self.center_ratio_range) * W)
        cy = int(rng.uniform(*self.center_ratio_range) * H)
        all_boxes, all_labels = [], []
        for loc, tile in enumerate(tiles):
            img = tile["img"]
            h, w = img.shape[:2]
            ratio = min(H / h, W / w)
            img = resize_img(img, max(int(w * ratio), 1), max(int(h * ratio), 1))
            (px1, py1, px2, py2), (qx1, qy1, qx2, qy2) = _mosaic_coords(loc, cx, cy, img.shape[1],
                                                                        img.shape[0], H, W)
            canvas[py1:py2, px1:px2] = img[qy1:qy2, qx1:qx2]
            shift = np.array([px1 - qx1, py1 - qy1] * 2, np.float32)
            all_boxes.append(tile["boxes"] * np.float32(ratio) + shift)
            all_labels.append(tile["labels"])
        boxes, labels = clip_and_filter(np.concatenate(all_boxes).reshape(-1, 4),
                                        np.concatenate(all_labels), 2 * H, 2 * W)
        return _with(s, img=canvas, boxes=boxes, labels=labels)


def _mosaic_coords(loc: int, cx: int, cy: int, w: int, h: int, H: int, W: int):
    """Paste box on the canvas and crop box in the tile for tile loc (0 TL, 1 TR, 2 BL, 3 BR)."""
    if loc == 0:
        x1, y1, x2, y2 = max(cx - w, 0), max(cy - h, 0), cx, cy
        crop = (w - (x2 - x1), h - (y2 - y1), w, h)
    elif loc == 1:
        x1, y1, x2, y2 = cx, max(cy - h, 0), min(cx + w, 2 * W), cy
        crop = (0, h - (y2 - y1), min(w, x2 - x1), h)
    elif loc == 2:
        x1, y1, x2, y2 = max(cx - w, 0), cy, cx, min(2 * H, cy + h)
        crop = (w - (x2 - x1), 0, w, min(y2 - y1, h))
    else:
        x1, y1, x2, y2 = cx, cy, min(cx + w, 2 * W), min(2 * H, cy + h)
        crop = (0, 0, min(w, x2 - x1), min(y2 - y1, h))
    return (x1, y1, x2, y2), crop


class CachedMixUp:
    """Blend 50/50 with a cached sample that was fitted into img_scale, jittered, maybe flipped, cropped.

    Boxes of both images are kept (the cached ones clipped to the output). Needs more than one cached
    sample; applied with probability prob.
    """

    def __init__(self, img_scale, ratio_range: Sequence[float] = (0.5, 1.5), flip_ratio: float = 0.5,
                 pad_val: float = DEFAULT_PAD_VALUE, max_iters: int = 15, max_cached_images: int = 20,
                 random_pop: bool = False, prob: float = 1.0):
        self.img_hw = as_hw(img_scale, "img_scale")
        self.ratio_range = tuple(float(v) for v in ratio_range)
        self.flip_ratio = float(flip_ratio)
        self.pad_val = _pad_value(pad_val)
        self.max_iters = int(max_iters)
        if not 0 <= prob <= 1:
            raise ValueError(f"prob={prob!r} must be in [0, 1]")
        self.prob = float(prob)
        self.cache = _Cache(max_cached_images, random_pop)

    def _pick(self, rng: np.random.Generator) -> dict:
        """A cached sample, preferring one with boxes (up to max_iters draws)."""
        items = self.cache.items
        for _ in range(self.max_iters):
            idx = int(rng.integers(0, len(items)))
            if len(items[idx]["boxes"]):
                break
        return items[idx]

    def __call__(self, s: dict, rng: np.random.Generator) -> dict:
        self.cache.push(s, rng)
        if len(self.cache.items) <= 1 or rng.uniform(0, 1) > self.prob:
            return s
        other = self._pick(rng)
        jit = rng.uniform(*self.ratio_range)
        flip = rng.uniform(0, 1) > self.flip_ratio
        H, W = self.img_hw
        oimg = other["img"]
        ratio = min(H / oimg.shape[0], W / oimg.shape[1])
        oimg = resize_img(oimg, max(int(oimg.shape[1] * ratio), 1), max(int(oimg.shape[0] * ratio), 1))
        fitted = np.full((H, W, 3), self.pad_val, np.uint8)
        fitted[:oimg.shape[0], :oimg.shape[1]] = oimg
        ratio *= jit
        fitted = resize_img(fitted, max(int(W * jit), 1), max(int(H * jit), 1))
        if flip:
            fitted = fitted[:, ::-1]
        oh, ow = fitted.shape[:2]
        th, tw = s["img"].shape[:2]
        padded = np.full((max(oh, th), max(ow, tw), 3), self.pad_val, np.uint8)
        padded[:oh, :ow] = fitted
        y_off = int(rng.integers(0, padded.shape[0] - th + 1)) if padded.shape[0] > th else 0
        x_off = int(rng.integers(0, padded.shape[1] - tw + 1)) if padded.shape[1] > tw else 0
        crop = padded[y_off:y_off + th, x_off:x_off + tw]
        boxes = other["boxes"] * np.float32(ratio)
        boxes, labels = clip_and_filter(boxes, other["labels"], oh, ow)
        if flip:
            boxes = np.stack([ow - boxes[:, 2], boxes[:, 1], ow - boxes[:, 0], boxes[:, 3]], 1)
        boxes = boxes - np.array([x_off, y_off, x_off, y_off], np.float32)
        boxes, labels = clip_and_filter(boxes, labels, th, tw)
        img = (0.5 * s["img"].astype(np.float32) + 0.5 * crop.astype(np.float32)).astype(np.uint8)
        boxes = np.concatenate([s["boxes"], boxes.reshape(-1, 4)]).astype(np.float32)
        labels = np.concatenate([s["labels"], labels]).astype(np.int64)
        boxes, labels = clip_and_filter(boxes, labels, th, tw)
        return _with(s, img=img, boxes=boxes, labels=labels)
