"""The one preprocessing definition: resize (letterbox or stretch), colour order and normalisation.

Training, calibration, export, QAT, evaluation and inference all go through `Preprocess`, so a model never
sees differently prepared pixels at train and deploy time. Images travel as uint8 BGR (OpenCV's order) until
`normalize` (network input) or `to_color` (an exported file's input order); nothing else flips channels or
applies mean/std.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import cv2
import numpy as np

from ..errors import ConfigError

COLORS = ("bgr", "rgb")
RESIZES = ("letterbox", "stretch")
INTERPOLATIONS = ("linear", "nearest", "nearest-float")
DEFAULT_PAD_VALUE = 114
# SSCMA-Micro writes pixel - 128 into an int8 input; a mean of 128 on every channel makes that the network input
# times 1/std, which the first convolution absorbs exactly (its zero padding stays zero: runtime.wrapper).
CENTRE = 128.0
_KEYS = ("color", "mean", "std", "pad_value", "resize", "interpolation")


@dataclass(frozen=True)
class Geometry:
    """Where an original (h, w) image lies in the network input: input = original * scale + (left, top)."""
    scale: tuple[float, float]   # (sx, sy)
    pad: tuple[int, int]         # (top, left)
    ori_hw: tuple[int, int]


@dataclass(frozen=True)
class Preprocess:
    """Resize, colour order and per-channel mean/std applied to uint8 BGR pixels.

    `color` is the channel order the network was trained on; `mean`/`std` are given in that order (as
    mmdet's data_preprocessor with bgr_to_rgb), so color='bgr' means mean[0] applies to blue.
    `resize`: 'letterbox' keeps the aspect ratio and pads bottom/right with `pad_value` (mmdet's test
    pipeline); 'stretch' resizes to (H, W) ignoring it (SSCMA-Micro). `interpolation` 'nearest' is
    SSCMA-Micro v2's 16.16 fixed-point sampler, 'nearest-float' v1's float-ratio one, bit for bit.
    """
    color: str = "bgr"
    mean: tuple[float, float, float] = (103.53, 116.28, 123.675)
    std: tuple[float, float, float] = (57.375, 57.12, 58.395)
    pad_value: int = DEFAULT_PAD_VALUE
    resize: str = "letterbox"
    interpolation: str = "linear"

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None, target=None) -> "Preprocess":
        """From the config's `preprocess` dict (or a sidecar's); `target` (a targets.Target) supplies resize
        and interpolation unless the dict sets them. A wrong key or value raises ConfigError."""
        cfg = dict(cfg.to_dict() if hasattr(cfg, "to_dict") else cfg or {})
        unknown = sorted(set(cfg) - set(_KEYS))
        if unknown:
            raise ConfigError(f"preprocess: unknown key(s) {unknown}; allowed: {', '.join(_KEYS)}")
        if target is not None:
            cfg.setdefault("resize", target.resize)
            cfg.setdefault("interpolation", target.interpolation)
        color = _choice(cfg.get("color", "bgr"), COLORS, "color")
        mean = _three_floats(cfg.get("mean", cls.mean), "mean")
        std = _three_floats(cfg.get("std", cls.std), "std")
        if any(s <= 0 for s in std):
            raise ConfigError(f"preprocess.std={list(std)} must be positive")
        pad = cfg.get("pad_value", DEFAULT_PAD_VALUE)
        if isinstance(pad, bool) or not isinstance(pad, (int, float)) or not 0 <= pad <= 255:
            raise ConfigError(f"preprocess.pad_value={pad!r} must be a number in [0, 255]")
        return cls(color=color, mean=mean, std=std, pad_value=int(pad),
                   resize=_choice(cfg.get("resize", "letterbox"), RESIZES, "resize"),
                   interpolation=_choice(cfg.get("interpolation", "linear"), INTERPOLATIONS, "interpolation"))

    def to_dict(self) -> dict:
        """Plain dict (JSON-friendly) with the same keys as the config's `preprocess`."""
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    def differences(self, other: "Preprocess") -> list[str]:
        """Fields that differ from `other`, as 'name: mine vs theirs' (numbers compared to 1e-6)."""
        out = []
        for key in _KEYS:
            a, b = getattr(self, key), getattr(other, key)
            same = a == b if isinstance(a, str) else np.allclose(np.asarray(a, float), np.asarray(b, float),
                                                                 rtol=0, atol=1e-6)
            if not same:
                out.append(f"{key}: {a!r} vs {b!r}")
        return out

    # ---- geometry ---------------------------------------------------------------------------------
    def prepare(self, img_bgr: np.ndarray, size_hw: Sequence[int]) -> tuple[np.ndarray, Geometry]:
        """(h, w, 3) uint8 BGR -> ((H, W, 3) uint8 BGR network-sized image, its Geometry)."""
        if img_bgr.ndim != 3 or img_bgr.shape[2] != 3:
            raise ValueError(f"expected an (h, w, 3) image, got shape {img_bgr.shape}")
        h, w = img_bgr.shape[:2]
        H, W = int(size_hw[0]), int(size_hw[1])
        if self.resize == "letterbox":
            out, scale, pad = letterbox(img_bgr, (H, W), self.pad_value, self.interpolation)
            return out, Geometry((scale, scale), pad, (h, w))
        return resize_to(img_bgr, (H, W), self.interpolation), Geometry((W / w, H / h), (0, 0), (h, w))

    def letterbox(self, img_bgr: np.ndarray, size_hw: Sequence[int]):
        """`prepare` in the tuple form of `letterbox`: (img, scale or (sx, sy), (pad_top, pad_left))."""
        img, g = self.prepare(img_bgr, size_hw)
        return img, (g.scale[0] if g.scale[0] == g.scale[1] else g.scale), g.pad

    # ---- pixels -----------------------------------------------------------------------------------
    def normalize(self, x):
        """uint8 BGR batch (N,H,W,3) or (N,3,H,W), numpy or torch -> float32 torch (N,3,H,W) network input."""
        return normalize(x, self)

    def from_input(self, raw, input_color: str):
        """Raw pixels (N,H,W,3) float/uint8 in `input_color` order (an exported file's input) -> the network
        input (N,3,H,W) float32 torch, as `normalize` gives it for the same image."""
        return normalize(to_color(raw, input_color), self)  # the flip is its own inverse: back to BGR

    @property
    def centred(self) -> bool:
        """True when the mean is CENTRE on every channel: the normalisation is (pixel - 128) / std, which an
        export folds into the first convolution exactly (no elementwise op on the input)."""
        return bool(np.allclose(self.mean, CENTRE, rtol=0, atol=1e-6))

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(scale (3,), bias (3,)) float32 with network input = pixel * scale + bias, in `self.color` order:
        the normalisation an exported graph folds in and QAT models."""
        std, mean = np.asarray(self.std, np.float32), np.asarray(self.mean, np.float32)
        return (1.0 / std).astype(np.float32), (-mean / std).astype(np.float32)


def to_color(x, color: str, axis: int = -1):
    """A BGR batch (numpy or torch) in channel order `color` along `axis`: the one colour flip."""
    if color not in COLORS:
        raise ValueError(f"color={color!r} must be one of {COLORS}")
    if color == "bgr":
        return x
    if isinstance(x, np.ndarray):
        return np.flip(x, axis=axis)
    return x.flip(axis)


def _choice(v, choices: tuple[str, ...], name: str) -> str:
    s = str(v).lower()
    if s not in choices:
        raise ConfigError(f"preprocess.{name}={v!r} must be one of {', '.join(repr(c) for c in choices)}")
    return s


def _three_floats(v, name: str) -> tuple[float, float, float]:
    try:
        out = tuple(float(x) for x in v)
    except (TypeError, ValueError):
        raise ConfigError(f"preprocess.{name}={v!r} must be a list of 3 numbers") from None
    if len(out) != 3 or not all(np.isfinite(out)):
        raise ConfigError(f"preprocess.{name}={v!r} must be a list of 3 finite numbers")
    return out  # type: ignore[return-value]


def nearest_fixed_point(img: np.ndarray, size_hw: Sequence[int]) -> np.ndarray:
    """SSCMA-Micro's nearest sampler: source index (i * ((src << 16) // dst)) >> 16 per axis (integers)."""
    h, w = img.shape[:2]
    H, W = int(size_hw[0]), int(size_hw[1])
    rows = (np.arange(H, dtype=np.int64) * ((h << 16) // H)) >> 16
    cols = (np.arange(W, dtype=np.int64) * ((w << 16) // W)) >> 16
    return np.ascontiguousarray(img[rows[:, None], cols[None, :]])


def nearest_float_ratio(img: np.ndarray, size_hw: Sequence[int]) -> np.ndarray:
    """SSCMA-Micro v1's nearest sampler (el_cv): source index int(i * (src / dst)), in float32, per axis."""
    h, w = img.shape[:2]
    H, W = int(size_hw[0]), int(size_hw[1])
    rows = (np.arange(H, dtype=np.float32) * np.float32(h / H)).astype(np.int64)
    cols = (np.arange(W, dtype=np.float32) * np.float32(w / W)).astype(np.int64)
    return np.ascontiguousarray(img[np.minimum(rows, h - 1)[:, None], np.minimum(cols, w - 1)[None, :]])


def resize_to(img: np.ndarray, size_hw: Sequence[int], interpolation: str = "linear") -> np.ndarray:
    """Resize to exactly (H, W): cv2 bilinear, or a firmware's nearest sampler; unchanged size is a no-op."""
    H, W = int(size_hw[0]), int(size_hw[1])
    if img.shape[:2] == (H, W):
        return img
    if interpolation == "nearest":
        return nearest_fixed_point(img, (H, W))
    if interpolation == "nearest-float":
        return nearest_float_ratio(img, (H, W))
    return cv2.resize(img, (W, H), interpolation=cv2.INTER_LINEAR)


def letterbox(img_bgr: np.ndarray, size_hw: Sequence[int], pad_value: float = DEFAULT_PAD_VALUE,
              interpolation: str = "linear") -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize keeping the aspect ratio to fit (H, W), then pad bottom/right (mmdet test pipeline).

    Args:
        img_bgr: (h, w, 3) uint8.
        size_hw: target (H, W).
    Returns:
        out (H, W, 3) uint8, scale (new = old * scale), (pad_top, pad_left) which is always (0, 0).
    """
    if img_bgr.ndim != 3 or img_bgr.shape[2] != 3:
        raise ValueError(f"letterbox expects an (h, w, 3) image, got shape {img_bgr.shape}")
    H, W = int(size_hw[0]), int(size_hw[1])
    h, w = img_bgr.shape[:2]
    scale = min(H / h, W / w)
    new_w = min(max(int(w * scale + 0.5), 1), W)
    new_h = min(max(int(h * scale + 0.5), 1), H)
    resized = resize_to(img_bgr, (new_h, new_w), interpolation)
    out = np.full((H, W, 3), pad_value, dtype=np.uint8)
    out[:new_h, :new_w] = resized
    return out, float(scale), (0, 0)


def normalize(x, preprocess: Preprocess | None = None):
    """Apply colour order and mean/std.

    Args:
        x: uint8 BGR, numpy or torch, (N,H,W,3) or (N,3,H,W) (a single (H,W,3)/(3,H,W) image is
           treated as N=1). A dimension of size 3 in position 1 means NCHW.
    Returns:
        float32 torch tensor (N,3,H,W) on x's device (numpy input -> CPU).
    """
    import torch

    pre = preprocess or Preprocess()
    t = torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x
    if t.ndim == 3:
        t = t.unsqueeze(0)
    if t.ndim != 4 or 3 not in (t.shape[1], t.shape[3]):
        raise ValueError(f"normalize expects (N,H,W,3) or (N,3,H,W), got {tuple(t.shape)}")
    if t.shape[1] != 3:
        t = t.permute(0, 3, 1, 2)
    t = to_color(t.float(), pre.color, axis=1)
    scale, bias = (torch.from_numpy(v).to(t.device).view(1, 3, 1, 1) for v in pre.affine())
    return (t * scale + bias).contiguous()
