"""Dataset import: Roboflow COCO, YOLO (Roboflow's export or an Ultralytics data.yaml) and Pascal VOC
(classic or Roboflow's export), read into COCO dicts in memory and written as a Roboflow-layout COCO copy.

    fmt = detect_format(root)                 # 'coco' | 'yolo' | 'voc'
    coco, img_root = load_split(root, "val")  # images' file_name is relative to img_root
    convert_dataset(root, out_dir)            # out_dir/{train,valid,test}/_annotations.coco.json + images

The dicts YOLO and VOC give are described in `common.py` (ids from 1, categories 0..C-1 in the dataset's
class order, supercategory 'object'); a COCO split is returned as its JSON holds it. `root` is a folder;
for YOLO it may also be the data.yaml itself. Format rules: `yolo.py`, `yolo_labels.py`, `voc.py`.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

from ...errors import DataError, UserError
from ...utils.fileio import atomic_write_text
from ..checks import check_image_entries
from ..coco import load_coco_json
from .common import OUT_FOLDERS, SPLIT_FOLDERS, SPLITS, place_image, split_name
from .voc import load_voc_splits, voc_layout, voc_splits
from .yolo import find_yaml, load_yolo_split, yolo_splits

__all__ = ["FORMATS", "available_splits", "convert_dataset", "detect_format", "load_split", "load_splits"]

FORMATS = ("coco", "yolo", "voc")
COCO_ANN = "_annotations.coco.json"


def _coco_folder(root: Path, split: str) -> Path | None:
    return next((root / f for f in SPLIT_FOLDERS[split] if (root / f / COCO_ANN).is_file()), None)


def detect_format(root: str | Path) -> str:
    """'coco' (ROOT/train/_annotations.coco.json, Roboflow layout), 'yolo' (a data.yaml) or 'voc'
    (ROOT/Annotations/ or split folders of .xml files), checked in that order; otherwise a DataError
    listing what was looked for."""
    root = Path(root)
    if not root.exists():
        raise DataError(f"dataset {root} does not exist")
    if root.is_dir() and any(_coco_folder(root, s) for s in SPLITS):
        return "coco"
    if find_yaml(root, any_name=False) is not None:
        return "yolo"
    if root.is_dir() and voc_layout(root):  # before any other *.yaml: a VOC folder may hold a config yaml
        return "voc"
    if find_yaml(root) is not None:
        return "yolo"
    if root.is_file():  # a download not unpacked, or a file of the dataset instead of its folder
        what = "a .zip archive: unpack it and pass its folder" if zipfile.is_zipfile(root) else \
            "a file, not a dataset folder: pass the folder"
        raise DataError(f"dataset {root} is {what} (Roboflow COCO, Pascal VOC) or a YOLO data.yaml")
    seen = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())[:12] if root.is_dir() else []
    raise DataError(f"cannot tell the format of dataset {root}: looked for COCO (train/, valid/ or test/ with "
                    f"{COCO_ANN}), YOLO (data.yaml, or a single *.yaml) and Pascal VOC (Annotations/ + "
                    f"ImageSets/Main/, or train/ with .xml files next to the images); found "
                    f"{', '.join(seen) or 'nothing'}")


def available_splits(root: str | Path) -> list[str]:
    """The splits the dataset has, in train, val, test order."""
    root = Path(root)
    fmt = detect_format(root)
    if fmt == "coco":
        return [s for s in SPLITS if _coco_folder(root, s)]
    if fmt == "yolo":
        return yolo_splits(find_yaml(root))
    return voc_splits(root)


def _load_coco_split(root: Path, split: str) -> tuple[dict, Path]:
    folder = _coco_folder(root, split)
    if folder is None:
        looked = " or ".join(f"{f}/{COCO_ANN}" for f in SPLIT_FOLDERS[split])
        raise DataError(f"dataset {root} has no '{split}' split (looked for {looked})")
    return load_coco_json(str(folder / COCO_ANN)), folder


def load_splits(root: str | Path, splits: list[str] | None = None,
                classes: list[str] | None = None) -> dict[str, tuple[dict, Path]]:
    """{split: (COCO dict, image root)} for `splits` (default: every split the dataset has).

    `classes` (VOC only) fixes the class order; otherwise VOC's is the sorted union of every split's names.
    """
    root = Path(root)
    fmt = detect_format(root)
    names = available_splits(root) if splits is None else [split_name(s) for s in splits]
    names = names or ["train"]  # no split found: the reader's missing-train error says where it looked
    if fmt == "voc":
        return load_voc_splits(root, names, classes)
    if classes is not None:
        raise UserError(f"classes= applies to VOC only; a {fmt} dataset names its classes itself")
    if fmt == "yolo":
        return {s: load_yolo_split(find_yaml(root), s) for s in names}
    return {s: _load_coco_split(root, s) for s in names}


def load_split(root: str | Path, split: str, classes: list[str] | None = None) -> tuple[dict, Path]:
    """(COCO dict, image root) of one split: 'train', 'val' (or 'valid') or 'test'; a missing split or
    file is a DataError naming it."""
    name = split_name(split)
    return load_splits(root, [name], classes)[name]


def _check_sources(coco: dict, img_root: Path, where: str) -> None:
    """file_name values stay inside the image root and exist (COCO JSONs are untrusted input)."""
    check_image_entries(coco["images"], str(img_root), str(img_root), where)
    missing = [im["file_name"] for im in coco["images"] if not (img_root / im["file_name"]).is_file()]
    if missing:
        raise DataError(f"{where}: {len(missing)} image(s) missing from {img_root}: {', '.join(missing[:5])}")


def convert_dataset(root: str | Path, out_dir: str | Path, *, classes: list[str] | None = None,
                    overwrite: bool = False) -> dict[str, dict]:
    """Write every split as out_dir/{train,valid,test}/_annotations.coco.json with its images hard-linked
    (copied where links are impossible) next to it, file_name relative to that folder, so
    `CocoDetection(out_dir, 'train/_annotations.coco.json', 'train/')` reads it.

    Everything is read and checked before anything is written; each JSON is written atomically after its
    images. `overwrite=True` allows a non-empty out_dir (same-named files are replaced, others left).
    Returns {split: dict(folder, images, annotations)}.
    """
    root, out = Path(root), Path(out_dir)
    src = root if root.is_dir() else root.parent
    if out.exists() and out.resolve() == src.resolve():
        raise UserError(f"out_dir {out} is the dataset itself; write the COCO copy to a new folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise UserError(f"out_dir {out} is not empty; choose an empty folder (or pass overwrite=True)")
    fmt = detect_format(root)
    loaded = load_splits(root, None, classes)
    summary = {}
    for split, (coco, img_root) in loaded.items():
        folder = out / OUT_FOLDERS[split]
        if fmt == "coco":
            _check_sources(coco, img_root, str(img_root / COCO_ANN))
        for im in coco["images"]:
            place_image(img_root / im["file_name"], folder / im["file_name"])
        atomic_write_text(folder / COCO_ANN, json.dumps(coco))
        summary[split] = dict(folder=str(folder), images=len(coco["images"]),
                              annotations=len(coco["annotations"]))
    return summary
