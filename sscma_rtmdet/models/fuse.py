"""Inference copies of a model: BatchNorm folded into the convolution before it (eval-mode BN is an affine map
per output channel, so conv -> BN equals one conv with scaled weights and a bias; equal up to float rounding)."""
from __future__ import annotations

import copy

import torch
from torch import nn

from .layers import ConvModule


def fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Conv weight (O, I/g, k, k) and bias (O,) of bn(conv(x)) with BN's running statistics (differentiable:
    QAT trains through it)."""
    factor = (bn.weight if bn.affine else 1.0) / torch.sqrt(bn.running_var + bn.eps)
    bias = (bn.bias if bn.affine else 0.0) - bn.running_mean * factor
    if conv.bias is not None:
        bias = bias + conv.bias * factor
    return conv.weight * factor.view(-1, 1, 1, 1), bias


@torch.no_grad()
def folded_conv(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new Conv2d computing bn(conv(x)) with `bn`'s running statistics (eval mode); inputs are untouched
    (a head's shared conv stays shared by the other levels' modules)."""
    weight, bias = fold_bn(conv, bn)
    out = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                    conv.dilation, conv.groups, bias=True, padding_mode=conv.padding_mode,
                    device=conv.weight.device, dtype=conv.weight.dtype)
    out.weight.copy_(weight)
    out.bias.copy_(bias)
    return out


def fuse_for_inference(model: nn.Module) -> nn.Module:
    """An eval-mode copy of `model` with every plain ConvModule's BatchNorm folded into its conv (subclasses,
    such as QAT's fake-quant QConvModule, keep theirs); `model` itself is not changed (the trainer validates
    its EMA copy this way and keeps training it)."""
    fused = copy.deepcopy(model).eval()
    for m in fused.modules():
        if type(m) is ConvModule and isinstance(m.bn, nn.BatchNorm2d) and m.bn.track_running_stats:
            m.conv, m.bn = folded_conv(m.conv, m.bn), nn.Identity()
    return fused.requires_grad_(False)
