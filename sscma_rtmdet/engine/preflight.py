"""Checks before any training step: settings and datasets that would train on nothing are refused.

- batch sizes must be positive integers, num_workers non-negative, max_epochs / save_interval /
  log_interval positive (0 or -1 used to train with batch 1, exit 0 without a checkpoint, or crash);
- the training split needs images and at least one usable box (an annotation file without `annotations`
  trained with loss_bbox 0); images without boxes are counted in a warning (they train as background);
- the validation split needs images and boxes (an empty one chose a "best" checkpoint at AP 0);
- empty or repeated class names warn; a batch_size above the training image count is lowered to it with a
  note (the lr was scaled for a batch no step had);
- checkpoint temp files a killed save left in the work dir (`.epoch_3.k2j4_x9a.pth`) are deleted.
"""
from __future__ import annotations

from ..config import Config
from ..errors import ConfigError, DataError
from ..runtime.checkpoint import clean_stale_temp


def _positive(value, name: str, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ConfigError(f"{name}={value!r} must be {kind}")


def check_settings(cfg: Config) -> None:
    """The numbers a run divides by or loops over (ConfigError naming the option)."""
    for key in ("batch_size", "val_batch_size", "max_epochs", "save_interval", "log_interval", "val_interval"):
        _positive(cfg[key], key)
    _positive(cfg.num_workers, "num_workers", minimum=0)
    if cfg.get("patience") is not None:
        _positive(cfg.patience, "patience (validations without a better AP before stopping; None: never)")
    lr = cfg.base_lr
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0 or lr != lr:
        raise ConfigError(f"base_lr={lr!r} must be a positive number (e.g. 0.004)")


def check_split(coco, split: str, log, scoring: bool = False) -> None:
    """DataError when `coco` (a CocoDetection) has no image or no usable box (`scoring`: for tools/test.py);
    a warning with counts when some images have no box."""
    n = len(coco)
    if n == 0:
        raise DataError(f"{coco.ann_path} lists no images: the {split} split is empty")
    empty = sum(1 for i in range(n) if len(coco.get_ann(i)[1]) == 0)
    if empty == n:
        raw = getattr(coco, "num_raw_annotations", None)
        what = "has no 'annotations' (missing or empty list)" if raw == 0 else \
            f"has {raw} annotation(s) but none is a usable box ({_skipped(coco)})"
        use = "there is nothing to learn" if split == "train" else \
            "there is nothing to score (COCO AP would be -1); evaluate a split with boxes" if scoring else \
            "validation would score nothing and pick a meaningless best checkpoint"
        raise DataError(f"{coco.ann_path} {what}: none of its {n} images has a box, {use}")
    if empty:
        log(f"warning: {empty} of {n} {split} images in {coco.ann_path} have no boxes "
            f"({'they train as background-only images' if split == 'train' else 'they count as background'})")


def check_class_names(classes, ann_path: str, log) -> None:
    """A warning for empty or repeated class names: results, plots and exports could not tell them apart."""
    from ..utils.text import printable

    seen: dict = {}
    for i, name in enumerate(classes):
        seen.setdefault(name.strip(), []).append(i)
    empty = seen.pop("", [])
    repeated = {n: idx for n, idx in seen.items() if len(idx) > 1}
    parts = [f"class(es) {empty} have an empty name"] if empty else []
    parts += [f"classes {idx} are all named {printable(repr(n))}" for n, idx in repeated.items()]
    if parts:
        log(f"warning: {ann_path}: {'; '.join(parts)} (by index, from 0): results, plots and the exported "
            "labels cannot tell them apart; rename the categories")


def _skipped(coco) -> str:
    counts = getattr(coco, "annotation_report", {}) or {}
    parts = [f"{v} {k.replace('_', ' ')}" for k, v in counts.items() if v]
    return "skipped: " + ", ".join(parts) if parts else "all skipped"


def check_before_training(cfg: Config, train_coco, val_coco, work_dir, log, main: bool = True) -> None:
    """Everything above; `log(msg)` reports warnings and removed temp files (main process only)."""
    check_settings(cfg)
    check_split(train_coco, "train", log)
    check_split(val_coco, "val", log)
    check_class_names(train_coco.classes, train_coco.ann_path, log)
    if int(cfg.batch_size) > len(train_coco):  # the lr would be scaled for a batch no step ever has
        log(f"note: batch_size={cfg.batch_size} is larger than the {len(train_coco)} training images; using "
            f"batch_size={len(train_coco)} (every step takes them all, the lr is scaled for that batch)")
        cfg["batch_size"] = len(train_coco)
    if main:
        stale = clean_stale_temp(work_dir)
        if stale:
            log(f"removed {len(stale)} temp file(s) left by an interrupted save: "
                + ", ".join(p.name for p in stale))
