"""Objects cut from pictures that installed wheels ship, none of them a photo of the benchmarks (photos.PHOTOS).

- faces: the 100 face crops of scikit-image's `lfw_subset.npy` (25x25 grey, Labeled Faces in the Wild);
  its 100 non-face crops are the distractors that go with them. Cut with a soft oval, tinted.
- horse: the silhouette of scikit-image's `horse.png`, painted with a style colour and a texture.
- texture: matplotlib's sample photo `grace_hopper.jpg` (grey) as one more texture source for painted parts.
Each layer maker returns a photo_layers layer centred at (cx, cy) with its long side `side` pixels.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np

from .paint import light_gradient, style_colour, texture
from .photos import wheel_files

_SKIMAGE_FILES = ("lfw_subset.npy", "horse.png")
_MPL_PHOTO = "grace_hopper.jpg"


@functools.lru_cache(maxsize=1)
def sources() -> dict:
    """dict(faces (100, 25, 25), nonfaces (100, 25, 25) float32 0..1, horse (h, w) float32 alpha,
    textures (grey (h, w) float32 0..1, ...)); UserError naming the package when a file is missing."""
    folder = wheel_files(_SKIMAGE_FILES)
    lfw = np.load(folder / "lfw_subset.npy", allow_pickle=False).astype(np.float32)
    horse = cv2.imread(str(folder / "horse.png"), cv2.IMREAD_GRAYSCALE)
    alpha = (horse < 128).astype(np.float32)  # black horse on white
    ys, xs = np.nonzero(alpha)
    mpl = wheel_files((_MPL_PHOTO,), "matplotlib", "mpl-data/sample_data", "matplotlib==3.11.2",
                      ".venv/bin/python -m pip install matplotlib==3.11.2")
    grace = cv2.imread(str(mpl / _MPL_PHOTO), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255
    return dict(faces=lfw[:100], nonfaces=lfw[100:], horse=alpha[ys.min():ys.max() + 1, xs.min():xs.max() + 1],
                textures=(grace,))


def _layer(rng, label: int, alpha: np.ndarray, bgr: np.ndarray, cx: float, cy: float) -> dict:
    sh, sw = alpha.shape
    return dict(label=label, x0=int(round(cx)) - sw // 2, y0=int(round(cy)) - sh // 2, alpha=alpha, bgr=bgr,
                area=int((alpha >= 0.5).sum()), shadow=float(rng.uniform(0.2, 0.5)) if rng.random() < 0.3 else 0.0,
                shift=tuple(int(v) for v in rng.integers(-3, 4, 2)))


def _warp(img: np.ndarray, side: float, angle: float, mirror: bool, aspect: float = 1.0) -> np.ndarray:
    """Resize (long side -> side px, x stretched by aspect), mirror and rotate (degrees) an (h, w[, c]) map,
    on a canvas that holds the rotated result."""
    h, w = img.shape[:2]
    k = side / max(h, w)
    out_w, out_h = max(int(round(w * k * aspect)), 2), max(int(round(h * k)), 2)
    img = cv2.resize(img, (out_w, out_h), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC)
    img = img[:, ::-1] if mirror else img
    s = int(np.ceil(np.hypot(out_w, out_h))) + 2
    m = cv2.getRotationMatrix2D((out_w / 2, out_h / 2), angle, 1.0)
    m[:, 2] += [(s - out_w) / 2, (s - out_h) / 2]
    return cv2.warpAffine(np.ascontiguousarray(img), m, (s, s), flags=cv2.INTER_LINEAR)


def _crop(alpha: np.ndarray, bgr: np.ndarray):
    ys, xs = np.nonzero(alpha > 0.02)
    if len(ys) == 0:
        return alpha[:1, :1] * 0, bgr[:1, :1]
    sl = (slice(max(ys.min() - 1, 0), ys.max() + 2), slice(max(xs.min() - 1, 0), xs.max() + 2))
    return alpha[sl], bgr[sl]


def face_layer(rng: np.random.Generator, label: int, side: float, cx: float, cy: float, face: bool = True) -> dict:
    """A tinted LFW crop (a face, or with face=False one of the non-face crops) inside a soft oval."""
    pool = sources()["faces" if face else "nonfaces"]
    grey = pool[int(rng.integers(len(pool)))]
    oval = np.zeros((100, 100), np.float32)
    cv2.ellipse(oval, (50, 50), (int(rng.uniform(38, 46)), 49), 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    oval = cv2.GaussianBlur(oval, (0, 0), 2.0)
    tint = style_colour(rng, "skin" if rng.random() < 0.8 else "light") / 255
    colour = cv2.resize(grey, (100, 100), interpolation=cv2.INTER_CUBIC)[..., None] * tint * 255 * 1.3
    angle, mirror, aspect = rng.uniform(-20, 20), rng.random() < 0.5, rng.uniform(0.85, 1.1)
    alpha = np.clip(_warp(oval, side, angle, mirror, aspect), 0, 1)
    bgr = _warp(np.clip(colour, 0, 255).astype(np.float32), side, angle, mirror, aspect)
    return _layer(rng, label, *_crop(alpha, bgr), cx, cy)


def horse_layer(rng: np.random.Generator, label: int, side: float, cx: float, cy: float) -> dict:
    """The horse silhouette, mirrored half of the time, rotated +-15 degrees, painted and textured."""
    alpha = np.clip(_warp(sources()["horse"], side, rng.uniform(-15, 15), rng.random() < 0.5,
                          rng.uniform(0.85, 1.15)), 0, 1)
    h, w = alpha.shape
    style = ("any", "wood", "dark", "light")[int(rng.integers(4))]
    shade = light_gradient(rng, h, w) * texture(rng, h, w, sources()["textures"])
    bgr = style_colour(rng, style) * shade[..., None]
    return _layer(rng, label, *_crop(alpha, np.clip(bgr, 0, 255).astype(np.float32)), cx, cy)
