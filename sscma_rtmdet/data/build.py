"""Datasets and eval loaders from a resolved config (shared by train, test, export calibration and QAT)."""
from __future__ import annotations

from ..config import Config
from ..errors import ConfigError
from .coco import CocoDetection
from .loader import EvalDataset, build_dataloader
from .preprocess import Preprocess


SPLITS = ("train", "val", "test")


def dataset_paths(cfg: Config, split: str) -> tuple[str, str, str]:
    """(data_root, ann_file, img_prefix) of a split, from the config's primary names `data_root`,
    `{split}_ann_file` and `{split}_img_prefix`."""
    if split not in SPLITS:
        raise ConfigError(f"split {split!r} must be one of {', '.join(SPLITS)}")
    keys = ("data_root", f"{split}_ann_file", f"{split}_img_prefix")
    missing = [k for k in keys if k not in cfg]
    if missing:
        raise ConfigError(f"the config has no {', '.join(missing)}; set them (or pass --data ROOT)")
    return tuple(str(cfg[k]) for k in keys)  # type: ignore[return-value]


def build_coco(cfg: Config, split: str):
    """CocoDetection for a split. The class count comes from the data; a `num_classes` the user typed
    (config.typed) must agree with it."""
    root, ann, prefix = dataset_paths(cfg, split)
    from ..config.typed import typed_value

    return CocoDetection(root, ann, prefix, num_classes=typed_value(cfg, "num_classes"))


def imgsz_of(cfg: Config) -> tuple[int, int]:
    size = cfg.imgsz
    if isinstance(size, int):
        size = (size, size)
    h, w = (int(v) for v in size)
    if h % 32 or w % 32 or h <= 0 or w <= 0:
        raise ConfigError(f"imgsz={tuple(size)} must be (H, W) with each side a positive multiple of 32, "
                          "e.g. imgsz='(192,256)'")
    return h, w


def preprocess_of(cfg: Config) -> Preprocess:
    """The config's Preprocess, its resize/interpolation filled from the config's deployment target."""
    from ..targets import DEFAULT_TARGET, get_target

    return Preprocess.from_config(cfg.get("preprocess"), get_target(cfg.get("target", DEFAULT_TARGET)))


def build_eval_loader(coco, imgsz, preprocess: Preprocess, batch_size: int, num_workers: int):
    """Loader of prepared (letterboxed or stretched) evaluation batches, in dataset order."""
    ds = EvalDataset(coco, imgsz, preprocess)
    return build_dataloader(ds, batch_size, num_workers, shuffle=False)
