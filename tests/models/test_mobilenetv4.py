"""MobileNetV4-Conv-Small backbone: shapes, published parameter count, gradients, determinism."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from sscma_rtmdet.errors import ConfigError
from sscma_rtmdet.models.mobilenetv4 import MobileNetV4ConvSmall, make_divisible, stage_strides

# Backbone-only parameter count of timm `mobilenetv4_conv_small` (stem through the 1x1->960 conv), derived
# by hand from the block spec (conv weights without bias + 2 BN params per channel):
#   stem 3x3 3->32: 864+64                                                    =     928
#   stage0 3x3 32->32 (9216+64), 1x1 32->32 (1024+64)                         =  10,368
#   stage1 3x3 32->96 (27648+192), 1x1 96->64 (6144+128)                      =  34,112
#   stage2 ExtraDW 64->96 k5/k5 e3 (1728+12672+5184+18624=38208),
#          4x IB 96 k3 e2 (18816+2112+18624=39552 each), ConvNeXt 96 k3 e4 (1056+37632+37056=75744)
#                                                                            = 272,160
#   stage3 ExtraDW 96->128 k3/k3 e6 (1056+56448+6336+73984=137824),
#          ExtraDW 128 k5/k5 e4 (3456+66560+13824+65792=149632), IB k5 e4 (146176), IB k5 e3 (109696),
#          2x IB k3 e4 (137984 each)                                          = 819,296
#   stage4 1x1 128->960 (122880+1920)                                         = 124,800
#   total                                                                     = 1,261,664
# Cross-check against the published 3.77M: timm adds a 1x1 960->1280 conv + BN (1,231,360) and a
# 1280->1000 Linear (1,281,000): 1,261,664 + 1,231,360 + 1,281,000 = 3,774,024 = 3.77M.
FULL_BACKBONE_PARAMS = 1_261_664
# Default out_indices (1, 2, 3) do not build stage 4: 1,261,664 - 124,800.
DEFAULT_BACKBONE_PARAMS = 1_136_864
TIMM_HEAD_PARAMS = 960 * 1280 + 2 * 1280 + 1280 * 1000 + 1000


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope='module')
def model() -> MobileNetV4ConvSmall:
    torch.manual_seed(0)
    return MobileNetV4ConvSmall()


@pytest.mark.parametrize('hw', [(192, 192), (192, 256)])
def test_output_strides_and_channels(model, hw):
    model.eval()
    with torch.no_grad():
        feats = model(torch.randn(2, 3, *hw))
    assert model.strides == (8, 16, 32)
    assert model.out_channels == [64, 96, 128]
    assert len(feats) == 3
    for feat, ch, s in zip(feats, model.out_channels, model.strides):
        assert feat.shape == (2, ch, hw[0] // s, hw[1] // s)


def test_stage4_output_gives_960_channels():
    m = MobileNetV4ConvSmall(out_indices=(1, 2, 4)).eval()
    assert m.out_channels == [64, 96, 960] and m.strides == (8, 16, 32)
    with torch.no_grad():
        feats = m(torch.randn(1, 3, 64, 96))
    assert [tuple(f.shape) for f in feats] == [(1, 64, 8, 12), (1, 96, 4, 6), (1, 960, 2, 3)]


def test_param_count_matches_published_spec(model):
    full = MobileNetV4ConvSmall(out_indices=(1, 2, 4))
    assert n_params(full) == FULL_BACKBONE_PARAMS
    assert round((n_params(full) + TIMM_HEAD_PARAMS) / 1e6, 2) == 3.77
    assert n_params(model) == DEFAULT_BACKBONE_PARAMS


def test_block_types_follow_spec(model):
    stage2, stage3 = model.stages[2], model.stages[3]
    # ExtraDW: both depthwise convs, stride on the middle (expanded) one.
    first = stage2[0]
    assert first.dw_start.conv.kernel_size == (5, 5) and first.dw_start.conv.stride == (1, 1)
    assert first.dw_mid.conv.kernel_size == (5, 5) and first.dw_mid.conv.stride == (2, 2)
    assert first.pw_exp.conv.out_channels == 192 and not first.has_skip
    # IB: no start depthwise; ConvNeXt-like: no middle depthwise.
    assert isinstance(stage2[1].dw_start, nn.Identity) and stage2[1].has_skip
    assert isinstance(stage2[5].dw_mid, nn.Identity) and stage2[5].pw_exp.conv.out_channels == 384
    assert stage3[0].pw_exp.conv.out_channels == 576 and stage3[3].pw_exp.conv.out_channels == 384
    assert len(stage2) == 6 and len(stage3) == 6


def test_only_npu_friendly_ops(model):
    allowed = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.Identity, nn.Sequential, nn.ModuleList)
    leaf_types = {type(m) for m in model.modules() if not list(m.children())}
    assert all(issubclass(t, allowed) for t in leaf_types), leaf_types


@pytest.mark.parametrize('act, cls', [('relu', nn.ReLU), ('relu6', nn.ReLU6), ('silu', nn.SiLU)])
def test_activation_is_configurable(act, cls):
    m = MobileNetV4ConvSmall(act=act, out_indices=(1,))
    acts = {type(mod) for mod in m.modules() if isinstance(mod, (nn.ReLU, nn.ReLU6, nn.SiLU))}
    assert acts == {cls}


def test_gradients_flow_to_every_parameter():
    torch.manual_seed(0)
    m = MobileNetV4ConvSmall().train()
    feats = m(torch.randn(2, 3, 64, 64))
    sum(f.square().mean() for f in feats).backward()
    missing = [n for n, p in m.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    assert m.stem.conv.weight.grad.abs().sum() > 0


def test_eval_mode_is_deterministic(model):
    model.eval()
    x = torch.randn(1, 3, 96, 64)
    with torch.no_grad():
        a, b = model(x), model(x.clone())
    for fa, fb in zip(a, b):
        assert torch.equal(fa, fb)


def test_widen_factor_scales_channels():
    m = MobileNetV4ConvSmall(widen_factor=0.5, out_indices=(1, 2, 3, 4))
    assert m.out_channels == [32, 48, 64, 480]
    assert make_divisible(96 * 0.25) == 24 and make_divisible(3.0) == 8


def test_stage_strides():
    assert stage_strides() == [4, 8, 16, 32, 32]


@pytest.mark.parametrize('kwargs, field', [
    (dict(act='hswish'), 'model.backbone.act'),
    (dict(out_indices=(3, 2)), 'model.backbone.out_indices'),
    (dict(out_indices=(1, 5)), 'model.backbone.out_indices'),
    (dict(out_indices=()), 'model.backbone.out_indices'),
    (dict(widen_factor=0), 'model.backbone.widen_factor'),
])
def test_bad_config_raises_config_error(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        MobileNetV4ConvSmall(**kwargs)
