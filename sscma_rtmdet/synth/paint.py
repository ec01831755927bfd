"""Surfaces of generated objects: colours drawn by style, procedural textures, shading.

Colours are BGR float32 in 0..255. A texture is a multiplicative (h, w) float32 map around 1 (stripes,
checks, dots, blotches, grain, or a grey photo crop when `sources` are given). Shading: a directional light
gradient, cylinder shading across a part, and a bevel that lights the edges of an alpha mask.
"""
from __future__ import annotations

import colorsys

import cv2
import numpy as np

# style -> (hue range in degrees, saturation range, value range); "any" spans every hue
STYLES = {
    "any": ((0, 360), (0.35, 0.95), (0.35, 1.0)),
    "dark": ((0, 360), (0.0, 0.35), (0.06, 0.28)),
    "light": ((0, 360), (0.0, 0.18), (0.82, 1.0)),
    "metal": ((190, 230), (0.0, 0.12), (0.5, 0.9)),
    "gold": ((38, 52), (0.45, 0.75), (0.6, 0.95)),
    "wood": ((18, 36), (0.45, 0.8), (0.3, 0.7)),
    "green": ((75, 150), (0.4, 0.9), (0.25, 0.75)),
    "glass": ((0, 360), (0.03, 0.3), (0.75, 1.0)),
    "warm": ((-20, 50), (0.6, 1.0), (0.65, 1.0)),
    "red": ((-8, 8), (0.75, 1.0), (0.7, 1.0)),
    "yellow": ((45, 60), (0.75, 1.0), (0.8, 1.0)),
    "lime": ((100, 140), (0.7, 1.0), (0.6, 1.0)),
    "skin": ((15, 35), (0.2, 0.55), (0.45, 0.95)),
}


def style_colour(rng: np.random.Generator, style: str) -> np.ndarray:
    """A BGR float32 (3,) colour of `style` (a STYLES key)."""
    (h0, h1), (s0, s1), (v0, v1) = STYLES[style]
    rgb = colorsys.hsv_to_rgb((rng.uniform(h0, h1) % 360) / 360, rng.uniform(s0, s1), rng.uniform(v0, v1))
    return np.float32(rgb[::-1]) * 255


def texture(rng: np.random.Generator, h: int, w: int, sources: tuple = ()) -> np.ndarray:
    """(h, w) float32 multiplicative texture around 1: plain (25%), stripes, checks, dots, blotches, grain,
    or a grey photo crop from `sources` ((H, W) float32 arrays in 0..1)."""
    kind = int(rng.integers(7 if sources else 6))
    amp = np.float32(rng.uniform(0.06, 0.3))
    if kind == 0 or rng.random() < 0.1:
        return np.ones((h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang, period = rng.uniform(0, np.pi), rng.uniform(3, max(4.0, min(h, w) / 2))
    u, v = xx * np.cos(ang) + yy * np.sin(ang), yy * np.cos(ang) - xx * np.sin(ang)
    if kind == 1:  # stripes
        t = np.sign(np.sin(u * 2 * np.pi / period))
    elif kind == 2:  # checks
        t = np.sign(np.sin(u * np.pi / period) * np.sin(v * np.pi / period))
    elif kind == 3:  # dots
        t = (np.hypot((u % period) - period / 2, (v % period) - period / 2) < period / 4).astype(np.float32) * 2 - 1
    elif kind == 4:  # blotches: upsampled noise
        small = rng.uniform(-1, 1, (max(h // 6, 2), max(w // 6, 2))).astype(np.float32)
        t = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    elif kind == 5:  # grain: wood-like rings
        t = np.sin(np.hypot(u - rng.uniform(-w, w), v) * 2 * np.pi / period + rng.uniform(0, 3) * np.sin(v / period))
    else:
        t = _photo_crop(rng, sources[int(rng.integers(len(sources)))], h, w)
    return 1.0 + amp * np.clip(t, -1.5, 1.5).astype(np.float32)


def _photo_crop(rng: np.random.Generator, src: np.ndarray, h: int, w: int) -> np.ndarray:
    """(h, w) zero-mean unit-ish crop of a grey photo, zoomed 0.5-2x."""
    k = rng.uniform(0.5, 2.0)
    th, tw = min(src.shape[0], max(int(h * k), 2)), min(src.shape[1], max(int(w * k), 2))
    y0, x0 = int(rng.integers(src.shape[0] - th + 1)), int(rng.integers(src.shape[1] - tw + 1))
    crop = cv2.resize(src[y0:y0 + th, x0:x0 + tw], (w, h), interpolation=cv2.INTER_LINEAR)
    return (crop - crop.mean()) / (crop.std() + 0.05)


def light_gradient(rng: np.random.Generator, h: int, w: int, strength: tuple = (0.2, 0.7)) -> np.ndarray:
    """(h, w) float32 around 1: brighter towards a random light direction."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    grad = ((xx - w / 2) * np.cos(ang) + (yy - h / 2) * np.sin(ang)) / max(h, w, 1)
    return (1.0 + np.float32(rng.uniform(*strength)) * grad).astype(np.float32)


def cylinder(t: np.ndarray, highlight: float) -> np.ndarray:
    """Brightness across a cylinder; t in [-1, 1] from one silhouette edge to the other (any shape)."""
    t = np.clip(t, -1, 1)
    return (0.62 + 0.45 * np.sqrt(1 - t * t) + highlight * np.exp(-((t + 0.4) / 0.16) ** 2)).astype(np.float32)


def bevel(alpha: np.ndarray, angle: float, strength: float, width: float) -> np.ndarray:
    """(h, w) float32 around 1: edges facing the light (angle in radians) brighter, the others darker."""
    soft = cv2.GaussianBlur(alpha, (0, 0), max(width, 0.5))
    gy, gx = np.gradient(soft)
    shade = -(gx * np.cos(angle) + gy * np.sin(angle)) * width * 2
    return (1.0 + strength * np.clip(shade, -1, 1)).astype(np.float32)
