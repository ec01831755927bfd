"""Datasets and eval loaders from a resolved config (shared by train, test, export calibration and QAT)."""
from __future__ import annotations

from ..config import Config
from ..errors import ConfigError
from .coco import CocoDetection
from .loader import EvalDataset, build_dataloader
from .preprocess import Preprocess


def dataset_paths(cfg: Config, split: str) -> tuple[str, str, str]:
    """(data_root, ann_file, img_prefix) of `train_dataloader`, `val_dataloader` or `test_dataloader`."""
    key = f"{split}_dataloader"
    if key not in cfg:
        raise ConfigError(f"the config has no `{key}`")
    ds = cfg[key]["dataset"]
    return ds["data_root"], ds["ann_file"], ds["img_prefix"]


def build_coco(cfg: Config, split: str):
    """CocoDetection for a split, checked against cfg.num_classes."""
    root, ann, prefix = dataset_paths(cfg, split)
    return CocoDetection(root, ann, prefix, num_classes=cfg.num_classes)


def imgsz_of(cfg: Config) -> tuple[int, int]:
    size = cfg.imgsz
    if isinstance(size, int):
        size = (size, size)
    h, w = (int(v) for v in size)
    if h % 32 or w % 32 or h <= 0 or w <= 0:
        raise ConfigError(f"imgsz={tuple(size)} must be (H, W) with each side a positive multiple of 32, "
                          "e.g. imgsz='(192,256)'")
    return h, w


def build_eval_loader(cfg: Config, coco, batch_size: int | None = None, num_workers: int | None = None):
    ds = EvalDataset(coco, imgsz_of(cfg), Preprocess.from_config(cfg.preprocess))
    return build_dataloader(ds, batch_size or cfg.val_batch_size,
                            cfg.num_workers if num_workers is None else num_workers, shuffle=False)
