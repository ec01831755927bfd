"""Build datasets, loaders, model and criterion from a resolved config (shared by train/test/QAT)."""
from __future__ import annotations

import os

from ..config import Config
from ..errors import ConfigError


def dataset_paths(cfg: Config, split: str) -> tuple[str, str, str]:
    """(data_root, ann_file, img_prefix) of `train_dataloader`, `val_dataloader` or `test_dataloader`."""
    key = f"{split}_dataloader"
    if key not in cfg:
        raise ConfigError(f"the config has no `{key}`")
    ds = cfg[key]["dataset"]
    return ds["data_root"], ds["ann_file"], ds["img_prefix"]


def build_coco(cfg: Config, split: str):
    """CocoDetection for a split, checked against cfg.num_classes."""
    from ..data.coco import CocoDetection

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
    from ..data.loader import EvalDataset, build_dataloader
    from ..data.preprocess import Preprocess

    ds = EvalDataset(coco, imgsz_of(cfg), Preprocess.from_config(cfg.preprocess))
    return build_dataloader(ds, batch_size or cfg.val_batch_size,
                            cfg.num_workers if num_workers is None else num_workers, shuffle=False)


def build_criterion(cfg: Config, num_classes: int):
    from ..criterion import DynamicSoftLabelAssigner, RTMDetCriterion

    c = cfg.criterion
    return RTMDetCriterion(DynamicSoftLabelAssigner(**c["assigner"]), num_classes=num_classes,
                           loss_cls_weight=c["loss_cls_weight"], loss_bbox_weight=c["loss_bbox_weight"],
                           qfl_beta=c["qfl_beta"])


def default_work_dir(config_path: str) -> str:
    return os.path.join("work_dirs", os.path.splitext(os.path.basename(config_path))[0])
