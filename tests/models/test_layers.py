"""Blocks: split (stacked 3x3) SPP pools equal the big pools, activations, residual rule."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from sscma_rtmdet.errors import ConfigError
from sscma_rtmdet.models.layers import CSPLayer, CSPNeXtBlock, ConvModule, MaxPoolChain, SPPBottleneck, build_act, conv_bn


def test_split_pool_equals_big_pools():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 13, 17) - 3.0  # negative values: padding must never win a max
    outs = MaxPoolChain((5, 9, 13))(x)
    for k, out in zip((5, 9, 13), outs):
        assert torch.equal(out, nn.functional.max_pool2d(x, k, 1, k // 2))


def test_split_pool_spp_equals_plain_spp():
    torch.manual_seed(0)
    plain = SPPBottleneck(16, 16, split_pool=False).eval()
    split = SPPBottleneck(16, 16, split_pool=True).eval()
    split.load_state_dict(plain.state_dict())  # pools have no weights: same keys both ways
    x = torch.randn(1, 16, 20, 12)
    assert torch.equal(plain(x), split(x))
    assert not any(m.kernel_size != 3 for m in split.modules() if isinstance(m, nn.MaxPool2d))


def test_split_pool_rejects_even_kernel():
    with pytest.raises(ConfigError, match="split_pool"):
        MaxPoolChain((4, 9))


@pytest.mark.parametrize("name, cls", [("silu", nn.SiLU), ("relu", nn.ReLU), ("relu6", nn.ReLU6),
                                       ("hardswish", nn.Hardswish), ("ReLU", nn.ReLU)])
def test_build_act(name, cls):
    assert isinstance(build_act(name), cls)


def test_build_act_unknown_names_choices():
    with pytest.raises(ConfigError, match="gelu.*relu6"):
        build_act("gelu")


def test_residual_only_when_shapes_match():
    block = CSPNeXtBlock(8, 8, add_identity=True).eval()
    x = torch.randn(1, 8, 6, 6)
    assert torch.allclose(block(x), x + block.pw(block.dw(block.conv1(x))))
    assert not CSPNeXtBlock(8, 4, add_identity=True).add_identity


def test_csp_layer_shapes_and_channel_attention():
    layer = CSPLayer(12, 20, num_blocks=2, channel_attention=True).eval()
    assert layer(torch.randn(2, 12, 8, 10)).shape == (2, 20, 8, 10)
    assert layer.attn.fc.in_channels == 20  # 2 * int(20 * 0.5)
    assert isinstance(CSPLayer(12, 20, channel_attention=False).attn, nn.Identity)


def test_depthwise_separable_conv_is_dw_then_pw():
    conv = conv_bn(8, 16, 3, 2, act="relu", depthwise=True).eval()
    dw, pw = conv
    assert (dw.conv.groups, dw.conv.kernel_size, dw.conv.stride, dw.conv.out_channels) == (8, (3, 3), (2, 2), 8)
    assert (pw.conv.kernel_size, pw.conv.out_channels) == ((1, 1), 16)
    x = torch.randn(1, 8, 10, 10)
    assert torch.equal(conv(x), pw(dw(x)))
    assert conv(x).shape == (1, 16, 5, 5)
    assert isinstance(conv_bn(8, 16, 3, depthwise=False), ConvModule)
    # 9*8 + 8*16 weights instead of 9*8*16
    assert sum(m.conv.weight.numel() for m in conv) == 9 * 8 + 8 * 16


def test_use_depthwise_block_and_csp_layer():
    block = CSPNeXtBlock(8, 8, act="relu", use_depthwise=True)
    assert block.conv1[0].conv.groups == 8 and block.conv1[1].conv.kernel_size == (1, 1)
    layer = CSPLayer(12, 20, num_blocks=2, use_depthwise=True).eval()
    assert all(b.conv1[0].conv.groups == 10 for b in layer.blocks)
    assert layer(torch.randn(1, 12, 6, 6)).shape == (1, 20, 6, 6)
