"""RTMDetSepBNHead: per-level cls/reg conv towers (optionally sharing conv weights), BN per level."""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..targets import HALF_CELL
from .layers import ConvModule

PRIOR_PROB = 0.01
# l, t, r, b (grid units) -> offset of the centre from the anchor, then width and height
CENTRE_SIZE = ((-0.5, 0.0, 0.5, 0.0), (0.0, -0.5, 0.0, 0.5), (1.0, 0.0, 1.0, 0.0), (0.0, 1.0, 0.0, 1.0))


class RTMDetSepBNHead(nn.Module):
    """Dense anchor-free head.

    forward(feats): feats[i] (N, in_channels, H_i, W_i) ->
    (cls_scores, bbox_preds): lists per level, cls_scores[i] (N, num_classes, H_i, W_i) raw logits,
    bbox_preds[i] (N, 4, H_i, W_i) l,t,r,b distances in input pixels (already times the stride).

    With share_conv, level i's tower convs are the same nn.Conv2d objects as level 0's (so the
    state_dict repeats them under each level's key, like mmdet); BN and 1x1 preds stay per level.
    """

    def __init__(self, num_classes: int, in_channels: int, feat_channels: int = 256, stacked_convs: int = 2,
                 share_conv: bool = True, exp_on_reg: bool = False, act: str = "silu",
                 strides: Sequence[int] = (8, 16, 32)):
        super().__init__()
        if int(num_classes) < 1:
            raise ConfigError(f"model.head.num_classes must be >= 1, got {num_classes}")
        if int(stacked_convs) < 1:
            raise ConfigError(f"model.head.stacked_convs must be >= 1, got {stacked_convs}")
        self.num_classes = int(num_classes)
        self.strides = tuple(int(s) for s in strides)
        self.exp_on_reg = bool(exp_on_reg)
        self.share_conv = bool(share_conv)

        def tower() -> nn.ModuleList:
            return nn.ModuleList(ConvModule(in_channels if i == 0 else feat_channels, feat_channels, 3, act=act)
                                 for i in range(stacked_convs))

        levels = range(len(self.strides))
        self.cls_convs = nn.ModuleList(tower() for _ in levels)
        self.reg_convs = nn.ModuleList(tower() for _ in levels)
        self.cls_preds = nn.ModuleList(nn.Conv2d(feat_channels, self.num_classes, 1) for _ in levels)
        self.reg_preds = nn.ModuleList(nn.Conv2d(feat_channels, 4, 1) for _ in levels)
        if self.share_conv:
            for towers in (self.cls_convs, self.reg_convs):
                for lvl in towers[1:]:
                    for layer, first in zip(lvl, towers[0]):
                        layer.conv = first.conv
        self.init_weights()

    def init_weights(self) -> None:
        """Convs Normal(0, 0.01) with zero bias; BN weight 1 / bias 0; cls bias = logit(0.01)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        bias_cls = -math.log((1 - PRIOR_PROB) / PRIOR_PROB)
        for conv in self.cls_preds:
            nn.init.constant_(conv.bias, bias_cls)

    def forward(self, feats: Sequence[torch.Tensor], grid_units: bool = False
                ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """grid_units=True: box distances in grid cells (not times the stride)."""
        cls_scores, bbox_preds = [], []
        for i, (cls_feat, reg_feat) in enumerate(self._towers(feats)):
            reg = self.reg_preds[i](reg_feat)
            if self.exp_on_reg:
                reg = reg.exp()
            cls_scores.append(self.cls_preds[i](cls_feat))
            bbox_preds.append(reg if grid_units else reg * self.strides[i])
        return cls_scores, bbox_preds

    def _towers(self, feats: Sequence[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per level (cls features, reg features), each (N, feat_channels, H_i, W_i)."""
        if len(feats) != len(self.strides):
            raise ValueError(f"head expects {len(self.strides)} levels, got {len(feats)}")
        out = []
        for i, x in enumerate(feats):
            cls_feat, reg_feat = x, x
            for layer in self.cls_convs[i]:
                cls_feat = layer(cls_feat)
            for layer in self.reg_convs[i]:
                reg_feat = layer(reg_feat)
            out.append((cls_feat, reg_feat))
        return out

    def deploy_outputs(self, feats: Sequence[torch.Tensor], layout: str) -> tuple[list, list]:
        """(logits per level, box values per level) as an exported graph outputs them (runtime.layout):
        'nchw' distances in pixels, 'sscma' in grid units plus the half cell, 'yolov8' normalised cx, cy, w, h."""
        if layout == "yolov8":
            return self._yolo_outputs(feats)
        cls_scores, reg = self.forward(feats, grid_units=True)
        return cls_scores, box_values(reg, self.strides, layout)

    def _yolo_outputs(self, feats: Sequence[torch.Tensor]) -> tuple[list, list]:
        """Logits and per level (offset, size), each (N, 2, H, W) in 0..1 of the input: the centre's offset from
        its anchor and the box size, the centre/size map of the distances folded into the last reg conv as two
        convs, so that int8 gives each its own grid (the small offsets a fine one). runtime.layout adds the
        anchors and arranges the rows."""
        cls_scores, boxes = [], []
        for i, (cls_feat, reg_feat) in enumerate(self._towers(feats)):
            h, w = reg_feat.shape[-2:]
            s = self.strides[i]
            norm = reg_feat.new_tensor([s / (w * s), s / (h * s)] * 2)  # grid units -> 0..1 of the input
            mix = reg_feat.new_tensor(CENTRE_SIZE) * norm.view(4, 1)
            pred = self.reg_preds[i]
            if self.exp_on_reg:  # exp first: the map stays (tiny) 1x1 convs of its own
                d = pred(reg_feat).exp()
                off, size = (F.conv2d(d, mix[k:k + 2].view(2, 4, 1, 1)) for k in (0, 2))
            else:
                weight, bias = mix @ pred.weight.flatten(1), mix @ pred.bias
                off, size = (F.conv2d(reg_feat, weight[k:k + 2].view(2, -1, 1, 1), bias[k:k + 2]) for k in (0, 2))
            cls_scores.append(self.cls_preds[i](cls_feat))
            boxes.append((off, size))
        return cls_scores, boxes


def box_values(reg_grid: Sequence[torch.Tensor], strides: Sequence[int], layout: str) -> list[torch.Tensor]:
    """Grid-unit l,t,r,b (N,4,H,W) per level -> the box quantity of `layout`: pixels ('nchw') or grid
    units + (0.5, 0.5, -0.5, -0.5) ('sscma': anchors at cell centres; see runtime/layout.py)."""
    if layout == "nchw":
        return [r * s for r, s in zip(reg_grid, strides)]
    half = torch.tensor(HALF_CELL, dtype=reg_grid[0].dtype, device=reg_grid[0].device).view(1, 4, 1, 1)
    return [r + half for r in reg_grid]
