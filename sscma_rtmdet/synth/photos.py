"""The real photos that the scikit-image wheel ships (`skimage/data/`), found without importing skimage.

`load_photos()` gives the PHOTOS (the photo-objects benchmark's backgrounds and object textures) as BGR
uint8; `photo_background` is a zoomed, mirrored, colour-jittered crop of one of them. The package is in
requirements/bench.txt; a missing one is a UserError naming it and the install command.
"""
from __future__ import annotations

import functools
import importlib.util
import struct
from pathlib import Path

import cv2
import numpy as np

from ..errors import UserError

PHOTOS = ("astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png",
          "coffee.png", "coins.png", "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png",
          "moon.png", "motorcycle_left.png", "motorcycle_right.png", "page.png", "retina.jpg", "rocket.jpg",
          "text.png")
INSTALL_HINT = ".venv/bin/python -m pip install --no-deps scikit-image==0.25.2"


def _strip_iccp(data: bytes) -> bytes:
    """PNG bytes without iCCP chunks (some skimage PNGs carry one that makes libpng print warnings)."""
    if not data.startswith(b"\x89PNG"):
        return data
    out, pos = [data[:8]], 8
    while pos + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind != b"iCCP":
            out.append(data[pos:pos + 12 + n])
        pos += 12 + n
    return b"".join(out)


def wheel_files(names, package: str = "skimage", sub: str = "data", pin: str = "scikit-image==0.25.2",
                hint: str = INSTALL_HINT) -> Path:
    """The folder `sub` of an installed package holding every file of `names`, found without importing the
    package; UserError naming the package and how to install it if any is missing."""
    spec = importlib.util.find_spec(package)  # locates the wheel without executing the package
    folder = Path(spec.submodule_search_locations[0]) / sub if spec and spec.submodule_search_locations \
        else None
    missing = [p for p in names if folder is None or not (folder / p).is_file()]
    if missing:
        raise UserError(f"the real photos come from the {pin.split('==')[0]} wheel (package {pin}), "
                        f"but {', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''} not found "
                        f"in {folder or f'any {package} folder'}; install it with `{hint}` "
                        "(or run bash scripts/setup_env.sh)")
    return folder


@functools.lru_cache(maxsize=1)
def load_photos() -> tuple[np.ndarray, ...]:
    """The PHOTOS as BGR uint8 (h, w, 3), in PHOTOS order; UserError naming the package if missing."""
    folder = wheel_files(PHOTOS)
    photos = []
    for name in PHOTOS:
        buf = np.frombuffer(_strip_iccp((folder / name).read_bytes()), np.uint8)
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        if img is None:
            raise UserError(f"cannot decode {folder / name}; reinstall with `{INSTALL_HINT}`")
        photos.append(img)
    return tuple(photos)


@functools.lru_cache(maxsize=1)
def _gray_flags() -> tuple[bool, ...]:
    """Per photo: True if stored in grey levels (all three channels equal)."""
    return tuple(bool((p[..., 0] == p[..., 1]).all() and (p[..., 1] == p[..., 2]).all())
                 for p in load_photos())


def photo_background(rng: np.random.Generator, photos, h: int, w: int) -> np.ndarray:
    """(h, w, 3) float32 BGR: a zoomed, maybe mirrored crop of a random photo with colour jitter."""
    weights = np.where(_gray_flags(), 1.0, 2.0)  # colour photos twice as often
    k = int(rng.choice(len(photos), p=weights / weights.sum()))
    src = photos[k]
    ph, pw = src.shape[:2]
    zoom = rng.uniform(0.5, 1.5)
    ch, cw = h / zoom, w / zoom
    f = min(1.0, ph / ch, pw / cw)  # the crop must fit in the photo
    ch, cw = max(int(ch * f), 8), max(int(cw * f), 8)
    y0, x0 = int(rng.integers(ph - ch + 1)), int(rng.integers(pw - cw + 1))
    crop = src[y0:y0 + ch, x0:x0 + cw]
    img = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA if cw > w else cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        img = img[:, ::-1]
    hsv = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-5, 5)) % 180  # OpenCV hue: 2 degrees per unit
    hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.7, 1.3), 0, 255)
    img = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    mean = float(img.mean())
    img = (img - mean) * rng.uniform(0.75, 1.25) + mean + rng.uniform(-30, 30)
    tint = 0.18 if _gray_flags()[k] else 0.08  # grey photos get a stronger colour cast
    img = img * rng.uniform(1 - tint, 1 + tint, size=3).astype(np.float32)  # white balance
    return np.clip(img, 0, 255)
