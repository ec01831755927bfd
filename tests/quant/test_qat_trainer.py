"""QATTrainer.qat_model: which state is exported (best-validated, epoch 0 included, or the last one)."""
from __future__ import annotations

import pytest
import torch

from sscma_rtmdet.config import load_config
from sscma_rtmdet.engine.ema import ExpMomentumEMA
from sscma_rtmdet.errors import ConfigError
from sscma_rtmdet.models import build_model
from sscma_rtmdet.quant.qmodel import calibrate, prepare_qat, quantizers
from sscma_rtmdet.quant.trainer import QATTrainer

CONFIG = "configs/rtmdet_nano_8xb32_300e_coco_relu.py"


def _trainer(tmp_path):
    """A QATTrainer shell (no data): EMA model trained on, best state saved at epoch 0 with other weights."""
    from pathlib import Path

    cfg = load_config(Path(__file__).resolve().parents[2] / CONFIG, ["num_classes=3", "imgsz=(64,64)"])
    torch.manual_seed(0)
    qmodel = prepare_qat(build_model(cfg.model).eval())
    calibrate(qmodel, [torch.randn(2, 3, 64, 64)])
    best_state = {k: v.clone() for k, v in qmodel.state_dict().items()}
    best_state["backbone.stem.0.conv.weight"] += 1.0  # the best state differs from the final one
    best = tmp_path / "best_coco_bbox_mAP_epoch_0.pth"
    torch.save({"state_dict": best_state}, best)
    t = object.__new__(QATTrainer)
    t.model, t.ema = qmodel, ExpMomentumEMA(qmodel, **cfg.ema)
    t.best = {"metric": 0.30, "path": str(best), "epoch": 0}
    t.epoch, t.last_val_mAP = 3, 0.25
    return t, best_state


def test_best_state_is_exported_by_default(tmp_path):
    t, best_state = _trainer(tmp_path)
    model, info = t.qat_model()
    assert info == {"which": "best", "epoch": 0, "val_mAP": 0.30}
    assert torch.equal(model.state_dict()["backbone.stem.0.conv.weight"], best_state["backbone.stem.0.conv.weight"])
    assert model is not t.ema.module  # a copy: the training EMA stays as it was
    assert len(quantizers(model)) == len(quantizers(t.ema.module))


def test_last_state_on_request_and_bad_choice(tmp_path):
    t, best_state = _trainer(tmp_path)
    model, info = t.qat_model("last")
    assert info == {"which": "last", "epoch": 3, "val_mAP": 0.25} and model is t.ema.module
    assert not torch.equal(model.state_dict()["backbone.stem.0.conv.weight"],
                           best_state["backbone.stem.0.conv.weight"])
    with pytest.raises(ConfigError, match="'best' or 'last'"):
        t.qat_model("newest")
