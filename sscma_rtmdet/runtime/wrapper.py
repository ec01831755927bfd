"""The deploy wrapper: a detector as it is exported and run, (N,3,H,W) pixels -> named per-level outputs.

Output order (fixed): `score_s8, score_s16, score_s32, box_s8, box_s16, box_s32` (for strides 8/16/32),
i.e. all score outputs in stride order, then all box outputs; their shapes follow the layout
(runtime/layout.py). Every backend returns these names.
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import nn

from ..data.preprocess import Preprocess
from ..errors import UserError
from .layout import check_layout, graph_outputs

_INPUT_BUFFERS = ("in_scale", "in_bias", "in_scale_q", "in_bias_q")  # quant.qmodules.QRTMDet's


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


def as_preprocess(preprocess) -> Preprocess:
    return preprocess if isinstance(preprocess, Preprocess) else Preprocess.from_config(preprocess)


def first_conv(model: nn.Module) -> nn.Conv2d:
    """The convolution that reads the network input: the backbone's first Conv2d (3 input channels)."""
    for m in getattr(model, "backbone", model).modules():
        if isinstance(m, nn.Conv2d):
            if m.in_channels != 3 or m.groups != 1:
                break
            return m
    raise UserError(f"{type(model).__name__}: no 3-channel first convolution to fold the colour order into")


def with_input_flipped(model: nn.Module) -> nn.Module:
    """Copy of `model` that takes its input channels reversed (RGB for a BGR-trained model): the first conv's
    input channels and any per-channel input constants reversed, so the flip costs no op in the graph."""
    model = copy.deepcopy(model)
    conv = first_conv(model)
    with torch.no_grad():
        conv.weight.copy_(conv.weight.flip(1))
    for name in _INPUT_BUFFERS:
        buf = getattr(model, name, None)
        if isinstance(buf, torch.Tensor) and buf.dim() == 4 and buf.shape[1] == 3:
            setattr(model, name, buf.flip(1))
    return model


class ExportWrapper(nn.Module):
    """Deployable RTMDet: (N,3,H,W) input -> tuple of outputs named by `output_names`.

    With `fold_normalization` the input is raw pixels (float 0..255, NCHW) in `input_color` order (default:
    the training order) and the normalisation runs inside the graph as one multiply-add; a different
    `input_color` is folded into the first convolution. Without it the input is `Preprocess.normalize`'s
    output (training order). `layout` picks the output shapes (runtime/layout.py).
    """

    def __init__(self, model: nn.Module, preprocess, fold_normalization: bool = True, layout: str = "nchw",
                 input_color: str | None = None):
        super().__init__()
        pre = as_preprocess(preprocess)
        self.input_color = input_color or pre.color
        if not fold_normalization and self.input_color != pre.color:
            raise UserError("an input colour order other than the training one needs the normalisation folded "
                            "into the graph (drop --no-fold-normalization)")
        self.fold_normalization = bool(fold_normalization)
        self.layout = check_layout(layout)
        self.model = with_input_flipped(model) if self.input_color != pre.color else model
        self.strides = model_strides(model)
        self.output_names = output_names(self.strides)
        scale, bias = (torch.from_numpy(v).view(1, 3, 1, 1) for v in pre.affine())
        if self.input_color != pre.color:
            scale, bias = scale.flip(1), bias.flip(1)
        self.register_buffer("in_scale", scale, persistent=False)
        self.register_buffer("in_bias", bias, persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.fold_normalization:
            x = x * self.in_scale + self.in_bias
        cls_logits, boxes = self.model.deploy_outputs(x, self.layout)
        if len(cls_logits) != len(self.strides) or len(boxes) != len(self.strides):
            raise UserError(f"model returned {len(cls_logits)} score / {len(boxes)} box levels but the "
                            f"head declares strides {self.strides}")
        return graph_outputs(cls_logits, boxes, self.layout)

    def named(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """forward() as {output name: tensor}; the reference the backends are compared with."""
        return dict(zip(self.output_names, self.forward(x)))
