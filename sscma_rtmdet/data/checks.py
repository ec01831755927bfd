"""Dataset entries that must not be trusted: image paths and ids from the JSON, and the image files.

- `check_image_entries`: every `file_name` is a non-empty string that stays inside data_root (no absolute
  path, no `..` that leaves it; checked on the path as written, so a symlink the user placed inside
  data_root still works); image ids are integers (or strings of one, normalised to int) and unique.
- `read_image`: the one image reader of training, evaluation, calibration and inference. It reads the
  header first (nothing decoded): an image above MAX_IMAGE_PIXELS is refused naming the file. JPEG and PNG
  EXIF orientation is applied (what OpenCV's imread, mmdetection and Roboflow's auto-orient do: boxes are in
  the displayed frame). A JPEG without its end marker warns naming the file (libjpeg's own "Premature end
  of JPEG file" names nothing; the decoded part is used, the rest is grey).
- `size_mismatch`: the JSON's width/height against the decoded image, naming an EXIF rotation when the
  JSON has the unrotated size (its boxes are then probably in the raw sensor frame).
"""
from __future__ import annotations

import math
import os
import threading
import warnings

import cv2
import numpy as np

from ..errors import DataError
from ..utils.text import printable

_MAX_LISTED = 5
# classes one model may have: LVIS, the largest common detection set, has 1203; the head's outputs and the
# scorer's arrays (~200 KB a class) grow with it (100,000 classes asked 9 GiB at the first validation)
MAX_CLASSES = 2000
# Pillow's DecompressionBombError limit (2 x its 89.5 MP warning): ~540 MB once decoded as BGR
MAX_IMAGE_PIXELS = 178_956_970
_PIL_LIMIT_LOCK = threading.Lock()
_ORIENTED_FORMATS = ("JPEG", "MPO", "PNG")  # the formats whose EXIF orientation OpenCV's imread applies
_EXIF_ORIENTATION = 0x0112
_SAID = {"ambiguous": False}  # the warning that cannot tell right from wrong is given once per process
_ROTATION = {2: "mirrored", 3: "rotated 180", 4: "flipped", 5: "transposed", 6: "rotated 90 clockwise",
             7: "transversed", 8: "rotated 90 counter-clockwise"}


def _listed(items: list[str]) -> str:
    return printable(", ".join(items[:_MAX_LISTED]) + (", ..." if len(items) > _MAX_LISTED else ""))


