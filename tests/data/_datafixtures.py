"""Tiny on-disk COCO sets for the data tests: grey images with pure red filled boxes (redness = R - G)."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

RED = (0, 0, 255)


def red_image(h: int, w: int, boxes_xyxy, grey: int = 100) -> np.ndarray:
    """(h,w,3) uint8 grey image with each integer xyxy box filled pure red."""
    img = np.full((h, w, 3), grey, np.uint8)
    for x1, y1, x2, y2 in boxes_xyxy:
        img[int(y1):int(y2), int(x1):int(x2)] = RED
    return img


def write_coco(root: Path, images: list[dict], anns: list[dict], cats: list[dict], split: str = "train",
               draw: bool = True) -> tuple[str, str, str]:
    """Write images (dict(id, h, w, boxes xyxy for drawing)) as PNGs + `_annotations.coco.json`.

    Returns (data_root, ann_file, img_prefix) as used by CocoDetection.
    """
    folder = root / split
    folder.mkdir(parents=True, exist_ok=True)
    js_images = []
    for im in images:
        name = im.get("file_name", f"img_{im['id']:03d}.png")
        if draw:
            cv2.imwrite(str(folder / name), red_image(im["h"], im["w"], im.get("draw", []), im.get("grey", 100)))
        js_images.append(dict(id=im["id"], file_name=name, height=im["h"], width=im["w"]))
    data = dict(images=js_images, annotations=anns, categories=cats)
    (folder / "_annotations.coco.json").write_text(json.dumps(data))
    return str(root), f"{split}/_annotations.coco.json", f"{split}/"


ROBOFLOW_CATS = [dict(id=0, name="masks", supercategory="none"), dict(id=1, name="mask", supercategory="masks"),
                 dict(id=2, name="no-mask", supercategory="masks")]


def random_set(root: Path, n: int = 8, seed: int = 0, hw=(60, 80), num_boxes=(1, 3)) -> tuple[str, str, str]:
    """n images with 1-3 random red boxes each; Roboflow categories (2 classes)."""
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for i in range(n):
        h, w = int(rng.integers(hw[0] - 10, hw[0] + 11)), int(rng.integers(hw[1] - 10, hw[1] + 11))
        boxes = []
        for _ in range(int(rng.integers(num_boxes[0], num_boxes[1] + 1))):
            bw, bh = int(rng.integers(8, w // 3)), int(rng.integers(8, h // 3))
            x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
            boxes.append((x, y, x + bw, y + bh))
            anns.append(dict(id=len(anns) + 1, image_id=i + 1, category_id=int(rng.integers(1, 3)),
                             bbox=[x, y, bw, bh], area=bw * bh, iscrowd=0))
        images.append(dict(id=i + 1, h=h, w=w, draw=boxes, grey=int(rng.integers(70, 160))))
    return write_coco(root, images, anns, ROBOFLOW_CATS)


def redness(img: np.ndarray) -> np.ndarray:
    return img[..., 2].astype(np.int32) - img[..., 1].astype(np.int32)


def check_boxes_match_red(img: np.ndarray, boxes: np.ndarray, inner_min: float = 60, margin: int = 3,
                          outside_max: int = 40) -> None:
    """Every box interior (shrunk by margin) is red on average; nothing outside all boxes is red."""
    h, w = img.shape[:2]
    red = redness(img)
    covered = np.zeros((h, w), bool)
    for x1, y1, x2, y2 in boxes:
        covered[max(int(y1) - margin, 0):int(np.ceil(y2)) + margin, max(int(x1) - margin, 0):
                int(np.ceil(x2)) + margin] = True
        ix1, iy1, ix2, iy2 = int(np.ceil(x1)) + margin, int(np.ceil(y1)) + margin, int(x2) - margin, \
            int(y2) - margin
        if ix2 > ix1 and iy2 > iy1:
            assert red[iy1:iy2, ix1:ix2].mean() > inner_min, (x1, y1, x2, y2)
    if (~covered).any():
        assert red[~covered].max() < outside_max, "red pixels outside every box"
