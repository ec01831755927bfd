"""One detection ground truth written as Roboflow COCO, Roboflow YOLO, an Ultralytics data.yaml, classic VOC
and Roboflow VOC (for test_formats.py): small random-size images with filled rectangles."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

CLASSES = ["bird", "cat", "dog"]  # sorted, so VOC's sorted-union order is the YOLO/COCO order too
FOLDER = {"train": "train", "val": "valid"}


def make_gt(seed: int = 0) -> dict:
    """{split: [dict(stem, h, w, boxes [(class, x, y, w, h) integer pixels])]}; train_02 has no boxes."""
    rng, k, gt = np.random.default_rng(seed), 0, {}
    for split, n in (("train", 4), ("val", 2)):
        items = []
        for i in range(n):
            h, w = int(rng.integers(40, 97)), int(rng.integers(40, 97))
            boxes = []
            for _ in range(0 if (split, i) == ("train", 2) else int(rng.integers(1, 4))):
                bw, bh = int(rng.integers(4, w // 2)), int(rng.integers(4, h // 2))
                x, y = int(rng.integers(0, w - bw + 1)), int(rng.integers(0, h - bh + 1))
                boxes.append((k % 3, x, y, bw, bh))
                k += 1
            items.append(dict(stem=f"{split}_{i:02d}", h=h, w=w, boxes=boxes))
        gt[split] = items
    return gt


def draw(item: dict) -> np.ndarray:
    img = np.full((item["h"], item["w"], 3), 90, np.uint8)
    for c, x, y, bw, bh in item["boxes"]:
        cv2.rectangle(img, (x, y), (x + bw - 1, y + bh - 1), (40 + 80 * c, 200, 255 - 60 * c), -1)
    return img


def _img(path: Path, item: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), draw(item))


def write_coco(root: Path, gt: dict) -> Path:
    """Roboflow COCO: placeholder category 0 (supercategory 'none'), classes from id 1, ids from 0."""
    cats = [dict(id=0, name="animals", supercategory="none")] + \
        [dict(id=i + 1, name=n, supercategory="animals") for i, n in enumerate(CLASSES)]
    for split, items in gt.items():
        images, anns = [], []
        for k, it in enumerate(items):
            _img(root / FOLDER[split] / f"{it['stem']}.jpg", it)
            images.append(dict(id=k, file_name=f"{it['stem']}.jpg", width=it["w"], height=it["h"]))
            anns += [dict(id=len(anns) + j, image_id=k, category_id=c + 1, bbox=[x, y, bw, bh], area=bw * bh,
                          iscrowd=0) for j, (c, x, y, bw, bh) in enumerate(it["boxes"])]
        (root / FOLDER[split] / "_annotations.coco.json").write_text(
            json.dumps(dict(images=images, annotations=anns, categories=cats)))
    return root


def yolo_lines(it: dict) -> str:
    return "".join(f"{c} {(x + bw / 2) / it['w']:.6f} {(y + bh / 2) / it['h']:.6f} {bw / it['w']:.6f} "
                   f"{bh / it['h']:.6f}\n" for c, x, y, bw, bh in it["boxes"])


def write_yolo_roboflow(root: Path, gt: dict) -> Path:
    """Roboflow's YOLOv8 export: data.yaml with ../train/images, no label file for an image without boxes."""
    for split, items in gt.items():
        for it in items:
            _img(root / FOLDER[split] / "images" / f"{it['stem']}.jpg", it)
            if it["boxes"]:
                (root / FOLDER[split] / "labels").mkdir(exist_ok=True)
                (root / FOLDER[split] / "labels" / f"{it['stem']}.txt").write_text(yolo_lines(it))
    (root / "data.yaml").write_text("train: ../train/images\nval: ../valid/images\ntest: ../test/images\n\n"
                                    f"nc: 3\nnames: {CLASSES}\n")
    return root


def write_ultralytics(root: Path, gt: dict) -> Path:
    """Ultralytics: yaml in another folder with `path:`, names as a dict, val as a .txt list of images."""
    ds = root / "ds"
    for split, items in gt.items():
        for it in items:
            _img(ds / "images" / split / f"{it['stem']}.png", it)
            (ds / "labels" / split).mkdir(parents=True, exist_ok=True)
            (ds / "labels" / split / f"{it['stem']}.txt").write_text(yolo_lines(it))  # empty file: no boxes
    (ds / "val.txt").write_text("".join(f"./images/val/{it['stem']}.png\n" for it in gt["val"]))
    (root / "cfg").mkdir()
    names = "".join(f"  {i}: {n}\n" for i, n in enumerate(CLASSES))
    (root / "cfg" / "mine.yaml").write_text(f"path: ../ds\ntrain: images/train\nval: val.txt\nnames:\n{names}")
    return root / "cfg" / "mine.yaml"


def voc_xml(it: dict, filename: str, size: bool = True, objects: list[str] | None = None) -> str:
    """VOC XML with 1-based inclusive corners: xmin = x + 1, xmax = x + w."""
    objs = objects if objects is not None else [
        f"<object><name>{CLASSES[c]}</name><difficult>0</difficult><bndbox><xmin>{x + 1}</xmin>"
        f"<ymin>{y + 1}</ymin><xmax>{x + bw}</xmax><ymax>{y + bh}</ymax></bndbox></object>"
        for c, x, y, bw, bh in it["boxes"]]
    sz = f"<size><width>{it['w']}</width><height>{it['h']}</height><depth>3</depth></size>" if size else ""
    return f"<annotation><folder>x</folder><filename>{filename}</filename>{sz}{''.join(objs)}</annotation>"


def write_voc_classic(root: Path, gt: dict) -> Path:
    (root / "Annotations").mkdir(parents=True)
    (root / "ImageSets" / "Main").mkdir(parents=True)
    for split, items in gt.items():
        for it in items:
            _img(root / "JPEGImages" / f"{it['stem']}.png", it)
            (root / "Annotations" / f"{it['stem']}.xml").write_text(voc_xml(it, f"{it['stem']}.png"))
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(f"{it['stem']}\n" for it in items))
    return root


def write_voc_roboflow(root: Path, gt: dict) -> Path:
    for split, items in gt.items():
        for it in items:
            _img(root / FOLDER[split] / f"{it['stem']}.jpg", it)
            (root / FOLDER[split] / f"{it['stem']}.xml").write_text(voc_xml(it, f"{it['stem']}.jpg"))
    return root


WRITERS = {"coco": (write_coco, "coco", 0.0), "yolo_roboflow": (write_yolo_roboflow, "yolo", 1e-3),
           "ultralytics": (write_ultralytics, "yolo", 1e-3), "voc_classic": (write_voc_classic, "voc", 0.0),
           "voc_roboflow": (write_voc_roboflow, "voc", 0.0)}
