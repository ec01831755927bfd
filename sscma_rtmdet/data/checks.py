"""Dataset entries that must not be trusted: image paths from the JSON, image ids, and the image files.

- `check_image_entries`: every `file_name` stays inside data_root (no absolute path, no `..` that leaves
  it; checked on the path as written, so a symlink the user placed inside data_root still works), and
  image ids are unique.
- `read_image`: decodes like cv2.imread, and warns naming the file when a JPEG lacks its end marker
  (libjpeg's own "Premature end of JPEG file" names nothing; the decoded part is used, the rest is grey).
- `size_mismatch`: the JSON's width/height against the decoded image.
"""
from __future__ import annotations

import os
import warnings

import cv2
import numpy as np

from ..errors import DataError

_MAX_LISTED = 5


def _listed(items: list[str]) -> str:
    return ", ".join(items[:_MAX_LISTED]) + (", ..." if len(items) > _MAX_LISTED else "")


def check_image_entries(images: list[dict], data_root: str, img_dir: str, ann_path: str) -> None:
    """DataError naming the entries whose file_name leaves data_root, or that share an image id."""
    root = os.path.normpath(os.path.abspath(data_root))
    outside = []
    for i, im in enumerate(images):
        name = str(im["file_name"])
        full = os.path.normpath(os.path.abspath(os.path.join(img_dir, name)))
        if os.path.isabs(name) or os.path.commonpath([root, full]) != root:
            outside.append(f"images[{i}] (id {im['id']}) file_name {name!r}")
    if outside:
        raise DataError(f"{ann_path}: {len(outside)} image(s) point outside the dataset folder {data_root}: "
                        f"{_listed(outside)}; file_name must be a relative path inside it")
    first: dict = {}
    dups = []
    for i, im in enumerate(images):
        key = im["id"]
        if key in first:
            dups.append(f"id {key!r}: images[{first[key]}] and images[{i}] ({im['file_name']!r})")
        else:
            first[key] = i
    if dups:
        raise DataError(f"{ann_path}: duplicate image id(s): {_listed(dups)}; every image needs its own id "
                        "(annotations refer to images by id)")


def _jpeg_truncated(path: str) -> bool:
    """A JPEG (FF D8 start) whose last bytes (trailing zero padding ignored) are not the EOI marker FF D9."""
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            f.seek(max(os.fstat(f.fileno()).st_size - 4096, 0))
            tail = f.read().rstrip(b"\x00\r\n ")
    except OSError:
        return False
    return head == b"\xff\xd8" and not tail.endswith(b"\xff\xd9")


def read_image(path: str) -> np.ndarray | None:
    """(h, w, 3) uint8 BGR from cv2.imread (None when unreadable); a truncated JPEG is decoded as far as it
    goes (the rest grey), with a warning naming the file."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is not None and _jpeg_truncated(str(path)):
        warnings.warn(f"image {path} is a truncated JPEG (no end marker): its missing part decodes as grey; "
                      "re-export or remove it", stacklevel=3)
    return img


def size_mismatch(entry: dict, hw: tuple[int, int]) -> str | None:
    """A message when the JSON's width/height of `entry` disagrees with the decoded image's (h, w)."""
    w, h = entry.get("width"), entry.get("height")
    if not (isinstance(w, (int, float)) and isinstance(h, (int, float))):
        return None
    if (int(h), int(w)) == tuple(hw):
        return None
    return (f"image {entry['file_name']!r} (id {entry['id']}) is {hw[1]}x{hw[0]} (width x height) but the "
            f"annotation file says {int(w)}x{int(h)}: its boxes were checked and clipped against the wrong size; "
            "fix width/height in the JSON")
