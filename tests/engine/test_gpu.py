"""The CUDA path: runs where a GPU exists (AMP on, channels as on CPU), reported as skipped where none does."""
from __future__ import annotations

import pytest
import torch

from _train_utils import small_dataset, tutorial_options

from _shared import NANO
from sscma_rtmdet.config import load_config
from sscma_rtmdet.engine.trainer import Trainer, TrainOptions
from sscma_rtmdet.runtime.checkpoint import load_checkpoint_file

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine (CPU torch)")


@needs_gpu
def test_training_on_cuda_with_amp(tmp_path):
    data = small_dataset(tmp_path / "data")
    cfg = load_config(NANO, tutorial_options(data) + ["max_epochs=1"])
    trainer = Trainer(cfg, TrainOptions(work_dir=tmp_path / "wd", config_path=str(NANO), device="cuda",
                                        progress=False))
    assert trainer.device.startswith("cuda") and trainer.speed.precision == "float16" and trainer.speed.grad_scaling
    trainer.train()
    ckpt = load_checkpoint_file(tmp_path / "wd" / "epoch_1.pth")
    assert all(torch.isfinite(v.float()).all() for v in ckpt["state_dict"].values() if v.is_floating_point())


def test_cuda_device_on_a_cpu_build_is_one_clear_error():
    from sscma_rtmdet.errors import UserError
    from sscma_rtmdet.utils.device import resolve_device

    assert resolve_device("cpu") == "cpu" and resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(UserError, match="--device banana: unknown"):
        resolve_device("banana")
    if torch.cuda.is_available():
        assert resolve_device("0") == "cuda:0"
    else:
        for spec in ("cuda", "cuda:1", "0"):
            with pytest.raises(UserError, match="no CUDA .*Training on a GPU"):
                resolve_device(spec)
