"""Calibration images for int8 export, prepared exactly like evaluation (Preprocess) and cached on disk.

The array is in the exported graph's input domain: NHWC float32, raw pixels 0..255 in the file's input
colour order when normalisation is folded into the graph, else the normalised network input.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data.preprocess import Preprocess, to_color
from ..errors import DataError, UserError
from ..utils.fileio import atomic_write

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jpe", ".jp2", ".pgm",
                        ".ppm", ".pbm"})
#: Calibration batches are cached in the user's cache folder (utils.paths.cache_dir).
DEFAULT_CALIB_NUM = 200  # images int8 PTQ and QAT's PTQ start calibrate on (the one definition)


def find_images(folder: str | os.PathLike) -> list[Path]:
    """All images under `folder` (recursive, any common extension, case-insensitive), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"calibration folder {folder} does not exist or is not a folder; "
                        "pass a folder of images (e.g. the training images)")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise UserError(f"no images found under {folder} (looked recursively for "
                        f"{', '.join(sorted(IMAGE_EXTS))}); point the calibration option at a folder of images")
    return files


def select_files(files: Sequence[Path], n: int) -> list[Path]:
    """`n` files spread evenly over the sorted list (deterministic, covers the whole set)."""
    files = sorted(Path(f) for f in files)
    if n <= 0:
        raise UserError(f"number of calibration images must be positive, got {n}")
    if n >= len(files):
        return files
    idx = np.linspace(0, len(files) - 1, n).round().astype(int)
    return [files[i] for i in idx]


def cache_key(files: Sequence[Path], imgsz, preprocess: dict, n: int, normalized: bool, color: str) -> str:
    """Hash of everything the array depends on: file list with mtimes/sizes, size, preprocessing, n, order."""
    stats = []
    for f in sorted(Path(p) for p in files):
        st = f.stat()
        stats.append([str(f.resolve()), st.st_mtime_ns, st.st_size])
    blob = json.dumps({"files": stats, "imgsz": [int(v) for v in imgsz], "pre": preprocess, "n": int(n),
                       "normalized": bool(normalized), "color": color, "v": 2}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def load_prepared(path: Path, imgsz, preprocess: Preprocess) -> np.ndarray:
    """One image -> (H,W,3) uint8 BGR prepared exactly like evaluation (Preprocess.prepare)."""
    from ..data.checks import read_image

    img = read_image(str(path))  # the reader of training and evaluation (EXIF orientation, pixel limit)
    if img is None:
        raise DataError(f"{path}: cannot read image (corrupt or unsupported format); remove it from the "
                        "calibration folder")
    return preprocess.prepare(img, tuple(int(v) for v in imgsz))[0]


def calibration_images(files: Sequence[str | os.PathLike], imgsz, preprocess: Preprocess, n: int,
                       input_color: str | None = None, cache_dir: str | os.PathLike | None = None,
                       normalized: bool = False) -> np.ndarray:
    """(n', H, W, 3) float32 calibration batch in the exported graph's input domain, n' = min(n, len(files));
    cached as .npy under `cache_dir` (None: no cache).

    `normalized=False` gives raw pixels in `input_color` order (default: the training order), for graphs with
    the normalisation folded in; True gives `Preprocess.normalize`'s output (training order), NHWC.
    """
    if not files:
        raise UserError("no calibration images given; pass a folder or list of images")
    preprocess = preprocess if isinstance(preprocess, Preprocess) else Preprocess.from_config(preprocess)
    color = input_color or preprocess.color
    chosen = select_files([Path(f) for f in files], n)
    cache_file = None
    if cache_dir is not None:
        key = cache_key(chosen, imgsz, preprocess.to_dict(), n, normalized, color)
        cache_file = Path(cache_dir) / f"calib_{int(imgsz[0])}x{int(imgsz[1])}_{len(chosen)}_{key}.npy"
        if cache_file.is_file():
            return np.load(cache_file)
    batch = np.stack([load_prepared(f, imgsz, preprocess) for f in chosen])
    if normalized:
        batch = preprocess.normalize(batch).permute(0, 2, 3, 1).numpy()
    else:
        batch = to_color(batch, color)
    batch = np.ascontiguousarray(batch, dtype=np.float32)
    if cache_file is not None:
        with atomic_write(cache_file, suffix=".npy") as tmp:
            np.save(tmp, batch)
    return batch
