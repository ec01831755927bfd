"""COCO / Roboflow detection datasets: validation at construction, uint8 BGR samples at load time."""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import warnings
from typing import Any

import numpy as np

from ..errors import DataError
from ..utils import jsonsafe
from ..utils.text import printable
from .checks import (as_id, check_class_count, check_image_entries, check_placeholder_unused, id_fits,
                     read_image_oriented, size_mismatch, warn_duplicate_files)

_MAX_LISTED = 5  # missing files named in an error message


def load_coco_json(path: str) -> dict:
    """Read and sanity-check a COCO annotation file; problems raise DataError naming the file. Category
    ids are normalised to int (strings of digits accepted) and must be unique."""
    if not os.path.isfile(path):
        raise DataError(f"annotation file not found: {path} (check data_root and ann_file in the config)")
    try:
        with open(path, encoding="utf-8") as f:
            data = jsonsafe.load(f)
    except json.JSONDecodeError as e:
        raise DataError(f"annotation file {path} is not valid JSON: {e.msg} at line {e.lineno} "
                        f"column {e.colno}; re-export or fix the file") from None
    except RecursionError:
        raise DataError(f"annotation file {path} is nested too deeply to be a COCO file; re-export it") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read annotation file {path}: {e}") from None
    if not isinstance(data, dict):
        raise DataError(f"annotation file {path}: top level must be a JSON object with "
                        f"'images', 'annotations' and 'categories'")
    for key in ("images", "categories"):
        if not isinstance(data.get(key), list):
            raise DataError(f"annotation file {path}: missing or non-list '{key}' (is this a COCO file?)")
    data.setdefault("annotations", [])
    if not isinstance(data["annotations"], list):
        raise DataError(f"annotation file {path}: 'annotations' must be a list")
    for i, img in enumerate(data["images"]):
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
            raise DataError(f"annotation file {path}: images[{i}] needs 'id' and 'file_name'")
    _check_categories(data["categories"], path)
    return data


def _check_categories(cats: list, path: str) -> None:
    """Each category needs an integer id (a string of digits is normalised, in place) and a name; ids unique."""
    seen: dict = {}
    check_class_count(cats, path, placeholder=1)
    for i, cat in enumerate(cats):
        if not isinstance(cat, dict) or "id" not in cat or "name" not in cat:
            raise DataError(f"annotation file {path}: categories[{i}] needs 'id' and 'name'")
        cid = as_id(cat["id"])
        if cid is None or not id_fits(cid):
            raise DataError(f"annotation file {path}: categories[{i}] id {cat['id']!r} must be an integer "
                            "(64 bits: -2**63..2**63-1)")
        if cid in seen:
            raise DataError(f"annotation file {path}: duplicate category id {cid}: categories[{seen[cid]}] "
                            f"{cats[seen[cid]]['name']!r} and categories[{i}] {cat['name']!r}; every class needs "
                            "its own id")
        seen[cid], cat["id"] = i, cid


def real_categories(data: dict) -> list[dict]:
    """Categories that are classes, sorted by id.

    Roboflow exports put the dataset name first as a category with supercategory "none" that no box uses;
    it is not a class. We only drop it when the other categories do not all say "none" (a plain COCO file
    that uses "none" everywhere keeps its empty classes).
    """
    cats = sorted(data["categories"], key=lambda c: c["id"])
    used = {as_id(a.get("category_id")) for a in data["annotations"] if isinstance(a, dict)}
    is_none = [str(c.get("supercategory", "")).lower() == "none" for c in cats]
    if all(is_none):
        return cats
    return [c for c, n in zip(cats, is_none) if not (n and c["id"] not in used)]


def parse_box(bbox: Any, img_w: float | None, img_h: float | None) -> tuple[str, np.ndarray | None]:
    """COCO [x, y, w, h] -> (status, xyxy float32 (4,) or None); status in ok|clipped|empty|malformed."""
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
        return "malformed", None
    try:
        x, y, w, h = (float(v) for v in bbox)
    except (TypeError, ValueError):
        return "malformed", None
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        return "malformed", None
    if w <= 0 or h <= 0:
        return "empty", None
    x1, y1, x2, y2 = x, y, x + w, y + h
    status = "ok"
    if img_w is not None and img_h is not None:
        cx1, cy1 = min(max(x1, 0.0), img_w), min(max(y1, 0.0), img_h)
        cx2, cy2 = min(max(x2, 0.0), img_w), min(max(y2, 0.0), img_h)
        if (cx1, cy1, cx2, cy2) != (x1, y1, x2, y2):
            status = "clipped"
        x1, y1, x2, y2 = cx1, cy1, cx2, cy2
        if x2 - x1 <= 0 or y2 - y1 <= 0:
            return "empty", None
    return status, np.array([x1, y1, x2, y2], dtype=np.float32)


