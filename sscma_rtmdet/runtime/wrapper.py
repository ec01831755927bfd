"""The deploy wrapper: a detector as it is exported and run, (N,3,H,W) pixels -> named per-level maps.

Output order (fixed): `score_s8, score_s16, score_s32, box_s8, box_s16, box_s32` (for strides 8/16/32),
i.e. all score maps in stride order, then all box maps. Every backend returns these names.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..errors import UserError


def output_names(strides: Sequence[int]) -> list[str]:
    """Graph output names in graph order: scores per stride, then boxes per stride."""
    return [f"score_s{s}" for s in strides] + [f"box_s{s}" for s in strides]


def model_strides(model: nn.Module) -> tuple[int, ...]:
    """Strides from the head (design: RTMDetSepBNHead.strides), falling back to the model attribute."""
    for owner in (getattr(model, "head", None), model):
        strides = getattr(owner, "strides", None)
        if strides is not None:
            return tuple(int(s[0] if isinstance(s, (tuple, list)) else s) for s in strides)
    return (8, 16, 32)


def preprocess_dict(preprocess) -> dict:
    if isinstance(preprocess, dict):
        return preprocess
    if hasattr(preprocess, "to_dict"):  # data.preprocess.Preprocess
        return preprocess.to_dict()
    return {k: getattr(preprocess, k) for k in ("color", "mean", "std", "pad_value") if hasattr(preprocess, k)}


class ExportWrapper(nn.Module):
    """Deployable RTMDet: (N,3,H,W) input -> tuple of per-level maps named by `output_names`.

    With `fold_normalization` the input is raw pixels (float 0..255, training colour order, NCHW) and
    (x - mean) / std runs inside the graph as one multiply-add; otherwise the input is already normalised.
    Returns `score_s*` = sigmoid(logits) (N,C,H_i,W_i) then `box_s*` = l,t,r,b distances * stride (N,4,H_i,W_i).
    """

    def __init__(self, model: nn.Module, preprocess, fold_normalization: bool = True):
        super().__init__()
        pre = preprocess_dict(preprocess)
        self.model = model
        self.fold_normalization = bool(fold_normalization)
        self.strides = model_strides(model)
        self.output_names = output_names(self.strides)
        mean = torch.tensor(pre["mean"], dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(pre["std"], dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("in_scale", 1.0 / std, persistent=False)
        self.register_buffer("in_bias", -mean / std, persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.fold_normalization:
            x = x * self.in_scale + self.in_bias
        cls_scores, bbox_preds = self.model(x)
        if len(cls_scores) != len(self.strides) or len(bbox_preds) != len(self.strides):
            raise UserError(f"model returned {len(cls_scores)} score / {len(bbox_preds)} box levels but the "
                            f"head declares strides {self.strides}")
        return tuple(c.sigmoid() for c in cls_scores) + tuple(bbox_preds)

    def named(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """forward() as {output name: tensor}; the reference the backends are compared with."""
        return dict(zip(self.output_names, self.forward(x)))
