"""RTMDet = backbone -> neck -> head (no loss, no decoding: those live in criterion/ and postprocess)."""
from __future__ import annotations

import torch
from torch import nn


class RTMDet(nn.Module):
    """forward(x (N, 3, H, W) normalised) -> (cls_scores, bbox_preds), lists per level (see head)."""

    def __init__(self, backbone: nn.Module, neck: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        self.head = head

    @property
    def strides(self) -> tuple[int, ...]:
        return self.head.strides

    @property
    def num_classes(self) -> int:
        return self.head.num_classes

    def extract_feats(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(N, 3, H, W) -> neck maps, tuple of (N, C_neck, H/s_i, W/s_i)."""
        return self.neck(self.backbone(x))

    def forward(self, x: torch.Tensor, grid_units: bool = False) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        return self.head(self.extract_feats(x), grid_units=grid_units)

    def deploy_outputs(self, x: torch.Tensor, layout: str) -> tuple[list, list]:
        """What an exported graph of `layout` computes before its reshapes (see head.deploy_outputs)."""
        return self.head.deploy_outputs(self.extract_feats(x), layout)
