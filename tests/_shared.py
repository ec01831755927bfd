"""Helpers shared by tests in every folder (imported as `_shared`; `conftest` is ambiguous because
pytest re-binds that module name for each folder's conftest.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
NANO = CONFIGS / "rtmdet_nano_8xb32_300e_coco.py"
OVERFIT_SEED = 12  # the demo generator's seed of the overfit fixtures (conftest.OVERFIT)


def shared_dir() -> Path:
    env = os.environ.get("SSCMA_SHARED")
    return Path(env) if env else REPO.parent / "shared"


def reference_file(name: str) -> Path:
    """Path of a golden file from mmdetection 3.3.0; skips the test when shared/ is absent."""
    path = shared_dir() / "reference" / "mmdet-3.3.0" / name
    if not path.exists():
        pytest.skip(f"reference file {path} not present")
    return path


def demo_options(data_root: Path, **extra) -> list[str]:
    """The SSCMA tutorial's --cfg-options for a Roboflow-layout set, plus small-run settings."""
    opts = [f"data_root={data_root}/", "num_classes=3", "train_ann_file=train/_annotations.coco.json",
            "val_ann_file=valid/_annotations.coco.json", "train_img_prefix=train/", "val_img_prefix=valid/"]
    small = dict(max_epochs=2, imgsz="(64,64)", batch_size=4, val_batch_size=4, num_workers=0,
                 warmup_iters=2, val_interval=1, log_interval=1)
    small.update(extra)
    return opts + [f"{k}={v}" for k, v in small.items()]


def run_tool(name: str, args) -> "click.testing.Result":
    """tools/<name>.py in-process (the same click command, with the tools' multi-value option handling);
    returns the click result."""
    import importlib

    from click.testing import CliRunner

    from sscma_rtmdet.cli.common import expand_cfg_options

    main = importlib.import_module(f"sscma_rtmdet.cli.{name}").main
    return CliRunner().invoke(main, expand_cfg_options([str(a) for a in args]), catch_exceptions=False)
