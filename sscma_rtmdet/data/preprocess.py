"""The one preprocessing definition: letterbox resize and normalisation.

Training, evaluation, export, calibration and inference all go through `Preprocess` so that a model never
sees differently prepared pixels at train and deploy time. Images travel as uint8 BGR until `normalize`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import cv2
import numpy as np

from ..errors import ConfigError

_COLORS = ("bgr", "rgb")


@dataclass(frozen=True)
class Preprocess:
    """Colour order and per-channel mean/std applied to uint8 BGR pixels.

    `mean`/`std` are given in the order of the channels *after* the colour conversion (as mmdet's
    data_preprocessor with bgr_to_rgb), so color='bgr' means mean[0] applies to blue.
    """
    color: str = "bgr"
    mean: tuple[float, float, float] = (103.53, 116.28, 123.675)
    std: tuple[float, float, float] = (57.375, 57.12, 58.395)
    pad_value: int = 114

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None) -> "Preprocess":
        """Build from the config's `preprocess` dict; a wrong key or value raises ConfigError."""
        if cfg is None:
            return cls()
        cfg = dict(cfg.to_dict() if hasattr(cfg, "to_dict") else cfg)
        unknown = sorted(set(cfg) - {"color", "mean", "std", "pad_value"})
        if unknown:
            raise ConfigError(f"preprocess: unknown key(s) {unknown}; allowed: color, mean, std, pad_value")
        color = str(cfg.get("color", "bgr")).lower()
        if color not in _COLORS:
            raise ConfigError(f"preprocess.color={cfg.get('color')!r} must be 'bgr' or 'rgb'")
        mean = _three_floats(cfg.get("mean", cls.mean), "mean")
        std = _three_floats(cfg.get("std", cls.std), "std")
        if any(s <= 0 for s in std):
            raise ConfigError(f"preprocess.std={list(std)} must be positive")
        pad = cfg.get("pad_value", 114)
        if not isinstance(pad, (int, float)) or not 0 <= pad <= 255:
            raise ConfigError(f"preprocess.pad_value={pad!r} must be a number in [0, 255]")
        return cls(color=color, mean=mean, std=std, pad_value=int(pad))

    def to_dict(self) -> dict:
        """Plain dict (JSON-friendly) with the same keys as the config's `preprocess`."""
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d

    def normalize(self, x):
        """uint8 BGR batch (N,H,W,3) or (N,3,H,W), numpy or torch -> float32 torch (N,3,H,W)."""
        return normalize(x, self)

    def letterbox(self, img_bgr: np.ndarray, size_hw: Sequence[int]):
        """`letterbox` with this definition's pad value."""
        return letterbox(img_bgr, size_hw, self.pad_value)


def _three_floats(v, name: str) -> tuple[float, float, float]:
    try:
        out = tuple(float(x) for x in v)
    except (TypeError, ValueError):
        raise ConfigError(f"preprocess.{name}={v!r} must be a list of 3 numbers") from None
    if len(out) != 3 or not all(np.isfinite(out)):
        raise ConfigError(f"preprocess.{name}={v!r} must be a list of 3 finite numbers")
    return out  # type: ignore[return-value]


def letterbox(img_bgr: np.ndarray, size_hw: Sequence[int], pad_value: float = 114
              ) -> tuple[np.ndarray, float, tuple[int, int]]:
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
    resized = img_bgr if (new_w, new_h) == (w, h) else cv2.resize(
        img_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
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
    t = t.float()
    if pre.color == "rgb":
        t = t.flip(1)
    mean = torch.tensor(pre.mean, dtype=torch.float32, device=t.device).view(1, 3, 1, 1)
    std = torch.tensor(pre.std, dtype=torch.float32, device=t.device).view(1, 3, 1, 1)
    return ((t - mean) / std).contiguous()
