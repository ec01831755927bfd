"""Building blocks shared by CSPNeXt, the PAFPN neck and the head (mmdet 3.3.0 semantics).

All feature maps are NCHW float tensors.
"""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError

ACTIVATIONS = {
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "hardswish": nn.Hardswish,
}


def build_act(name: str | None) -> nn.Module:
    """Activation module by config name ('silu', 'relu', 'relu6', 'hardswish'; None -> identity)."""
    if name is None or name == "none":
        return nn.Identity()
    key = str(name).lower()
    if key not in ACTIVATIONS:
        raise ConfigError(f"act={name!r} is not supported; use one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[key]()


class ConvModule(nn.Module):
    """Conv2d(bias=False, 'same' padding) + BatchNorm2d + activation.

    (N, in_ch, H, W) -> (N, out_ch, H/stride, W/stride).
    """

    def __init__(self, in_ch: int, out_ch: int, k: int = 1, s: int = 1, groups: int = 1,
                 act: str | None = "silu"):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, k, s, padding=k // 2, groups=groups, bias=False)
        # torch defaults (momentum 0.1, eps 1e-5) are what mmdet's RTMDet configs use
        self.bn = nn.BatchNorm2d(out_ch)
        self.act = build_act(act)
        self.float32_in_autocast = False  # set by engine/speed.py where a dtype is slower than float32

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.float32_in_autocast and torch.is_autocast_enabled(x.device.type):
            with torch.autocast(x.device.type, enabled=False):
                return self.act(self.bn(self.conv(x.float())))
        return self.act(self.bn(self.conv(x)))


def conv_bn(in_ch: int, out_ch: int, k: int, s: int = 1, act: str | None = "silu",
            depthwise: bool = False) -> nn.Module:
    """A kxk ConvModule, or with `depthwise` mmdet's DepthwiseSeparableConvModule as a Sequential: kxk
    depthwise ConvModule then 1x1 ConvModule (k*k*C + C*C' weights instead of k*k*C*C').
    (N, in_ch, H, W) -> (N, out_ch, H/s, W/s)."""
    if not depthwise:
        return ConvModule(in_ch, out_ch, k, s, act=act)
    return nn.Sequential(ConvModule(in_ch, in_ch, k, s, groups=in_ch, act=act), ConvModule(in_ch, out_ch, 1, act=act))


class ChannelAttention(nn.Module):
    """Squeeze-excite style gate: x * hardsigmoid(fc(avgpool(x))). (N, C, H, W) -> same."""

    def __init__(self, channels: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(channels, channels, 1, bias=True)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc(self.pool(x)))


class MaxPoolChain(nn.Module):
    """Max-pools of sizes 5, 9, 13 (stride 1, 'same' padding) as chained 3x3 pools.

    A kxk stride-1 max-pool equals (k-1)/2 stacked 3x3 ones (max is associative and -inf padding
    never wins), so 5 = two, 9 = four, 13 = six; chaining reuses the earlier results. Int8 NPUs
    (Ethos-U, ESP-DL) support 3x3 pools but not 9x9/13x13.
    (N, C, H, W) -> list of (N, C, H, W), one per kernel size.
    """

    def __init__(self, kernel_sizes=(5, 9, 13)):
        super().__init__()
        steps = [(k - 1) // 2 for k in kernel_sizes]
        if any(k % 2 == 0 or k < 3 for k in kernel_sizes) or steps != sorted(steps):
            raise ConfigError(f"split_pool needs odd increasing kernel sizes >= 3, got {kernel_sizes}")
        self.steps = steps
        self.pool = nn.MaxPool2d(3, 1, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs, done = [], 0
        for n in self.steps:
            for _ in range(n - done):
                x = self.pool(x)
            done = n
            outs.append(x)
        return outs


class SPPBottleneck(nn.Module):
    """SPP: 1x1 C->C/2, concat [x, pool5, pool9, pool13] (4*C/2), 1x1 -> out. (N, C, H, W) -> (N, out, H, W)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_sizes=(5, 9, 13), act: str = "silu",
                 split_pool: bool = False):
        super().__init__()
        mid = in_ch // 2
        self.reduce = ConvModule(in_ch, mid, 1, act=act)
        if split_pool:
            self.pools = MaxPoolChain(kernel_sizes)
        else:
            self.pools = nn.ModuleList(nn.MaxPool2d(k, 1, k // 2) for k in kernel_sizes)
        self.fuse = ConvModule(mid * (len(kernel_sizes) + 1), out_ch, 1, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.reduce(x)
        if isinstance(self.pools, MaxPoolChain):
            pooled = self.pools(x)
        else:
            pooled = [pool(x) for pool in self.pools]
        return self.fuse(torch.cat([x, *pooled], dim=1))


class CSPNeXtBlock(nn.Module):
    """3x3 conv, 5x5 depthwise conv, 1x1 conv, optional residual. (N, C_in, H, W) -> (N, C_out, H, W)."""

    def __init__(self, in_ch: int, out_ch: int, add_identity: bool = True, act: str = "silu",
                 use_depthwise: bool = False):
        super().__init__()
        self.conv1 = conv_bn(in_ch, out_ch, 3, act=act, depthwise=use_depthwise)
        self.dw = ConvModule(out_ch, out_ch, 5, groups=out_ch, act=act)
        self.pw = ConvModule(out_ch, out_ch, 1, act=act)
        self.add_identity = add_identity and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.pw(self.dw(self.conv1(x)))
        return x + out if self.add_identity else out


class CSPLayer(nn.Module):
    """Cross-stage-partial layer. (N, in_ch, H, W) -> (N, out_ch, H, W).

    main = 1x1 -> N blocks; short = 1x1; cat [main, short] (2*mid) -> [attention] -> 1x1 -> out_ch,
    with mid = int(out_ch * expand_ratio).
    """

    def __init__(self, in_ch: int, out_ch: int, num_blocks: int = 1, add_identity: bool = True,
                 expand_ratio: float = 0.5, channel_attention: bool = False, act: str = "silu",
                 use_depthwise: bool = False):
        super().__init__()
        mid = int(out_ch * expand_ratio)
        self.main = ConvModule(in_ch, mid, 1, act=act)
        self.short = ConvModule(in_ch, mid, 1, act=act)
        self.blocks = nn.Sequential(*(CSPNeXtBlock(mid, mid, add_identity, act, use_depthwise) for _ in range(num_blocks)))
        self.attn = ChannelAttention(2 * mid) if channel_attention else nn.Identity()
        self.fuse = ConvModule(2 * mid, out_ch, 1, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.cat([self.blocks(self.main(x)), self.short(x)], dim=1)
        return self.fuse(self.attn(y))
