"""Shared fixtures. Reference tensors live in ../shared/reference (beside the clone) or $SSCMA_SHARED."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"


def shared_dir() -> Path:
    env = os.environ.get("SSCMA_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def reference_file(name: str) -> Path:
    """Path of a golden file from mmdetection 3.3.0; skips the test when shared/ is absent."""
    path = shared_dir() / "reference" / "mmdet-3.3.0" / name
    if not path.exists():
        pytest.skip(f"reference file {path} not present")
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(autouse=True)
def _few_threads():
    """2-core CI machine: keep each test's torch to 2 threads and deterministic."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    torch.set_num_threads(2)
    yield


NANO = CONFIGS / "rtmdet_nano_8xb32_300e_coco.py"


def demo_options(data_root: Path, **extra) -> list[str]:
    """The SSCMA tutorial's --cfg-options for a Roboflow-layout set, plus small-run settings."""
    opts = [f"data_root={data_root}/", "num_classes=3", "train_ann_file=train/_annotations.coco.json",
            "val_ann_file=valid/_annotations.coco.json", "train_img_prefix=train/", "val_img_prefix=valid/"]
    small = dict(max_epochs=2, imgsz="(64,64)", batch_size=4, val_batch_size=4, num_workers=0,
                 warmup_iters=2, val_interval=1, log_interval=1)
    small.update(extra)
    return opts + [f"{k}={v}" for k, v in small.items()]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A nano model trained for 2 epochs at 64x64 on 8 generated images (its accuracy is irrelevant)."""
    from sscma_rtmdet.config import load_config
    from sscma_rtmdet.data.demo import make_demo_dataset
    from sscma_rtmdet.engine.trainer import Trainer, TrainOptions

    root = tmp_path_factory.mktemp("tiny_run")
    data = root / "demo"
    make_demo_dataset(data, seed=0, num_train=8, num_valid=4, num_test=2)
    options = demo_options(data)
    work_dir = root / "work_dirs" / NANO.stem
    Trainer(load_config(NANO, options), TrainOptions(work_dir=work_dir, config_path=str(NANO),
                                                     progress=False)).train()
    return {"data": data, "options": options, "root": root, "work_dir": work_dir,
            "ckpt": work_dir / "epoch_2.pth", "config": NANO}
