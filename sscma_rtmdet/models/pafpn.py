"""CSPNeXtPAFPN neck (RTMDet), numerically equal to mmdet 3.3.0's CSPNeXtPAFPN."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..errors import ConfigError
from .layers import CSPLayer, ConvModule, conv_bn


class CSPNeXtPAFPN(nn.Module):
    """Top-down then bottom-up path over backbone maps, then a 3x3 conv per level.

    Input: tuple of L maps (N, in_channels[i], H_i, W_i), finest first, each level half the size of the
    previous one. Output: tuple of L maps (N, out_channels, H_i, W_i). `use_depthwise` (mmdet's option) makes
    the 3x3 convs (downsamples, outputs, CSP blocks) depthwise-separable.
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int, num_csp_blocks: int = 3,
                 expand_ratio: float = 0.5, act: str = "silu", use_depthwise: bool = False):
        super().__init__()
        in_channels = [int(c) for c in in_channels]
        if len(in_channels) < 2:
            raise ConfigError(f"model.neck needs at least 2 input levels, got in_channels={in_channels}")
        self.in_channels = in_channels
        self.out_channels = int(out_channels)
        n = len(in_channels)

        def csp(cin: int, cout: int) -> CSPLayer:
            return CSPLayer(cin, cout, num_csp_blocks, add_identity=False, expand_ratio=expand_ratio,
                            channel_attention=False, act=act, use_depthwise=use_depthwise)

        # top-down: index j handles level n-1-j (coarsest first), as in mmdet
        self.reduce = nn.ModuleList(ConvModule(in_channels[i], in_channels[i - 1], 1, act=act)
                                    for i in range(n - 1, 0, -1))
        self.top_down = nn.ModuleList(csp(in_channels[i - 1] * 2, in_channels[i - 1]) for i in range(n - 1, 0, -1))
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        # bottom-up: index i goes from level i to level i+1
        self.downsample = nn.ModuleList(conv_bn(in_channels[i], in_channels[i], 3, 2, act, use_depthwise)
                                        for i in range(n - 1))
        self.bottom_up = nn.ModuleList(csp(in_channels[i] * 2, in_channels[i + 1]) for i in range(n - 1))
        self.out_convs = nn.ModuleList(conv_bn(c, self.out_channels, 3, 1, act, use_depthwise) for c in in_channels)

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        if len(feats) != len(self.in_channels):
            raise ValueError(f"neck expects {len(self.in_channels)} maps, got {len(feats)}")
        n = len(feats)
        inner = [feats[-1]]  # inner[0] is the current coarsest top-down map
        for j, i in enumerate(range(n - 1, 0, -1)):
            high = self.reduce[j](inner[0])
            inner[0] = high  # the bottom-up path reuses the reduced map
            inner.insert(0, self.top_down[j](torch.cat([self.upsample(high), feats[i - 1]], dim=1)))
        outs = [inner[0]]
        for i in range(n - 1):
            down = self.downsample[i](outs[-1])
            outs.append(self.bottom_up[i](torch.cat([down, inner[i + 1]], dim=1)))
        return tuple(conv(x) for conv, x in zip(self.out_convs, outs))
