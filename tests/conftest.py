"""Fixtures for every test folder. Plain helpers live in _shared.py (import them from there)."""
from __future__ import annotations

import pytest

from _shared import CONFIGS, NANO, OVERFIT_SEED, REPO, demo_options


@pytest.fixture(scope="session")
def repo_root():
    return REPO


@pytest.fixture(autouse=True)
def _few_threads():
    """2-core CI machine: keep each test's torch to 2 threads."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    torch.set_num_threads(2)
    yield


def _tiny(tmp_path_factory, name: str, extra: list[str]) -> dict:
    from sscma_rtmdet.config import load_config
    from sscma_rtmdet.synth.demo import make_demo_dataset
    from sscma_rtmdet.engine.trainer import Trainer, TrainOptions

    root = tmp_path_factory.mktemp(name)
    data = root / "demo"
    make_demo_dataset(data, seed=0, num_train=8, num_valid=4, num_test=2)
    options = demo_options(data) + extra
    work_dir = root / "work_dirs" / NANO.stem
    Trainer(load_config(NANO, options), TrainOptions(work_dir=work_dir, config_path=str(NANO),
                                                     progress=False)).train()
    return {"data": data, "options": options, "root": root, "work_dir": work_dir,
            "ckpt": work_dir / "epoch_2.pth", "config": NANO}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A nano model trained for 2 epochs at 64x64 on 8 generated images from the shipped pretrained weights
    (its accuracy is irrelevant, but it detects something, so evaluation output is exercised)."""
    return _tiny(tmp_path_factory, "tiny_run", [])


@pytest.fixture(scope="session")
def tiny_run_scratch(tmp_path_factory):
    """The same from random init (load_from=None): near-constant outputs, independent of the shipped files."""
    return _tiny(tmp_path_factory, "tiny_run_scratch", ["load_from=None"])


# Overfitting a handful of demo images: a model whose AP is high enough that format parity means something.
# From the shipped glyph weights (the config's load_from; the class heads start fresh): 100 epochs reach
# AP 1.0 on both nanos (SiLU 160x160: 0.75 at epoch 40; ReLU 160x224: 0.94 at 50) where random init needed
# 300 epochs for 0.84-0.89 and ended ISA-dependent.
OVERFIT = dict(num_train=4, seed=OVERFIT_SEED, imgsz=(160, 160), epochs=100, lr=0.004)


def _overfit(tmp_path_factory, config, imgsz, extra=()):
    """nano trained on 4 demo images (val = the same images, plain letterbox pipeline, no mosaic), starting
    from the config's shipped pretrained weights."""
    import torch

    from sscma_rtmdet.config import load_config
    from sscma_rtmdet.synth.demo import make_demo_dataset
    from sscma_rtmdet.engine.trainer import Trainer, TrainOptions

    root = tmp_path_factory.mktemp("overfit")
    data = root / "demo"
    make_demo_dataset(data, seed=OVERFIT["seed"], num_train=OVERFIT["num_train"], num_valid=2, num_test=1)
    (h, w), ep = imgsz, OVERFIT["epochs"]
    options = [f"data_root={data}/", "num_classes=3", "train_ann_file=train/_annotations.coco.json",
               "val_ann_file=train/_annotations.coco.json", "train_img_prefix=train/", "val_img_prefix=train/",
               f"imgsz=({h},{w})", f"max_epochs={ep}", f"stage2_num_epochs={ep}", f"val_interval={ep}",
               f"batch_size={OVERFIT['num_train']}", "num_workers=0", "warmup_iters=5",
               f"base_lr={OVERFIT['lr']}", "log_interval=100", f"save_interval={ep}",
               f"train_pipeline_stage2=[{{'type': 'LetterResize', 'size': ({h}, {w}), 'pad_val': 114}}]", *extra]
    work_dir = root / "work_dir"
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    metrics = Trainer(load_config(config, options), TrainOptions(work_dir=work_dir, config_path=str(config),
                                                                 progress=False)).train()
    torch.set_num_threads(threads)
    return {"data": data, "options": options, "work_dir": work_dir, "metrics": metrics,
            "ckpt": work_dir / f"epoch_{ep}.pth", "config": config}


@pytest.fixture(scope="session")
def overfit_run(tmp_path_factory):
    """The SiLU nano (tutorial config), square input."""
    return _overfit(tmp_path_factory, NANO, OVERFIT["imgsz"])


@pytest.fixture(scope="session")
def overfit_run_relu_nonsquare(tmp_path_factory):
    """The ReLU nano (NPU config) at a non-square input, 160x224: target generic (letterbox, per-level
    layout; SSCMA-Micro takes square inputs only)."""
    return _overfit(tmp_path_factory, CONFIGS / "rtmdet_nano_8xb32_300e_coco_relu.py", (160, 224),
                    ["target=generic"])
