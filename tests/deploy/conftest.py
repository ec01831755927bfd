"""Fixtures of the device tests: models trained with the tutorial commands for several class counts, exported
with the tutorial's export command (+ vela: the stock Grove Vision AI V2 firmware) and for SSCMA-Micro v2, and a
trained model with real detections exported to int8 for both firmwares."""
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


def tutorial_train(root: Path, num_classes: int, config: Path = NANO) -> dict:
    """The README's train command (short: 1 epoch at 64x64) with `config` -> {ckpt, data, opts, config}."""
    data = dataset_with_classes(root / "data", num_classes)
    opts = [f"data_root={data}/", f"num_classes={num_classes}", "train_ann_file=train/_annotations.coco.json",
            "val_ann_file=valid/_annotations.coco.json", "train_img_prefix=train/", "val_img_prefix=valid/",
            "max_epochs=1", "imgsz='(64,64)'", "batch_size=4", "num_workers=0"]
    work = root / "work_dirs"
    res = run_tool("train", [config, "--cfg-options", *opts, "--work-dir", work, "--no-progress"])
    assert res.exit_code == 0, res.output[-3000:]
    return {"data": data, "ckpt": work / "epoch_1.pth", "opts": opts, "config": config}


def tutorial_export(run: dict, out: Path, *board, side: int = 64) -> dict:
    """The README's export command (`--format tflite vela`), plus `board` options, into `out`."""
    res = run_tool("export", [run.get("config", NANO), run["ckpt"], "--cfg-options", *run["opts"][:6], "--imgsz",
                              side, side, "--format", "tflite", "vela", *board, "--out-dir", out])
    assert res.exit_code == 0, res.output[-3000:]
    return {**run, "int8": out / "epoch_1_int8.tflite", "vela": out / "epoch_1_int8_vela.tflite",
            "export_log": res.output, "side": side}


@pytest.fixture(scope="session")
def tutorial_runs(tmp_path_factory):
    """{num_classes: tutorial_train(...)} for 2, 3, 4, 10, 64 and 80 classes."""
    return {n: tutorial_train(tmp_path_factory.mktemp(f"tutorial{n}"), n) for n in (2, 3, 4, 10, 64, 80)}


@pytest.fixture(scope="session")
def tutorial_files(tutorial_runs):
    """SSCMA-Micro v2 files (RTMDet model class: XIAO ESP32-S3, a self-built Grove V2 firmware) of the tutorial
    runs with 2, 3, 4 and 10 classes: {num_classes: tutorial_export(...)}."""
    return {n: tutorial_export(tutorial_runs[n], tutorial_runs[n]["ckpt"].parent / "v2", "--board",
                               "grove_vision_ai_v2_sscma2") for n in (2, 3, 4, 10)}


@pytest.fixture(scope="session")
def stock_files(tutorial_runs):
    """The README's export command verbatim (the stock Grove Vision AI V2 firmware) for every tutorial run; 80
    classes at 96x96: at 64x64 its output [1, 84, 84] is square and onnx2tf's layout guess transposes it."""
    return {n: tutorial_export(run, run["ckpt"].parent / "stock", side=96 if n == 80 else 64)
            for n, run in tutorial_runs.items()}


@pytest.fixture(scope="session")
def lean_run(tmp_path_factory):
    """The tutorial run (3 classes) with the lean ReLU nano config."""
    from _shared import CONFIGS
    return tutorial_train(tmp_path_factory.mktemp("lean"), 3, CONFIGS / "rtmdet_nano_8xb32_300e_coco_relu_lean.py")


@pytest.fixture(scope="session")
def lean_stock(lean_run):
    """The lean run through the README's export command (the stock Grove Vision AI V2 firmware)."""
    return tutorial_export(lean_run, lean_run["ckpt"].parent / "stock")


@pytest.fixture(scope="session")
def trained_int8(overfit_run, tmp_path_factory):
    """The overfit SiLU nano (target sscma-micro, 160x160) exported to int8 for SSCMA-Micro v2, and 12 demo images
    to score it on: its 4 training images (found) and 8 it never saw (mostly missed), so AP is far from 0 and
    from 1."""
    return _trained_export(overfit_run, tmp_path_factory.mktemp("trained_int8"), "--board", "grove_vision_ai_v2_sscma2")


@pytest.fixture(scope="session")
def trained_stock(overfit_run, tmp_path_factory):
    """The same model exported for the stock Grove Vision AI V2 firmware (`--format vela`, no --board)."""
    return _trained_export(overfit_run, tmp_path_factory.mktemp("trained_stock"))


def _trained_export(overfit_run, root: Path, *board) -> dict:
    from _shared import OVERFIT_SEED
    from sscma_rtmdet.synth.demo import make_demo_dataset

    res = run_tool("export", [overfit_run["ckpt"], "--format", "vela", *board, "--out-dir", root])
    assert res.exit_code == 0, res.output[-3000:]
    data = root / "eval"
    make_demo_dataset(data, seed=OVERFIT_SEED, num_train=2, num_valid=1, num_test=1)
    make_demo_dataset(data / "more", seed=OVERFIT_SEED, num_train=12, num_valid=1, num_test=1)
    import shutil
    shutil.rmtree(data / "valid")
    shutil.move(str(data / "more" / "train"), str(data / "valid"))  # train images 0-3 are the model's own
    return {"int8": root / f"{overfit_run['ckpt'].stem}_int8.tflite", "data": data, "ckpt": overfit_run["ckpt"],
            "export_log": res.output}
