"""QATTrainer.qat_model (which state is exported) and the CLI's choice between exported candidates."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sscma_rtmdet.quant.ship import choose_state
from sscma_rtmdet.config import load_config
from sscma_rtmdet.engine.ema import ExpMomentumEMA
from sscma_rtmdet.errors import ConfigError
from sscma_rtmdet.models import build_model
from sscma_rtmdet.quant.qmodel import calibrate, prepare_qat, quantizers
from sscma_rtmdet.quant.trainer import START_CHECKPOINT, QATTrainer

CONFIG = "configs/rtmdet_nano_8xb32_300e_coco_relu.py"
KEY = "backbone.stem.0.conv.weight"


def _trainer(tmp_path, start_val=0.30, tuned_val=0.28):
    """A QATTrainer shell (no data): start state (epoch 0) and best fine-tuned state (epoch 2) saved with
    other weights than the final EMA model (epoch 3)."""
    cfg = load_config(Path(__file__).resolve().parents[2] / CONFIG, ["num_classes=3", "imgsz=(64,64)"])
    torch.manual_seed(0)
    qmodel = prepare_qat(build_model(cfg.model).eval())
    calibrate(qmodel, [torch.randn(2, 3, 64, 64)])
    states = {}
    for name, shift, val in ((START_CHECKPOINT, 1.0, start_val), ("best.pth", 2.0, tuned_val)):
        state = {k: v.clone() for k, v in qmodel.state_dict().items()}
        state[KEY] += shift
        torch.save({"state_dict": state, "meta": {"metrics": {"coco/bbox_mAP": val}}}, tmp_path / name)
        states[name] = state
    t = object.__new__(QATTrainer)
    t.model, t.ema, t.work_dir = qmodel, ExpMomentumEMA(qmodel, **cfg.ema), tmp_path
    t.best = {"metric": tuned_val, "epoch": 2}
    t.epoch, t.last_val_mAP = 3, 0.25
    return t, states


def test_start_tuned_and_last_states(tmp_path):
    t, states = _trainer(tmp_path)
    model, info = t.qat_model("start")
    assert info == {"which": "start", "epoch": 0, "val_mAP": 0.30}
    assert torch.equal(model.state_dict()[KEY], states[START_CHECKPOINT][KEY])
    assert model is not t.ema.module and len(quantizers(model)) == len(quantizers(t.ema.module))
    model, info = t.qat_model("tuned")
    assert info == {"which": "tuned", "epoch": 2, "val_mAP": 0.28}
    assert torch.equal(model.state_dict()[KEY], states["best.pth"][KEY])
    model, info = t.qat_model("last")
    assert info == {"which": "last", "epoch": 3, "val_mAP": 0.25} and model is t.ema.module


@pytest.mark.parametrize(("start_val", "tuned_val", "epoch"), [(0.30, 0.28, 0), (0.28, 0.30, 2), (0.30, 0.30, 2)])
def test_best_is_the_higher_validation_ties_to_fine_tuned(tmp_path, start_val, tuned_val, epoch):
    t, _ = _trainer(tmp_path, start_val, tuned_val)
    assert t.qat_model("best")[1]["epoch"] == epoch


def test_bad_choice_and_missing_start_are_clear_errors(tmp_path):
    t, _ = _trainer(tmp_path)
    with pytest.raises(ConfigError, match="use one of best, start, tuned, last"):
        t.qat_model("newest")
    (tmp_path / START_CHECKPOINT).unlink()
    with pytest.raises(ConfigError, match="qat_start.pth not found"):
        t.qat_model("start")


def test_choose_state_prefers_file_ap_then_fake_quant_ties_to_later():
    start = {"epoch": 0, "val_mAP": 0.20, "file_mAP": 0.166}
    tuned = {"epoch": 3, "val_mAP": 0.21, "file_mAP": 0.164}
    assert choose_state([start, tuned]) == 0  # the files decide, not the fake-quant validation
    assert choose_state([start, {**tuned, "file_mAP": 0.166}]) == 1  # a tie ships the fine-tuned state
    assert choose_state([{**start, "file_mAP": None}, tuned]) == 1  # without file scores: fake-quant AP
    assert choose_state([{**start, "file_mAP": None}, {**tuned, "file_mAP": None, "val_mAP": None}]) == 0
