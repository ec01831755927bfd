"""A small RTMDet-shaped model for export tests: 3 levels (strides 8/16/32), conv+BN+act, per-level heads.

forward(x (N,3,H,W)) -> (cls_scores [(N,C,H/s,W/s)], bbox_preds [(N,4,H/s,W/s)] distances * stride);
deploy_outputs(x, layout) as RTMDet's (models.head.box_values).
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
        self.num_classes = num_classes
        self.stem = nn.Sequential(_cba(3, width, 2, act), _cba(width, width, 2, act), _cba(width, width, 2, act))
        self.down = nn.ModuleList([_cba(width, width, 2, act), _cba(width, width, 2, act)])
        self.cls = nn.ModuleList([nn.Conv2d(width, num_classes, 1) for _ in self.strides])
        self.reg = nn.ModuleList([nn.Conv2d(width, 4, 1) for _ in self.strides])

    def forward(self, x, grid_units: bool = False):
        feats = [self.stem(x)]
        for d in self.down:
            feats.append(d(feats[-1]))
        cls = [c(f) for c, f in zip(self.cls, feats)]
        box = [r(f).relu() * (1 if grid_units else s) for r, f, s in zip(self.reg, feats, self.strides)]
        return cls, box

    def deploy_outputs(self, x, layout: str):
        from sscma_rtmdet.models.head import box_values

        cls, grid = self.forward(x, grid_units=True)
        return cls, box_values(grid, self.strides, layout)


def init_well_conditioned(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights that behave like a trained net under small perturbations.

    BN statistics measured on data make random ReLU nets chaotic (perturbations grow ~2x per layer: fp32
    rounding alone moved outputs by 4e-4 of their range), which hides real export bugs in noise. Instead:
    He-normal convs (variance-preserving through ReLU), identity BN running stats with mildly random
    affine, and prediction biases spread so sigmoid scores cover (0, 1).
    """
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_in = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
            m.weight.data.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5 * 0.8)
            if m.bias is not None:
                m.bias.data.copy_(torch.randn(m.bias.shape, generator=g) * 0.5)
        elif isinstance(m, nn.BatchNorm2d):
            m.running_mean.zero_()
            m.running_var.fill_(1.0)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) * 0.4 + 0.8)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model.eval()
