"""Fixtures for every test folder. Plain helpers live in _shared.py (import them from there)."""
from __future__ import annotations

import pytest

from _shared import NANO, REPO, demo_options


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
