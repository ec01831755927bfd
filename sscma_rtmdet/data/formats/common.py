"""Pieces every dataset reader shares: split names, image listing and sizes, the COCO dict builder, the
one-warning-per-split summary, and placing images in a converted copy.

A COCO dict built here: images [{id 1..N, file_name (POSIX, relative to the split's image root), width,
height}], annotations [{id 1..M, image_id, category_id, bbox [x, y, w, h] float pixels, area, iscrowd 0}],
categories [{id 0..C-1 in the dataset's class order, name, supercategory 'object'}]. 'object' (not
Roboflow's 'none') so `data.coco.real_categories` never takes a class for a Roboflow placeholder.
"""
from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

from ...errors import DataError, UserError
from ..checks import read_image

SPLITS = ("train", "val", "test")
# Roboflow's folder names; 'val' is accepted too (a hand-made layout often uses it)
SPLIT_FOLDERS = {"train": ("train",), "val": ("valid", "val"), "test": ("test",)}
OUT_FOLDERS = {"train": "train", "val": "valid", "test": "test"}
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
SUPERCATEGORY = "object"
_MAX_LISTED = 5  # locations named in a warning


def split_name(split: str) -> str:
    """'train' | 'val' | 'test' ('valid' is Roboflow's spelling of 'val'); anything else is a UserError."""
    name = {"valid": "val", "validation": "val"}.get(str(split), str(split))
    if name not in SPLITS:
        raise UserError(f"unknown split {split!r}: use one of train, val (or valid), test")
    return name


def shown(path: Path, root: Path) -> str:
    """`path` relative to the dataset root for messages (POSIX), or absolute when it lies outside."""
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return str(path)


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTS and path.is_file()


def list_images(folder: Path) -> list[Path]:
    """Image files under `folder` (recursively, as Ultralytics globs), sorted by path for stable ids."""
    return sorted(p for p in folder.rglob("*") if is_image(p))


def image_size(path: Path, root: Path) -> tuple[int, int]:
    """(width, height) of the decoded image; an unreadable one is a DataError naming it."""
    img = read_image(str(path))
    if img is None:
        raise DataError(f"cannot read image {shown(path, root)} (missing, truncated or not an image); "
                        "fix or remove it")
    return int(img.shape[1]), int(img.shape[0])


def make_categories(classes: list[str]) -> list[dict]:
    return [dict(id=i, name=str(n), supercategory=SUPERCATEGORY) for i, n in enumerate(classes)]


class Notes:
    """Counts of fixed or skipped labels in one split, with the first few locations, warned once."""

    def __init__(self, label: str):
        self.label = label
        self.counts: dict[str, int] = {}
        self.where: dict[str, list[str]] = {}

    def add(self, kind: str, where: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.where.setdefault(kind, [])
        if len(self.where[kind]) < _MAX_LISTED:
            self.where[kind].append(where)

    def warn(self) -> None:
        if not self.counts:
            return
        parts = [f"{n} {kind} ({', '.join(self.where[kind])}{', ...' if n > _MAX_LISTED else ''})"
                 for kind, n in self.counts.items()]
        warnings.warn(f"{self.label}: " + "; ".join(parts), stacklevel=3)


class CocoBuilder:
    """Accumulates one split as a COCO dict; boxes are clipped to the decoded image, empty ones skipped."""

    def __init__(self, classes: list[str], notes: Notes):
        self.classes = list(classes)
        self.notes = notes
        self.images: list[dict] = []
        self.annotations: list[dict] = []

    def add_image(self, path: Path, img_root: Path, root: Path) -> tuple[int, int, int]:
        """Decode `path` for its size; returns (image id, width, height)."""
        w, h = image_size(path, root)
        rel = Path(os.path.relpath(os.path.abspath(path), os.path.abspath(img_root))).as_posix()
        self.images.append(dict(id=len(self.images) + 1, file_name=rel, width=w, height=h))
        return self.images[-1]["id"], w, h

    def add_box(self, image_id: int, cat: int, xyxy: tuple[float, float, float, float], size: tuple[int, int],
                where: str, extra: dict | None = None) -> None:
        """xyxy in pixels of the image of `size` (w, h); clipped to it (counted), skipped when empty."""
        w, h = size
        x1, y1, x2, y2 = (float(v) for v in xyxy)
        cx1, cy1, cx2, cy2 = min(max(x1, 0.0), w), min(max(y1, 0.0), h), min(max(x2, 0.0), w), min(max(y2, 0.0), h)
        if cx2 <= cx1 or cy2 <= cy1:
            self.notes.add("empty boxes skipped", where)
            return
        if (cx1, cy1, cx2, cy2) != (x1, y1, x2, y2):
            self.notes.add("boxes clipped to the image", where)
        bw, bh = cx2 - cx1, cy2 - cy1
        ann = dict(id=len(self.annotations) + 1, image_id=image_id, category_id=int(cat),
                   bbox=[cx1, cy1, bw, bh], area=bw * bh, iscrowd=0)
        self.annotations.append(dict(ann, **(extra or {})))

    def result(self) -> dict:
        return dict(images=self.images, annotations=self.annotations, categories=make_categories(self.classes))


def place_image(src: Path, dst: Path) -> None:
    """Hard-link `src` at `dst` (no extra disk space), copying where links are impossible (other disk,
    a file system without them)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        if os.path.samefile(src, dst):
            return
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
