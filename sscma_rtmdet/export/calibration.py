"""Calibration images for int8 export, letterboxed exactly like evaluation and cached on disk.

The array is in the exported graph's input domain: NHWC float32, training colour order, raw pixels 0..255
when normalisation is folded into the graph, else (x - mean) / std.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data.preprocess import letterbox
from ..errors import DataError, UserError
from ..utils.fileio import atomic_write

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jpe", ".jp2", ".pgm",
                        ".ppm", ".pbm"})
#: Calibration batches are cached here (keyed by files, imgsz and preprocessing); SSCMA_CALIB_CACHE overrides.
#: Anchored at the toolkit root, never the cwd.
DEFAULT_CACHE_DIR = Path(os.environ.get("SSCMA_CALIB_CACHE", Path(__file__).resolve().parents[2] / "calibration" / "cache"))


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


def cache_key(files: Sequence[Path], imgsz, preprocess: dict, n: int, normalized: bool) -> str:
    """Hash of everything the array depends on: file list with mtimes/sizes, size, preprocessing, n."""
    stats = []
    for f in sorted(Path(p) for p in files):
        st = f.stat()
        stats.append([str(f.resolve()), st.st_mtime_ns, st.st_size])
    blob = json.dumps({"files": stats, "imgsz": [int(v) for v in imgsz], "pre": preprocess, "n": int(n),
                       "normalized": bool(normalized), "v": 1}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def load_letterboxed(path: Path, imgsz, preprocess: dict) -> np.ndarray:
    """One image -> (H,W,3) float32 raw pixels in the training colour order, letterboxed like evaluation."""
    import cv2


    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DataError(f"{path}: cannot read image (corrupt or unsupported format); remove it from the "
                        "calibration folder")
    img, _, _ = letterbox(img, tuple(int(v) for v in imgsz), preprocess.get("pad_value", 114))
    if preprocess.get("color", "bgr") == "rgb":
        img = img[..., ::-1]
    return np.ascontiguousarray(img, dtype=np.float32)


def calibration_images(files: Sequence[str | os.PathLike], imgsz, preprocess: dict, n: int,
                       cache_dir: str | os.PathLike | None = DEFAULT_CACHE_DIR,
                       normalized: bool = False) -> np.ndarray:
    """(n', H, W, 3) float32 calibration batch, n' = min(n, len(files)); cached as .npy under `cache_dir`.

    `normalized=False` gives raw pixels (graphs exported with folded normalisation); True applies
    (x - mean) / std in the colour order of `preprocess`. `cache_dir=None` disables the cache.
    """
    if not files:
        raise UserError("no calibration images given; pass a folder or list of images")
    preprocess = preprocess.to_dict() if hasattr(preprocess, "to_dict") else dict(preprocess)
    chosen = select_files([Path(f) for f in files], n)
    cache_file = None
    if cache_dir is not None:
        key = cache_key(chosen, imgsz, preprocess, n, normalized)
        cache_file = Path(cache_dir) / f"calib_{int(imgsz[0])}x{int(imgsz[1])}_{len(chosen)}_{key}.npy"
        if cache_file.is_file():
            return np.load(cache_file)
    batch = np.stack([load_letterboxed(f, imgsz, preprocess) for f in chosen])
    if normalized:
        batch = (batch - np.asarray(preprocess["mean"], np.float32)) / np.asarray(preprocess["std"], np.float32)
    batch = batch.astype(np.float32)
    if cache_file is not None:
        with atomic_write(cache_file, suffix=".npy") as tmp:
            np.save(tmp, batch)
    return batch