def as_id(value):
    """A JSON id as int: an int, an integral float or a string of decimal digits; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value.strip()) < 4000:
        return int(value.strip())  # 4000: under Python's limit on digits converted (ValueError above 4300)
    return None


def id_fits(value: int) -> bool:
    """A COCO id that numpy and pycocotools hold as int64."""
    return -2**63 <= value < 2**63


def check_image_entries(images: list[dict], data_root: str, img_dir: str, ann_path: str) -> None:
    """Normalise image ids to int in place; DataError naming the entries whose id is not an integer, whose
    file_name is not a string or leaves data_root, or that share an id."""
    bad_ids = [f"images[{i}] id {im['id']!r}" for i, im in enumerate(images) if as_id(im["id"]) is None]
    if bad_ids:
        raise DataError(f"{ann_path}: image id(s) must be integers (or strings of digits): {_listed(bad_ids)}")
    huge = [f"images[{i}] id {im['id']!r}" for i, im in enumerate(images) if not id_fits(as_id(im["id"]))]
    if huge:  # scored as int64 arrays: found now, not as an OverflowError after the whole inference pass
        raise DataError(f"{ann_path}: image id(s) out of range: {_listed(huge)}; ids must lie within "
                        "-2**63..2**63-1 (64-bit integers); renumber the images and their annotations' image_id")
    bad_names = [f"images[{i}] (id {im['id']!r}) file_name {im['file_name']!r}" for i, im in enumerate(images)
                 if not isinstance(im["file_name"], str) or not im["file_name"].strip()]
    if bad_names:
        raise DataError(f"{ann_path}: file_name must be a non-empty string (the image's path relative to "
                        f"{img_dir}): {_listed(bad_names)}")
    for im in images:
        im["id"] = as_id(im["id"])
    root = os.path.normpath(os.path.abspath(data_root))
    outside = []
    for i, im in enumerate(images):
        name = im["file_name"]
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


def warn_duplicate_files(images: list[dict], ann_path: str) -> None:
    """A warning naming image entries (under other ids) that list the same file: it trains and scores twice."""
    first: dict = {}
    dups = []
    for i, im in enumerate(images):
        key = os.path.normpath(im["file_name"])
        if key in first:
            j = first[key]
            dups.append(f"images[{j}] (id {images[j]['id']}) and images[{i}] (id {im['id']}): {im['file_name']!r}")
        else:
            first[key] = i
    if dups:
        warnings.warn(f"{ann_path}: {len(dups)} image file(s) listed twice under other ids: {_listed(dups)}; each "
                      "copy is trained on and scored as another image (its boxes count twice): remove the extra "
                      "entries", stacklevel=3)


def check_class_count(cats: list, ann_path: str, placeholder: int = 0) -> list:
    """`cats` unless more than MAX_CLASSES (+ `placeholder`: Roboflow's, before it is told apart); DataError
    saying the limit otherwise. Checked before anything loops over the categories."""
    if len(cats) > MAX_CLASSES + placeholder:
        raise DataError(f"{ann_path} lists {len(cats)} categories; at most {MAX_CLASSES} classes are supported "
                        "(LVIS, the largest common detection set, has 1203): merge or drop classes")
    return cats


def check_placeholder_unused(data: dict, ann_path: str) -> None:
    """DataError naming Roboflow's placeholder category (supercategory 'none', the dataset name that the other
    categories give as their supercategory) and the first annotations that use it: it is not a class."""
    cats = [c for c in data["categories"] if isinstance(c, dict)]
    placeholders = {c["id"]: c["name"] for c in cats if str(c.get("supercategory", "")).lower() == "none"
                    and any(o is not c and o.get("supercategory") == c["name"] for o in cats)}
    if not placeholders:
        return
    used = [(i, a) for i, a in enumerate(data["annotations"])
            if isinstance(a, dict) and as_id(a.get("category_id")) in placeholders]
    if used:
        cid = as_id(used[0][1]["category_id"])
        users = [f"annotations[{i}] (id {a.get('id')!r}, image_id {a.get('image_id')!r})" for i, a in used]
        raise DataError(f"{ann_path}: category {cid} {placeholders[cid]!r} is Roboflow's placeholder (the dataset "
                        f"name, supercategory 'none'), not a class, but {len(users)} box(es) use it: "
                        f"{_listed(users)}; give these boxes a real class in Roboflow and re-export, or delete them")


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


def image_header(path: str) -> tuple[int, int, int] | None:
    """(width, height, EXIF orientation 1..8) from the file's header, nothing decoded; None when Pillow
    cannot identify the file (OpenCV may still read it)."""
    from PIL import Image

    with _PIL_LIMIT_LOCK:  # threads (image cache, workers) must not restore each other's None
        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # identify any size: the caller judges it
        try:
            with Image.open(path) as im:
                (w, h), fmt, raw = im.size, im.format, im.info.get("exif")
        except Exception:  # not an image Pillow knows, truncated header, ...
            return None
        finally:
            Image.MAX_IMAGE_PIXELS = limit
    orientation = 1
    if raw and fmt in _ORIENTED_FORMATS:
        try:
            exif = Image.Exif()
            exif.load(raw)
            orientation = int(exif.get(_EXIF_ORIENTATION, 1))
        except Exception:  # a corrupt EXIF block: OpenCV ignores it too
            orientation = 1
    return w, h, orientation if orientation in range(1, 9) else 1


def apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    """The image as displayed: EXIF orientation 2..8 undone exactly as OpenCV's imread does (1: as is)."""
    if orientation in (5, 6, 7, 8):
        img = img.transpose(1, 0, 2)
    if orientation in (2, 3, 6, 7):
        img = img[:, ::-1]
    if orientation in (3, 4, 7, 8):
        img = img[::-1]
    return np.ascontiguousarray(img)


