"""MobileNetV4-Conv-Small backbone (Qin et al. 2024, "MobileNetV4 - Universal Models for the Mobile Ecosystem").

Block spec follows the published Conv-Small definition (TF model garden `MNV4ConvSmall_BLOCK_SPECS`,
timm `mobilenetv4_conv_small`), without the classification head (global pool, 1x1 1280 conv, classifier).
Only conv / depthwise conv / BatchNorm / ReLU-family / add are used, so the int8 TFLite export maps onto the
Ethos-U55 NPU (no SE, no hard-swish, no layer scale).

Stages (input 224, widen_factor=1):
    stem     3x3 s2 conv 32                                        stride 2
    stage 0  conv 3x3 s2 32, conv 1x1 32                           stride 4,  32 ch
    stage 1  conv 3x3 s2 96, conv 1x1 64                           stride 8,  64 ch
    stage 2  UIB ExtraDW, 4x UIB IB, UIB ConvNeXt-like             stride 16, 96 ch
    stage 3  2x UIB ExtraDW, 4x UIB IB                             stride 32, 128 ch
    stage 4  conv 1x1 960                                          stride 32, 960 ch
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from sscma_rtmdet.errors import ConfigError
from sscma_rtmdet.models.layers import ConvModule

# ('cn', out, kernel, stride) plain conv-BN-act.
# ('uib', out, start_dw_kernel, mid_dw_kernel, stride, expand_ratio); kernel 0 = that depthwise is absent.
#   start>0, mid>0: ExtraDW; start=0, mid>0: IB (MobileNetV2 inverted bottleneck); start>0, mid=0: ConvNeXt-like.
_STAGES: tuple[tuple[tuple, ...], ...] = (
    (('cn', 32, 3, 2), ('cn', 32, 1, 1)),
    (('cn', 96, 3, 2), ('cn', 64, 1, 1)),
    (('uib', 96, 5, 5, 2, 3.0),
     ('uib', 96, 0, 3, 1, 2.0), ('uib', 96, 0, 3, 1, 2.0), ('uib', 96, 0, 3, 1, 2.0), ('uib', 96, 0, 3, 1, 2.0),
     ('uib', 96, 3, 0, 1, 4.0)),
    (('uib', 128, 3, 3, 2, 6.0), ('uib', 128, 5, 5, 1, 4.0), ('uib', 128, 0, 5, 1, 4.0),
     ('uib', 128, 0, 5, 1, 3.0), ('uib', 128, 0, 3, 1, 4.0), ('uib', 128, 0, 3, 1, 4.0)),
    (('cn', 960, 1, 1),),
)
_STEM_CHANNELS = 32
_ACTS = ('relu', 'relu6', 'silu')


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round `value` to the nearest multiple of `divisor`, never dropping more than 10% (MobileNet rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def stage_strides() -> list[int]:
    """Output stride of each of the 5 stages: [4, 8, 16, 32, 32]."""
    strides, total = [], 2  # the stem halves the input
    for stage in _STAGES:
        for spec in stage:
            total *= spec[3] if spec[0] == 'cn' else spec[4]
        strides.append(total)
    return strides


def _check_act(name: str) -> str:
    # Narrower than layers.build_act on purpose: hard-swish does not map onto the Ethos-U55 NPU.
    if name not in _ACTS:
        raise ConfigError(f"model.backbone.act: unknown activation {name!r} for MobileNetV4ConvSmall; "
                          f"use one of {_ACTS}")
    return name


class UniversalInvertedBottleneck(nn.Module):
    """UIB: [start depthwise] -> 1x1 expand -> [middle depthwise] -> 1x1 project, residual when shapes match.

    The start depthwise and the projection are linear (BN, no activation), as in the paper. When a middle
    depthwise exists it carries the stride (works on the expanded tensor), otherwise the start one does.
    Shapes: (N, in_ch, H, W) -> (N, out_ch, H/stride, W/stride).
    """

    def __init__(self, in_ch: int, out_ch: int, start_k: int, mid_k: int, stride: int, expand_ratio: float,
                 act: str = 'relu') -> None:
        super().__init__()
        if stride > 1 and not (start_k or mid_k):
            raise ValueError('a strided UIB needs a start or middle depthwise conv')
        mid_ch = make_divisible(in_ch * expand_ratio)
        start_stride = 1 if mid_k else stride
        self.dw_start = (ConvModule(in_ch, in_ch, start_k, start_stride, groups=in_ch, act=None)
                         if start_k else nn.Identity())
        self.pw_exp = ConvModule(in_ch, mid_ch, 1, act=act)
        self.dw_mid = ConvModule(mid_ch, mid_ch, mid_k, stride, groups=mid_ch, act=act) if mid_k else nn.Identity()
        self.pw_proj = ConvModule(mid_ch, out_ch, 1, act=None)
        self.has_skip = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.pw_proj(self.dw_mid(self.pw_exp(self.dw_start(x))))
        return out + x if self.has_skip else out


def _build_block(spec: tuple, in_ch: int, widen_factor: float, act: str) -> tuple[nn.Module, int]:
    out_ch = make_divisible(spec[1] * widen_factor)
    if spec[0] == 'cn':
        return ConvModule(in_ch, out_ch, spec[2], spec[3], act=act), out_ch
    _, _, start_k, mid_k, stride, ratio = spec
    return UniversalInvertedBottleneck(in_ch, out_ch, start_k, mid_k, stride, ratio, act), out_ch


def _check_out_indices(out_indices: Sequence[int]) -> tuple[int, ...]:
    idx = tuple(int(i) for i in out_indices)
    if not idx or list(idx) != sorted(set(idx)) or idx[0] < 0 or idx[-1] >= len(_STAGES):
        raise ConfigError(f"model.backbone.out_indices: {tuple(out_indices)} is not a strictly increasing list of "
                          f"stage indices in 0..{len(_STAGES) - 1} (strides {stage_strides()}); "
                          "use e.g. (1, 2, 3) for strides 8, 16, 32")
    return idx


class MobileNetV4ConvSmall(nn.Module):
    """MobileNetV4-Conv-Small feature extractor, random init.

    Args:
        act: 'relu' (paper), 'relu6' or 'silu'.
        widen_factor: multiplies every channel count (rounded to a multiple of 8); 1.0 is the published net.
        out_indices: stage indices (0..4) whose outputs are returned; see `stage_strides()`.
            Default (1, 2, 3) gives strides 8/16/32 with 64/96/128 channels. Stage 4 (the 1x1 conv to 960)
            is the classifier's feature expansion before global pooling: for detection it only turns a 128-ch
            stride-32 map into a 7.5x wider one (123k params, ~7.5x the int8 activation memory at that level)
            that a 64-ch nano neck immediately reduces again, so it is left out (and not built) by default.
            Pass (1, 2, 4) to use it ([64, 96, 960]).

    forward: x (N, 3, H, W), H and W multiples of 32 -> tuple of len(out_indices) tensors
        (N, out_channels[i], H / strides[i], W / strides[i]).
    """

    def __init__(self, act: str = 'relu', widen_factor: float = 1.0,
                 out_indices: Sequence[int] = (1, 2, 3)) -> None:
        super().__init__()
        if not widen_factor or widen_factor <= 0:
            raise ConfigError(f'model.backbone.widen_factor: must be > 0, got {widen_factor!r}')
        act = _check_act(act)
        self.out_indices = _check_out_indices(out_indices)
        in_ch = make_divisible(_STEM_CHANNELS * widen_factor)
        self.stem = ConvModule(3, in_ch, 3, 2, act=act)
        stage_channels = []
        self.stages = nn.ModuleList()
        # Stages after the last requested one would be dead weight (and unused params break DDP), so skip them.
        for stage in _STAGES[:self.out_indices[-1] + 1]:
            blocks = []
            for spec in stage:
                block, in_ch = _build_block(spec, in_ch, widen_factor, act)
                blocks.append(block)
            self.stages.append(nn.Sequential(*blocks))
            stage_channels.append(in_ch)
        all_strides = stage_strides()
        self.out_channels: list[int] = [stage_channels[i] for i in self.out_indices]
        self.strides: tuple[int, ...] = tuple(all_strides[i] for i in self.out_indices)
        self.init_weights()

    def init_weights(self) -> None:
        """Kaiming-normal (fan_out, ReLU gain) convs; BN to identity."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """x (N, 3, H, W) -> tuple of feature maps at `self.strides` with `self.out_channels` channels."""
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
