import math

import torch
from torch import nn

from sscma_rtmdet.engine.ema import ExpMomentumEMA


def test_momentum_formula_matches_mmdet():
    ema = ExpMomentumEMA(nn.Linear(2, 2), momentum=0.0002, gamma=2000)
    for step in (0, 10, 5000):
        assert math.isclose(ema.momentum_at(step), (1 - 0.0002) * math.exp(-(1 + step) / 2000) + 0.0002)


def test_first_update_copies_then_averages_params_and_buffers():
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2))
    ema = ExpMomentumEMA(model, momentum=0.5, gamma=1e9)  # momentum ~= 1.0 - tiny: near copy
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[1].running_mean.fill_(2.0)
    ema.update(model)
    assert torch.equal(ema.module[0].weight, model[0].weight)
    assert torch.equal(ema.module[1].running_mean, model[1].running_mean)
    m = ema.momentum_at(1)
    with torch.no_grad():
        model[0].weight.fill_(3.0)
    ema.update(model)
    assert torch.allclose(ema.module[0].weight, torch.full_like(model[0].weight, 1.0 * (1 - m) + 3.0 * m))
    assert int(ema.module[1].num_batches_tracked) == int(model[1].num_batches_tracked)


def test_state_dict_round_trip():
    model = nn.Linear(3, 1)
    ema = ExpMomentumEMA(model)
    ema.update(model)
    ema.update(model)
    other = ExpMomentumEMA(nn.Linear(3, 1))
    other.load_state_dict(ema.state_dict())
    assert other.steps == 2
    assert torch.equal(other.module.weight, ema.module.weight)


def test_shared_weight_is_averaged_once():
    conv = nn.Conv2d(1, 1, 1, bias=False)
    model = nn.ModuleDict({"a": conv, "b": conv})  # one tensor under two state_dict keys
    ema = ExpMomentumEMA(model, momentum=0.0002, gamma=1.0)
    with torch.no_grad():
        conv.weight.fill_(0.0)
    ema.update(model)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    ema.update(model)
    m = ema.momentum_at(1)
    assert torch.allclose(ema.module["a"].weight, torch.full((1, 1, 1, 1), m))