def read_image_oriented(path: str) -> tuple[np.ndarray | None, int]:
    """(image (h, w, 3) uint8 BGR as displayed or None when unreadable, the EXIF orientation applied).
    DataError naming the file when its header claims more than MAX_IMAGE_PIXELS."""
    path = str(path)
    header = image_header(path)
    if header is not None and header[0] * header[1] > MAX_IMAGE_PIXELS:
        raise DataError(f"image {printable(path)} is {header[0]}x{header[1]} pixels "
                        f"({header[0] * header[1] / 1e6:.0f} MP), above the limit of {MAX_IMAGE_PIXELS / 1e6:.0f} "
                        "MP; resize it or remove it")
    img = cv2.imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    orientation = header[2] if header is not None else 1
    if img is None:
        return None, orientation
    if img.shape[0] * img.shape[1] > MAX_IMAGE_PIXELS:  # a format Pillow does not know: judged once decoded
        raise DataError(f"image {printable(path)} is {img.shape[1]}x{img.shape[0]} pixels, above the limit of "
                        f"{MAX_IMAGE_PIXELS / 1e6:.0f} MP; resize it or remove it")
    if _jpeg_truncated(path):
        warnings.warn(f"image {printable(path)} is a truncated JPEG (no end marker): its missing part decodes as "
                      "grey; re-export or remove it", stacklevel=3)
    return apply_orientation(img, orientation), orientation


def read_image(path: str) -> np.ndarray | None:
    """(h, w, 3) uint8 BGR as displayed (EXIF orientation applied), None when unreadable (read_image_oriented)."""
    return read_image_oriented(path)[0]


def size_mismatch(entry: dict, hw: tuple[int, int], orientation: int = 1) -> str | None:
    """A message when the JSON's width/height of `entry` disagrees with the decoded image's (h, w); for an
    image read rotated by its EXIF orientation, also when the JSON cannot tell which frame its boxes use."""
    w, h = entry.get("width"), entry.get("height")
    if not (isinstance(w, (int, float)) and isinstance(h, (int, float))):
        return None
    name, turn = f"image {printable(repr(entry['file_name']))} (id {entry['id']})", _ROTATION.get(orientation)
    if (int(h), int(w)) == tuple(hw):
        if turn is None or (orientation >= 5 and hw[0] != hw[1]) or _SAID["ambiguous"]:
            return None
        _SAID["ambiguous"] = True
        return (f"{name} carries EXIF orientation {orientation} ({turn}): it is read as displayed (as OpenCV, "
                "mmdetection and Roboflow's auto-orient do); its boxes must be in that frame, which its JSON "
                "size cannot confirm. Re-export it auto-oriented if they are not (said once, for the first such image)")
    if turn is not None and orientation >= 5 and (int(w), int(h)) == tuple(hw):
        return (f"{name} carries EXIF orientation {orientation} ({turn}): it is read as displayed, "
                f"{hw[1]}x{hw[0]} (width x height), but the annotation file gives the unrotated size "
                f"{int(w)}x{int(h)}: its boxes are probably in the raw sensor frame and miss the objects; "
                "re-export the dataset auto-oriented (Roboflow: Auto-Orient) or fix its boxes and width/height")
    return (f"{name} is {hw[1]}x{hw[0]} (width x height) but the annotation file says {int(w)}x{int(h)}: its "
            "boxes were checked and clipped against the wrong size; fix width/height in the JSON")
