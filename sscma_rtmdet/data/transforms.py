"""Training/test augmentations (numpy + cv2) with mmdet 3.3.0 semantics, built from config dicts.

A sample is a dict with `img` (h, w, 3) uint8 BGR, `boxes` (n, 4) float32 xyxy pixels, `labels` (n,)
int64 and any metadata (img_id, ori_hw, scale, pad). Every transform is called as `t(sample, rng)` with
an `np.random.Generator` owned by the caller, so a run is reproducible from (seed, epoch, index); no global
RNG is touched. A transform never modifies its input arrays in place (the mix caches keep references).
A transform may return None (RandomCrop lost every box): the dataset then draws another image, as mmdet.
Sizes in configs are (H, W); mmdet writes (w, h).
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from .preprocess import DEFAULT_PAD_VALUE, letterbox


def as_hw(size, name: str = "size") -> tuple[int, int]:
    """(H, W) of positive ints from a 2-sequence (or one int for a square)."""
    if isinstance(size, (int, np.integer)):
        size = (size, size)
    if not isinstance(size, (list, tuple)) or len(size) != 2 or not all(
            isinstance(v, (int, float, np.integer)) and v > 0 for v in size):
        raise ValueError(f"{name}={size!r} must be (H, W) with two positive numbers")
    return int(size[0]), int(size[1])


def resize_img(img: np.ndarray, new_w: int, new_h: int) -> np.ndarray:
    """cv2 bilinear resize (mmcv.imresize 'bilinear'); returns the input when the size is unchanged."""
    if img.shape[1] == new_w and img.shape[0] == new_h:
        return img
    return cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_LINEAR)


def clip_and_filter(boxes: np.ndarray, labels: np.ndarray, h: int, w: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Clip (n,4) xyxy boxes to the image and drop those left with no area (outside the image)."""
    boxes = boxes.astype(np.float32, copy=True)
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    return boxes[keep], labels[keep]


def rescale_size(w: int, h: int, target_wh: tuple[int, int]) -> tuple[int, int, float]:
    """mmcv.rescale_size: fit the long edge to max(target) and the short edge to min(target)."""
    long_edge, short_edge = max(target_wh), min(target_wh)
    factor = min(long_edge / max(h, w), short_edge / min(h, w))
    return max(int(w * factor + 0.5), 1), max(int(h * factor + 0.5), 1), factor


def _with(sample: dict, **kw) -> dict:
    out = dict(sample)
    out.update(kw)
    return out


class RandomResize:
    """Scale (H, W) times a ratio drawn from ratio_range; keep_ratio follows mmcv's long/short-edge rule."""

    def __init__(self, scale, ratio_range: Sequence[float] | None = None, keep_ratio: bool = True):
        self.scale_hw = as_hw(scale, "scale")
        if ratio_range is not None and (len(ratio_range) != 2 or not 0 < ratio_range[0] <= ratio_range[1]):
            raise ValueError(f"ratio_range={ratio_range!r} must be (min, max) with 0 < min <= max")
        self.ratio_range = tuple(ratio_range) if ratio_range is not None else None
        self.keep_ratio = bool(keep_ratio)

    def __call__(self, s: dict, rng: np.random.Generator) -> dict:
        th, tw = self.scale_hw
        if self.ratio_range is not None:
            lo, hi = self.ratio_range
            ratio = rng.random() * (hi - lo) + lo
            th, tw = int(th * ratio), int(tw * ratio)
        h, w = s["img"].shape[:2]
        if self.keep_ratio:
            new_w, new_h, _ = rescale_size(w, h, (tw, th))
        else:
            new_w, new_h = max(tw, 1), max(th, 1)
        img = resize_img(s["img"], new_w, new_h)
        boxes = s["boxes"] * np.array([new_w / w, new_h / h] * 2, np.float32)
        boxes, labels = clip_and_filter(boxes, s["labels"], new_h, new_w)
        return _with(s, img=img, boxes=boxes, labels=labels)


class RandomCrop:
    """Absolute crop of at most crop_size (H, W) at a uniform offset; boxes clipped, empty ones dropped.

    Returns None when the image had boxes and none survive (mmdet allow_negative_crop=False: the dataset
    then retries with another image). Images without boxes are cropped as is.
    """

    def __init__(self, crop_size, allow_negative_crop: bool = False):
        self.crop_hw = as_hw(crop_size, "crop_size")
        self.allow_negative_crop = bool(allow_negative_crop)

    def __call__(self, s: dict, rng: np.random.Generator) -> dict | None:
        img = s["img"]
        h, w = img.shape[:2]
        ch, cw = min(self.crop_hw[0], h), min(self.crop_hw[1], w)
        off_h = int(rng.integers(0, h - ch + 1))
        off_w = int(rng.integers(0, w - cw + 1))
        img = img[off_h:off_h + ch, off_w:off_w + cw]
        boxes = s["boxes"] - np.array([off_w, off_h, off_w, off_h], np.float32)
        boxes, labels = clip_and_filter(boxes, s["labels"], ch, cw)
        if len(s["boxes"]) and not len(boxes) and not self.allow_negative_crop:
            return None
        return _with(s, img=img, boxes=boxes, labels=labels)


