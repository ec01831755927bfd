"""AdamW parameter groups: no decay on norms and biases, and `optimizer.backbone_lr_mult` scaling the backbone's
lr through a whole run (mmdet's paramwise_cfg custom_keys)."""
import pytest
import torch
from _train_utils import CONFIG, small_dataset, tutorial_options

from sscma_rtmdet.config import load_config
from sscma_rtmdet.engine.optim import build_optimizer
from sscma_rtmdet.engine.trainer import Trainer, TrainOptions
from sscma_rtmdet.errors import ConfigError
from sscma_rtmdet.models.builder import build_model


def _model_and_cfg(**options):
    cfg = load_config(CONFIG, ["num_classes=3", *[f"{k}={v}" for k, v in options.items()]])
    return build_model(cfg.model), cfg


def _ids(params) -> set[int]:
    return {id(p) for p in params}


def test_default_layout_is_two_groups_with_norms_and_biases_undecayed():
    model, cfg = _model_and_cfg()
    groups = build_optimizer(model, cfg, 1e-3).param_groups
    assert [g["weight_decay"] for g in groups] == [cfg.weight_decay, 0.0]
    assert all("lr_mult" not in g and g["lr"] == 1e-3 for g in groups)  # old runs' optimizer state still loads
    norm_weights = _ids(m.weight for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert norm_weights <= _ids(groups[1]["params"]) and not norm_weights & _ids(groups[0]["params"])
    assert _ids(groups[0]["params"]) | _ids(groups[1]["params"]) == _ids(model.parameters())


def test_backbone_lr_mult_gives_the_backbone_its_own_lr():
    model, cfg = _model_and_cfg(**{"optimizer.backbone_lr_mult": 0.25})
    groups = build_optimizer(model, cfg, 1e-3).param_groups
    backbone, rest = _ids(model.backbone.parameters()), _ids(model.parameters()) - _ids(model.backbone.parameters())
    by_mult = {0.25: set(), 1.0: set()}
    for g in groups:
        by_mult[g["lr_mult"]] |= _ids(g["params"])
        assert g["lr"] == pytest.approx(1e-3 * g["lr_mult"])
    assert by_mult[0.25] == backbone and by_mult[1.0] == rest
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))  # each param once


@pytest.mark.parametrize("value", [-1.0, 11.0, "half", True])
def test_bad_backbone_lr_mult_names_the_option(value):
    model, cfg = _model_and_cfg()
    cfg.optimizer["backbone_lr_mult"] = value
    with pytest.raises(ConfigError, match=r"optimizer\.backbone_lr_mult=.*use a number from 0 to 10"):
        build_optimizer(model, cfg, 1e-3)


def test_zero_backbone_lr_trains_the_head_only(tmp_path):
    """Through the trainer's per-step schedule: a multiplier of 0 keeps every backbone weight as it started."""
    data = small_dataset(tmp_path / "demo")
    cfg = load_config(CONFIG, tutorial_options(data, **{"optimizer.backbone_lr_mult": 0.0}))
    trainer = Trainer(cfg, TrainOptions(work_dir=tmp_path / "wd", config_path=str(CONFIG), progress=False,
                                        stop_after_iters=3))
    model = trainer.model
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer.train()
    moved = {n for n, p in model.named_parameters() if not torch.equal(p.detach(), start[n])}
    assert moved and all(not n.startswith("backbone.") for n in moved)
    assert any(n.startswith("head.") for n in moved) and any(n.startswith("neck.") for n in moved)
