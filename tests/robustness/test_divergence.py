"""Issue 12 item 7: an exploding run stops with a clear message before its weights are saved, and the last
sane checkpoint stays as it was."""
from __future__ import annotations

import pytest
import torch

from sscma_rtmdet.config import load_config
from sscma_rtmdet.runtime.checkpoint import load_checkpoint_file
from sscma_rtmdet.engine.guards import DivergenceGuard, TrainingDiverged
from sscma_rtmdet.engine.trainer import Trainer, TrainOptions


def _out(loss):
    t = torch.tensor(float(loss))
    return {"loss": t, "loss_cls": t / 2, "loss_bbox": t / 2}


def test_loss_far_above_its_running_level_stops():
    guard = DivergenceGuard("wd")
    for i in range(12):
        guard.check_loss(_out(2.0 + 0.1 * i), 0, i)
    guard.check_loss(_out(50.0), 0, 12)  # a spike, not an explosion
    with pytest.raises(TrainingDiverged, match=r"loss exploded to 1e\+04 \(above its running median 2\.\d+\) at "
                                               r"epoch 3, iteration 14 .*stopped without saving"):
        guard.check_loss(_out(1e4), 2, 13)


def test_loss_above_ceiling_or_nan_stops_from_the_first_step():
    with pytest.raises(TrainingDiverged, match=r"loss exploded to 1e\+14 \(above the ceiling 1e\+06\)"):
        DivergenceGuard("wd").check_loss(_out(1e14), 0, 0)
    with pytest.raises(TrainingDiverged, match="loss became nan at epoch 1, iteration 1"):
        DivergenceGuard("wd").check_loss(_out(float("nan")), 0, 0)


def test_grad_norm_far_above_its_running_level_stops():
    guard = DivergenceGuard("wd")
    for i in range(12):
        guard.check_grad_norm(5.0, 0, i)
    guard.check_grad_norm(float("inf"), 0, 12)  # AMP overflow: the GradScaler skips that step
    with pytest.raises(TrainingDiverged, match=r"gradient norm exploded to 1e\+05"):
        guard.check_grad_norm(1e5, 0, 13)


@pytest.mark.parametrize("value", [1e35, float("inf"), float("nan")])
def test_exploded_or_non_finite_weights_stop(value):
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4))
    DivergenceGuard("wd").check_weights({"model": model}, 1, 5)
    with torch.no_grad():
        model[1].running_var[2] = value
    with pytest.raises(TrainingDiverged, match=r"model weights exploded \(1\.running_var: max \|value\|"):
        DivergenceGuard("wd").check_weights({"model": model}, 1, 5)


def _trainer(tiny_run, work_dir):
    cfg = load_config(tiny_run["config"], tiny_run["options"])
    return Trainer(cfg, TrainOptions(work_dir=work_dir, config_path=str(tiny_run["config"]), progress=False))


def test_exploding_loss_stops_training_and_keeps_the_sane_checkpoint(tiny_run, tmp_path, monkeypatch):
    from sscma_rtmdet.criterion import RTMDetCriterion

    real, calls = RTMDetCriterion.__call__, []

    def explode_in_epoch_2(self, *a, **k):  # 8 images, batch 4: calls 3.. are epoch 2
        out = real(self, *a, **k)
        calls.append(1)
        if len(calls) >= 3:
            out = {**out, "loss": out["loss"] * 1e14}
        return out
    monkeypatch.setattr(RTMDetCriterion, "__call__", explode_in_epoch_2)
    with pytest.raises(TrainingDiverged, match=r"loss exploded to .*e\+1\d .*at epoch 2, iteration 3"):
        _trainer(tiny_run, tmp_path / "wd").train()
    assert load_checkpoint_file(tmp_path / "wd" / "last.pth")["meta"]["epoch"] == 1


def test_exploded_weights_are_never_saved_as_last(tiny_run, tmp_path, monkeypatch):
    trainer = _trainer(tiny_run, tmp_path / "wd")
    real = Trainer._train_epoch

    def blow_up_after_epoch_2(self, epoch):
        ok = real(self, epoch)
        if epoch == 1:
            with torch.no_grad():
                next(self.model.parameters()).mul_(1e35)
        return ok
    monkeypatch.setattr(Trainer, "_train_epoch", blow_up_after_epoch_2)
    with pytest.raises(TrainingDiverged, match=r"model weights exploded \(backbone\..*\) at epoch 2, iteration 4"):
        trainer.train()
    last = load_checkpoint_file(tmp_path / "wd" / "last.pth")
    assert last["meta"]["epoch"] == 1 and not (tmp_path / "wd" / "epoch_2.pth").exists()
    assert all(torch.isfinite(v).all() and v.abs().max() < 1e6 for v in last["state_dict"].values()
               if v.is_floating_point())
