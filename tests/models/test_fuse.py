"""Inference copies with BatchNorm folded (models/fuse.py): same outputs, the original model untouched."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from sscma_rtmdet.config import load_config
from sscma_rtmdet.models.builder import build_model
from sscma_rtmdet.models.fuse import fold_bn, fuse_for_inference
from sscma_rtmdet.models.layers import ConvModule

CONFIGS = ("rtmdet_nano_8xb32_300e_coco.py", "rtmdet_nano_8xb32_300e_coco_relu.py", "rtmdet_mnv4_8xb32_300e_coco.py")


def _with_random_bn(model: nn.Module) -> nn.Module:
    """BN statistics and affine values far from their init, so an unfolded or wrongly folded BN shows."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=g) * 2 - 1)
            m.running_var.copy_(torch.rand(n, generator=g) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=g) - 0.5)
    return model


@pytest.mark.parametrize("config", CONFIGS)
def test_fused_copy_equals_model_and_leaves_it_alone(config):
    cfg = load_config(f"configs/{config}", ["num_classes=3"])
    torch.manual_seed(0)
    model = _with_random_bn(build_model(cfg.model)).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fused = fuse_for_inference(model)
    assert model.training and not fused.training
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        ref = model.eval()(x)
        got = fused(x.contiguous(memory_format=torch.channels_last))
    for r_level, g_level in zip(ref, got):
        for r, o in zip(r_level, g_level):
            assert torch.allclose(r, o, rtol=1e-4, atol=1e-4), (r - o).abs().max()


def test_shared_head_convs_stay_shared_in_the_original():
    cfg = load_config("configs/rtmdet_nano_8xb32_300e_coco_relu.py", ["num_classes=3"])
    model = build_model(cfg.model)
    shared = [m for m in model.head.modules() if isinstance(m, ConvModule)]
    convs_before = [m.conv for m in shared]
    fuse_for_inference(model)
    assert [m.conv for m in shared] == convs_before
    assert all(isinstance(m.bn, nn.BatchNorm2d) for m in shared)


def test_fold_bn_matches_conv_then_bn():
    conv, bn = nn.Conv2d(4, 6, 3, padding=1, bias=True), _with_random_bn(nn.BatchNorm2d(6)).eval()
    w, b = fold_bn(conv, bn)
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        assert torch.allclose(nn.functional.conv2d(x, w, b, padding=1), bn(conv(x)), atol=1e-5)
