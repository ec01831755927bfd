"""A small RTMDet-shaped model for export tests: 3 levels (strides 8/16/32), conv+BN+act, per-level heads.

forward(x (N,3,H,W)) -> (cls_scores [(N,C,H/s,W/s)], bbox_preds [(N,4,H/s,W/s)] distances * stride).
"""
from __future__ import annotations

import torch
from torch import nn


def _cba(cin, cout, stride, act):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), act())


class StandIn(nn.Module):
    strides = (8, 16, 32)

    def __init__(self, num_classes: int = 3, width: int = 8, act=nn.ReLU):
        super().__init__()
        self.stem = nn.Sequential(_cba(3, width, 2, act), _cba(width, width, 2, act), _cba(width, width, 2, act))
        self.down = nn.ModuleList([_cba(width, width, 2, act), _cba(width, width, 2, act)])
        self.cls = nn.ModuleList([nn.Conv2d(width, num_classes, 1) for _ in self.strides])
        self.reg = nn.ModuleList([nn.Conv2d(width, 4, 1) for _ in self.strides])

    def forward(self, x):
        feats = [self.stem(x)]
        for d in self.down:
            feats.append(d(feats[-1]))
        cls = [c(f) for c, f in zip(self.cls, feats)]
        box = [r(f).relu() * s for r, f, s in zip(self.reg, feats, self.strides)]
        return cls, box


def calibrate_bn(model: nn.Module, batch: torch.Tensor, seed: int = 0) -> nn.Module:
    """Give a random-weight model realistic BN: statistics measured on `batch` (N,3,H,W, normalised), then
    random affine. Activations stay O(1) at every depth, so int8 tests are not trivially all-zero."""
    g = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration pass
        m.weight.data.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.75)
        m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.3)
    model.train()
    with torch.no_grad():
        model(batch)
    return model.eval()