class YOLOXHSVRandomAug:
    """Random HSV gains (each channel on or off with p=0.5), hue wraps at 180, S/V clipped."""

    def __init__(self, hue_delta: int = 5, saturation_delta: int = 30, value_delta: int = 30):
        self.deltas = np.array([hue_delta, saturation_delta, value_delta], np.float64)

    def __call__(self, s: dict, rng: np.random.Generator) -> dict:
        gains = rng.uniform(-1, 1, 3) * self.deltas
        gains *= rng.integers(0, 2, 3)
        gains = gains.astype(np.int16)  # truncation toward zero, like mmdet
        hsv = cv2.cvtColor(s["img"], cv2.COLOR_BGR2HSV).astype(np.int16)
        hsv[..., 0] = (hsv[..., 0] + gains[0]) % 180
        hsv[..., 1] = np.clip(hsv[..., 1] + gains[1], 0, 255)
        hsv[..., 2] = np.clip(hsv[..., 2] + gains[2], 0, 255)
        return _with(s, img=cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR))


class RandomFlip:
    """Horizontal flip with probability prob."""

    def __init__(self, prob: float = 0.5, direction: str = "horizontal"):
        if direction != "horizontal":
            raise ValueError(f"direction={direction!r}: only 'horizontal' is supported")
        if not 0 <= prob <= 1:
            raise ValueError(f"prob={prob!r} must be in [0, 1]")
        self.prob = float(prob)

    def __call__(self, s: dict, rng: np.random.Generator) -> dict:
        if rng.random() >= self.prob:
            return s
        w = s["img"].shape[1]
        boxes = s["boxes"].copy()
        boxes[:, 0], boxes[:, 2] = w - s["boxes"][:, 2], w - s["boxes"][:, 0]
        return _with(s, img=np.ascontiguousarray(s["img"][:, ::-1]), boxes=boxes)


class Pad:
    """Pad bottom/right to size (H, W) with pad_val; a larger image is left as is."""

    def __init__(self, size, pad_val: float = DEFAULT_PAD_VALUE):
        self.size_hw = as_hw(size, "size")
        self.pad_val = _pad_value(pad_val)

    def __call__(self, s: dict, rng: np.random.Generator) -> dict:
        img = s["img"]
        h, w = img.shape[:2]
        H, W = max(self.size_hw[0], h), max(self.size_hw[1], w)
        if (H, W) == (h, w):
            return s
        out = np.full((H, W, 3), self.pad_val, np.uint8)
        out[:h, :w] = img
        return _with(s, img=out)


class LetterResize:
    """Test-time letterbox (preprocess.letterbox); records `scale` and `pad` (top, left) for rescaling."""

    def __init__(self, size, pad_val: float = DEFAULT_PAD_VALUE):
        self.size_hw = as_hw(size, "size")
        self.pad_val = _pad_value(pad_val)

    def __call__(self, s: dict, rng: np.random.Generator | None = None) -> dict:
        img, scale, pad = letterbox(s["img"], self.size_hw, self.pad_val)
        boxes = s["boxes"] * np.float32(scale) + np.array([pad[1], pad[0]] * 2, np.float32)
        boxes, labels = clip_and_filter(boxes, s["labels"], *self.size_hw)
        return _with(s, img=img, boxes=boxes, labels=labels, scale=scale, pad=pad)


class StretchToAspect:
    """Resize to the aspect ratio of `size_hw` ignoring the image's own (what a 'stretch' runtime does to
    every frame), at up to twice the target resolution so later zooms keep detail; boxes follow."""

    def __init__(self, size_hw, max_scale: float = 2.0):
        self.size_hw = as_hw(size_hw, "size")
        self.max_scale = float(max_scale)

    def __call__(self, s: dict, rng: np.random.Generator | None = None) -> dict:
        h, w = s["img"].shape[:2]
        H, W = self.size_hw
        k = min(max(h / H, w / W), self.max_scale)
        new_h, new_w = max(int(round(H * k)), 1), max(int(round(W * k)), 1)
        if (new_h, new_w) == (h, w):
            return s
        img = resize_img(s["img"], new_w, new_h)
        boxes = s["boxes"] * np.array([new_w / w, new_h / h] * 2, np.float32)
        return _with(s, img=img, boxes=boxes)


def _pad_value(v) -> int:
    if isinstance(v, dict):  # mmdet style pad_val=dict(img=(114, 114, 114))
        v = v.get("img", DEFAULT_PAD_VALUE)
    if isinstance(v, (list, tuple)):
        if len(set(v)) != 1:
            raise ValueError(f"pad_val={v!r}: per-channel values must be equal")
        v = v[0]
    if not isinstance(v, (int, float)) or not 0 <= v <= 255:
        raise ValueError(f"pad_val={v!r} must be a number in [0, 255]")
    return int(v)