class CocoDetection:
    """A COCO-format detection set.

    Attributes: `coco` (pycocotools COCO, for evaluation), `classes` (names sorted by category id),
    `num_classes`, `cat2label` {category id: label}, `label2cat` {label: category id}, `img_ids`.
    `self[i]` -> dict(img (h,w,3) uint8 BGR, boxes (n,4) float32 xyxy, labels (n,) int64, img_id,
    ori_hw (h, w)).
    """

    def __init__(self, data_root: str, ann_file: str, img_prefix: str, num_classes: int | None = None,
                 filter_empty: bool = False):
        self.ann_path = os.path.join(data_root, ann_file)
        self.img_dir = os.path.join(data_root, img_prefix)
        data = load_coco_json(self.ann_path)
        self.num_raw_annotations = len(data["annotations"])
        # pycocotools would count a match with annotation id 0 as a false positive (tools/test.py says so)
        self.has_annotation_id_0 = any(isinstance(a, dict) and as_id(a.get("id")) == 0 for a in data["annotations"])
        check_image_entries(data["images"], data_root, self.img_dir, self.ann_path)
        check_placeholder_unused(data, self.ann_path)
        warn_duplicate_files(data["images"], self.ann_path)
        cats = check_class_count(real_categories(data), self.ann_path)
        self.classes = tuple(str(c["name"]) for c in cats)
        self.cat2label = {c["id"]: i for i, c in enumerate(cats)}
        self.label2cat = {i: c["id"] for i, c in enumerate(cats)}
        if num_classes is not None and num_classes != len(self.classes):
            raise DataError(f"num_classes={num_classes} in the config but {self.ann_path} has "
                            f"{len(self.classes)} classes {list(self.classes)}; set "
                            f"--cfg-options num_classes={len(self.classes)}")
        images = sorted(data["images"], key=lambda im: im["id"])
        self._check_files(images)
        self.coco = _make_coco(data, images, self._parse_annotations(data, images))
        if filter_empty:
            keep = [i for i, b in enumerate(self._boxes) if len(b)]
            self._images = [self._images[i] for i in keep]
            self._boxes = [self._boxes[i] for i in keep]
            self._labels = [self._labels[i] for i in keep]
        self.img_ids = [im["id"] for im in self._images]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self._images)

    def _check_files(self, images: list[dict]) -> None:
        """stat() every image and read its first bytes (no decoding): a missing file or one that is not an image
        fails now, in every split, not hours into training or in a DataLoader worker."""
        if not os.path.isdir(self.img_dir):
            raise DataError(f"image folder {self.img_dir} does not exist (check data_root and img_prefix "
                            f"for {self.ann_path})")
        missing = [im["file_name"] for im in images
                   if not os.path.isfile(os.path.join(self.img_dir, im["file_name"]))]
        if missing:
            shown = printable(", ".join(missing[:_MAX_LISTED]) + (", ..." if len(missing) > _MAX_LISTED else ""))
            raise DataError(f"{len(missing)} of {len(images)} images listed in {self.ann_path} are missing "
                            f"from {self.img_dir}: {shown}")
        not_images = [n for im in images if (n := _not_image(self.img_dir, im["file_name"]))]
        if not_images:
            shown = ", ".join(not_images[:_MAX_LISTED]) + (", ..." if len(not_images) > _MAX_LISTED else "")
            raise DataError(f"{len(not_images)} of {len(images)} images listed in {self.ann_path} are not images "
                            f"OpenCV can read: {printable(shown)}; fix or remove them")

    def _parse_annotations(self, data: dict, images: list[dict]) -> list[dict]:
        """Boxes and labels per image (the training set), and the same boxes as the COCO annotations the
        evaluation scores (returned): one cleaned set, so pycocotools never counts a box training skipped."""
        by_img: dict[Any, list[dict]] = {im["id"]: [] for im in images}
        counts = dict(clipped=0, empty=0, malformed=0, crowd=0, unknown_category=0, unknown_image=0)
        for ann in data["annotations"]:
            if not isinstance(ann, dict) or as_id(ann.get("image_id")) not in by_img:
                counts["unknown_image"] += 1
                continue
            by_img[as_id(ann["image_id"])].append(ann)
        self._images, self._boxes, self._labels, cleaned = images, [], [], []
        for im in images:
            w, h = im.get("width"), im.get("height")
            w, h = (float(w), float(h)) if _is_number(w) and _is_number(h) else (None, None)
            boxes, labels = [], []
            for ann in by_img[im["id"]]:
                cat = as_id(ann.get("category_id"))
                if cat not in self.cat2label:
                    counts["unknown_category"] += 1
                    continue
                status, box = parse_box(ann.get("bbox"), w, h)
                crowd = (as_id(ann.get("iscrowd", 0)) or 0) != 0
                if box is None:
                    counts["crowd" if crowd else status] += 1
                    continue
                cleaned.append(_eval_annotation(len(cleaned) + 1, im["id"], cat, box, ann.get("area"), crowd))
                if crowd:  # not trained on; evaluation keeps it as an ignore region, as COCO does
                    counts["crowd"] += 1
                    continue
                counts["clipped"] += status == "clipped"
                boxes.append(box)
                labels.append(self.cat2label[cat])
            self._boxes.append(np.array(boxes, np.float32).reshape(-1, 4))
            self._labels.append(np.array(labels, np.int64))
        self.annotation_report = counts
        _warn_summary(self.ann_path, counts)
        return cleaned

    def get_ann(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(boxes (n,4) float32 xyxy, labels (n,) int64) of image i; copies, safe to modify."""
        return self._boxes[i].copy(), self._labels[i].copy()

    def image_path(self, i: int) -> str:
        return os.path.join(self.img_dir, self._images[i]["file_name"])

    def load_image(self, i: int) -> np.ndarray:
        """(h, w, 3) uint8 BGR as displayed (EXIF orientation applied, data.checks); an unreadable or oversized
        file raises DataError naming it, a truncated JPEG and a size that disagrees with the JSON's
        width/height (or an EXIF rotation it cannot confirm) warn naming it."""
        path = self.image_path(i)
        img, orientation = read_image_oriented(path)
        if img is not None and (msg := size_mismatch(self._images[i], img.shape[:2], orientation)):
            warnings.warn(f"{self.ann_path}: {msg}", stacklevel=2)
        if img is None:
            raise DataError(f"cannot read image {printable(path)} (missing, truncated or not an image); "
                            f"fix or remove it from {self.ann_path}")
        return img

    def __getitem__(self, i: int) -> dict:
        img = self.load_image(i)
        boxes, labels = self.get_ann(i)
        h, w = img.shape[:2]
        if len(boxes):  # the JSON's width/height may disagree with the real file
            boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
            boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
            keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
            boxes, labels = boxes[keep], labels[keep]
        return dict(img=img, boxes=boxes, labels=labels, img_id=self._images[i]["id"], ori_hw=(h, w))


def _not_image(img_dir: str, name: str) -> str | None:
    """None when OpenCV knows the file's format from its first bytes (nothing decoded: ~10 us an image); else
    the file named, and where it leads when it is a link (a hostile dataset's link to /etc/shadow)."""
    import cv2

    path = os.path.join(img_dir, name)
    if os.access(path, os.R_OK) and cv2.haveImageReader(path):
        return None
    return f"{name!r}" + (f" (a link to {os.path.realpath(path)})" if os.path.islink(path) else "")


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _eval_annotation(ann_id: int, img_id: int, cat: int, box: np.ndarray, area, crowd: bool) -> dict:
    """A COCO annotation of a cleaned box (xyxy -> [x, y, w, h]); the file's `area` when it is a positive
    number (COCO's is the mask area, which its AP_s/m/l use), else the box's."""
    x1, y1, x2, y2 = (float(v) for v in box)
    area = float(area) if _is_number(area) and area > 0 else (x2 - x1) * (y2 - y1)
    return {"id": ann_id, "image_id": img_id, "category_id": cat, "bbox": [x1, y1, x2 - x1, y2 - y1],
            "area": area, "iscrowd": int(crowd)}


def _make_coco(data: dict, images: list[dict], annotations: list[dict]):
    """pycocotools COCO of the cleaned set: normalised image/category ids and only the boxes that parsed,
    numbered 1..N (COCOeval treats a matched GT id 0 as "unmatched": Roboflow's id 0 would turn a true
    positive into a false positive). Built in memory (pycocotools' own loader prints and re-reads the file)."""
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = {"images": images, "categories": data["categories"], "annotations": annotations,
                    **({"info": data["info"]} if isinstance(data.get("info"), dict) else {})}
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _warn_summary(path: str, counts: dict) -> None:
    """One warning for all skipped/fixed annotations of a file (not one per box)."""
    parts = [f"{n} {k.replace('_', ' ')}" for k, n in counts.items() if n]
    if parts:
        msg = (f"{path}: " + ", ".join(parts) + " annotation(s) (clipped boxes were kept inside the image; "
               "crowd, empty, malformed and unknown ones were skipped in training and evaluation alike; a "
               "well-formed crowd box stays an ignore region in evaluation, as in COCO)")
        warnings.warn(msg, stacklevel=3)
