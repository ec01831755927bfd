"""Tiny end-to-end training setups on the generated demo dataset (seconds on a CPU)."""
from __future__ import annotations

from pathlib import Path

from sscma_rtmdet.data.demo import make_demo_dataset

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "rtmdet_nano_8xb32_300e_coco.py"


def small_dataset(root: Path, num_train: int = 8, num_valid: int = 4) -> Path:
    if not (root / "train" / "_annotations.coco.json").exists():
        make_demo_dataset(root, seed=0, num_train=num_train, num_valid=num_valid, num_test=2)
    return root


def tutorial_options(data_root: Path, **extra) -> list[str]:
    """The SSCMA tutorial's --cfg-options (Roboflow layout), plus small-run settings."""
    opts = [f"data_root={data_root}/", "num_classes=3", "train_ann_file=train/_annotations.coco.json",
            "val_ann_file=valid/_annotations.coco.json", "train_img_prefix=train/", "val_img_prefix=valid/"]
    small = dict(max_epochs=2, imgsz="(64,64)", batch_size=4, val_batch_size=4, num_workers=0,
                 warmup_iters=2, val_interval=1, log_interval=1)
    small.update(extra)
    return opts + [f"{k}={v}" for k, v in small.items()]
