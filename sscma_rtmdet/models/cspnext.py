"""CSPNeXt backbone (RTMDet), numerically equal to mmdet 3.3.0's CSPNeXt."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..errors import ConfigError
from .layers import CSPLayer, ConvModule, SPPBottleneck, conv_bn


@dataclass(frozen=True)
class StageSpec:
    """One backbone stage before width/depth scaling; `depthwise`: its 3x3 convs depthwise-separable."""
    in_ch: int
    out_ch: int
    blocks: int
    add_identity: bool
    use_spp: bool
    depthwise: bool = False


ARCH_SETTINGS: dict[str, tuple[StageSpec, ...]] = {
    "P5": (StageSpec(64, 128, 3, True, False), StageSpec(128, 256, 6, True, False),
           StageSpec(256, 512, 6, True, False), StageSpec(512, 1024, 3, False, True)),
    # P5 with a lean stride-32 stage (as wide as the third, depthwise-separable 3x3 convs): on weight-streaming
    # NPUs (Ethos-U55 reading flash) P5's last stage is a third of the nano's weight bytes, 2 % of its MACs
    "P5-lean": (StageSpec(64, 128, 3, True, False), StageSpec(128, 256, 6, True, False),
                StageSpec(256, 512, 6, True, False), StageSpec(512, 512, 3, False, True, depthwise=True)),
}


class Stage(nn.Module):
    """3x3 stride-2 conv, [SPP], CSPLayer. (N, C_in, H, W) -> (N, C_out, H/2, W/2)."""

    def __init__(self, in_ch: int, out_ch: int, blocks: int, add_identity: bool, use_spp: bool,
                 expand_ratio: float, channel_attention: bool, act: str, split_pool: bool,
                 use_depthwise: bool = False):
        super().__init__()
        self.down = conv_bn(in_ch, out_ch, 3, 2, act=act, depthwise=use_depthwise)
        self.spp = SPPBottleneck(out_ch, out_ch, act=act, split_pool=split_pool) if use_spp else nn.Identity()
        self.csp = CSPLayer(out_ch, out_ch, blocks, add_identity, expand_ratio, channel_attention, act,
                            use_depthwise)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.csp(self.spp(self.down(x)))


class CSPNeXt(nn.Module):
    """Stem (stride 2) + 4 stages; returns the maps at `out_indices` (0 = stem, 1..4 = stages).
    `use_depthwise` (mmdet's option) makes each stage's 3x3 convs depthwise-separable; the stem keeps its own.

    Input (N, 3, H, W) with H, W multiples of 32 -> tuple of (N, out_channels[i], H/s_i, W/s_i),
    default strides (8, 16, 32).
    """

    def __init__(self, arch: str = "P5", deepen_factor: float = 1.0, widen_factor: float = 1.0,
                 expand_ratio: float = 0.5, channel_attention: bool = True, act: str = "silu",
                 split_pool: bool = False, out_indices=(2, 3, 4), use_depthwise: bool = False):
        super().__init__()
        if arch not in ARCH_SETTINGS:
            raise ConfigError(f"model.backbone.arch={arch!r} is unknown; use one of {sorted(ARCH_SETTINGS)}")
        specs = ARCH_SETTINGS[arch]
        out_indices = tuple(out_indices)
        if not out_indices or any(not 0 <= i <= len(specs) for i in out_indices):
            raise ConfigError(f"model.backbone.out_indices={out_indices} must lie in 0..{len(specs)}")
        stem_ch = int(specs[0].in_ch * widen_factor)
        # int(c*w // 2) mirrors mmdet's float floor division for the first two stem convs
        half = int(specs[0].in_ch * widen_factor // 2)
        self.stem = nn.Sequential(ConvModule(3, half, 3, 2, act=act), ConvModule(half, half, 3, 1, act=act),
                                  ConvModule(half, stem_ch, 3, 1, act=act))
        self.stages = nn.ModuleList()
        channels, strides = [stem_ch], [2]
        for i, spec in enumerate(specs):
            out_ch = int(spec.out_ch * widen_factor)
            blocks = max(round(spec.blocks * deepen_factor), 1)
            self.stages.append(Stage(int(spec.in_ch * widen_factor), out_ch, blocks, spec.add_identity,
                                     spec.use_spp, expand_ratio, channel_attention, act, split_pool,
                                     use_depthwise or spec.depthwise))
            channels.append(out_ch)
            strides.append(2 ** (i + 2))
        self.out_indices = out_indices
        self.out_channels: list[int] = [channels[i] for i in out_indices]
        self.strides: tuple[int, ...] = tuple(strides[i] for i in out_indices)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.stem(x)
        outs = [x] if 0 in self.out_indices else []
        for i, stage in enumerate(self.stages, start=1):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
