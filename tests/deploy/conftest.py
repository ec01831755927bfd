"""Fixtures of the device tests: models trained with the tutorial commands for several class counts, exported
with the tutorial's export command (+ vela), and a trained model with real detections exported to int8."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from _shared import NANO, run_tool


def dataset_with_classes(root: Path, num_classes: int) -> Path:
    """The demo set (8 train / 4 valid images) with its boxes spread over `num_classes` classes."""
    from sscma_rtmdet.synth.demo import make_demo_dataset

    make_demo_dataset(root, seed=3, num_train=8, num_valid=4, num_test=1)
    for split in ("train", "valid", "test"):
        path = root / split / "_annotations.coco.json"
        d = json.loads(path.read_text())
        d["categories"] = [d["categories"][0]] + [{"id": i + 1, "name": f"class{i}", "supercategory": "shapes"}
                                                  for i in range(num_classes)]
        for k, a in enumerate(d["annotations"]):
            a["category_id"] = 1 + k % num_classes
        path.write_text(json.dumps(d))
    return root


def tutorial_run(root: Path, num_classes: int) -> dict:
    """The README's train and export commands (short: 1 epoch at 64x64) -> {ckpt, int8, vela, data}."""
    data = dataset_with_classes(root / "data", num_classes)
    opts = [f"data_root={data}/", f"num_classes={num_classes}", "train_ann_file=train/_annotations.coco.json",
            "val_ann_file=valid/_annotations.coco.json", "train_img_prefix=train/", "val_img_prefix=valid/",
            "max_epochs=1", "imgsz='(64,64)'", "batch_size=4", "num_workers=0"]
    work = root / "work_dirs"
    res = run_tool("train", [NANO, "--cfg-options", *opts, "--work-dir", work, "--no-progress"])
    assert res.exit_code == 0, res.output[-3000:]
    res = run_tool("export", [NANO, work / "epoch_1.pth", "--cfg-options", *opts[:6], "--imgsz", 64, 64,
                              "--format", "tflite", "vela"])
    assert res.exit_code == 0, res.output[-3000:]
    return {"data": data, "ckpt": work / "epoch_1.pth", "int8": work / "epoch_1_int8.tflite",
            "vela": work / "epoch_1_int8_vela.tflite", "export_log": res.output}


@pytest.fixture(scope="session")
def tutorial_files(tmp_path_factory):
    """{num_classes: tutorial_run(...)} for 2, 3, 4 and 10 classes."""
    return {n: tutorial_run(tmp_path_factory.mktemp(f"tutorial{n}"), n) for n in (2, 3, 4, 10)}


@pytest.fixture(scope="session")
def trained_int8(overfit_run, tmp_path_factory):
    """The overfit SiLU nano (target sscma-micro, 160x160) exported to int8, and 12 demo images to score it
    on: its 4 training images (found) and 8 it never saw (mostly missed), so AP is far from 0 and from 1."""
    from _shared import OVERFIT_SEED
    from sscma_rtmdet.synth.demo import make_demo_dataset

    root = tmp_path_factory.mktemp("trained_int8")
    res = run_tool("export", [overfit_run["ckpt"], "--format", "vela", "--out-dir", root])
    assert res.exit_code == 0, res.output[-3000:]
    data = root / "eval"
    make_demo_dataset(data, seed=OVERFIT_SEED, num_train=2, num_valid=1, num_test=1)
    make_demo_dataset(data / "more", seed=OVERFIT_SEED, num_train=12, num_valid=1, num_test=1)
    import shutil
    shutil.rmtree(data / "valid")
    shutil.move(str(data / "more" / "train"), str(data / "valid"))  # train images 0-3 are the model's own
    return {"int8": root / f"{overfit_run['ckpt'].stem}_int8.tflite", "data": data, "ckpt": overfit_run["ckpt"]}
