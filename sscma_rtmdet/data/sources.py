"""A dataset given by its folder (`--data ROOT`): the config's dataset names for it, in one place.

Roboflow COCO exports are read where they are; YOLO and Pascal VOC datasets are converted once (losslessly,
`data.formats.convert_dataset`: images hard-linked) into a COCO copy in the user cache, keyed by the files'
names, sizes and modification times, so a changed dataset is converted again and an unchanged one is not.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import DataError
from ..utils.paths import cache_dir
from .formats import COCO_ANN, available_splits, convert_dataset, detect_format, load_split
from .formats.common import SPLIT_FOLDERS

#: The config names a dataset sets (the one list; the seed tutorial types six of them by hand).
DATASET_KEYS = ("data_root", "train_ann_file", "train_img_prefix", "val_ann_file", "val_img_prefix",
                "test_ann_file", "test_img_prefix")


def roboflow_options(root: str | os.PathLike) -> dict:
    """{config name: value} for a Roboflow-layout COCO dataset at `root` (train/, valid/ or val/, test/)."""
    root = Path(root)
    opts = {"data_root": f"{root.resolve().as_posix()}/"}
    for split, folders in SPLIT_FOLDERS.items():
        folder = next((f for f in folders if (root / f / COCO_ANN).is_file()), None)
        if folder is None and split == "test":  # no test split: the val split stands in (mmdet's default)
            folder = next((f for f in SPLIT_FOLDERS["val"] if (root / f / COCO_ANN).is_file()), None)
        if folder is None:
            raise DataError(f"dataset {root} has no {split} split ({' or '.join(f'{f}/{COCO_ANN}' for f in folders)})")
        opts[f"{split}_ann_file"] = f"{folder}/{COCO_ANN}"
        opts[f"{split}_img_prefix"] = f"{folder}/"
    return opts


def _fingerprint(root: Path) -> str:
    h = hashlib.sha256(str(root.resolve()).encode())
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        dirnames.sort()
        for name in sorted(filenames):
            st = os.stat(os.path.join(dirpath, name))
            h.update(f"{os.path.relpath(os.path.join(dirpath, name), root)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def coco_copy(root: Path, log=None) -> Path:
    """The cached Roboflow-layout COCO copy of a YOLO/VOC dataset (converted now when missing)."""
    folder = root if root.is_dir() else root.parent
    out = cache_dir("datasets", f"{folder.name}-{_fingerprint(folder)}")
    if (out / "train" / COCO_ANN).is_file():
        return out
    if log is not None:
        log(f"converting {detect_format(root)} dataset {root} to COCO in {out} (once; images hard-linked)")
    tmp = out.with_name(out.name + f".part{os.getpid()}")
    convert_dataset(root, tmp, overwrite=True)
    if out.exists():  # another process finished first
        return out
    os.replace(tmp, out)
    return out


def dataset_options(root: str | os.PathLike, log=None) -> dict:
    """The config names (DATASET_KEYS) for the dataset at `root`: any format `data.formats` reads."""
    root = Path(root).expanduser()
    fmt = detect_format(root)
    if fmt == "coco":
        return roboflow_options(root)
    splits = available_splits(root)
    for split in ("train", "val"):  # the reader's own error names the yaml entry or folder it looked for
        if split not in splits:
            load_split(root, split)
            raise DataError(f"{fmt} dataset {root} has no {split} split")
    return roboflow_options(coco_copy(root, log))
