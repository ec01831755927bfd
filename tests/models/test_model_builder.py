"""build_model: published parameter counts, shapes, options, config errors."""
from __future__ import annotations

import pytest
import torch
from _model_cfgs import model_cfg
from torch import nn

from sscma_rtmdet.errors import ConfigError
from sscma_rtmdet.models import RTMDet, build_model, count_params


@pytest.mark.parametrize("size, expected", [("tiny", 4_896_168), ("s", 8_886_924)])
def test_params_exact(size, expected):
    assert count_params(build_model(model_cfg(size))) == expected


@pytest.mark.parametrize("size, expected", [("m", 24.71e6), ("l", 52.3e6), ("x", 94.86e6)])
def test_params_large_sizes(size, expected):
    n = count_params(build_model(model_cfg(size)))
    assert abs(n - expected) / expected < 1e-3, n


def test_stage_channels_and_blocks_follow_spec():
    bb = build_model(model_cfg("s")).backbone
    assert bb.out_channels == [128, 256, 512] and bb.strides == (8, 16, 32)
    assert [len(stage.csp.blocks) for stage in bb.stages] == [1, 2, 2, 1]
    assert bb.stem[0].conv.out_channels == 16 and bb.stem[2].conv.out_channels == 32  # C/2, C=int(64*w)
    assert [s.csp.blocks[0].add_identity for s in bb.stages] == [True, True, True, False]


@pytest.mark.parametrize("hw", [(192, 256), (96, 64)])
def test_non_square_shapes(hw):
    model = build_model(model_cfg("tiny", num_classes=3)).eval()
    with torch.no_grad():
        cls_scores, bbox_preds = model(torch.randn(2, 3, *hw))
    for s, cls, box in zip((8, 16, 32), cls_scores, bbox_preds):
        assert cls.shape == (2, 3, hw[0] // s, hw[1] // s)
        assert box.shape == (2, 4, hw[0] // s, hw[1] // s)


@pytest.mark.parametrize("opts", [dict(act="relu", split_pool=True, share_conv=False),
                                  dict(act="relu6"), dict(act="hardswish", channel_attention=False)])
def test_variants_run(opts):
    model = build_model(model_cfg("nano", num_classes=2, **opts)).eval()
    with torch.no_grad():
        cls_scores, _ = model(torch.randn(1, 3, 64, 96))
    assert [c.shape[-2:] for c in cls_scores] == [(8, 12), (4, 6), (2, 3)]
    act_type = {"relu": nn.ReLU, "relu6": nn.ReLU6, "hardswish": nn.Hardswish}[opts["act"]]
    assert not any(isinstance(m, nn.SiLU) for m in model.modules())
    assert any(isinstance(m, act_type) for m in model.modules())


def test_share_conv_shares_weights_not_bn():
    head = build_model(model_cfg("nano")).head
    assert head.cls_convs[2][1].conv is head.cls_convs[0][1].conv
    assert head.cls_convs[2][1].bn is not head.cls_convs[0][1].bn
    unshared = build_model(model_cfg("nano", share_conv=False)).head
    assert unshared.reg_convs[1][0].conv is not unshared.reg_convs[0][0].conv


def test_exp_on_reg_gives_positive_distances():
    model = build_model(model_cfg("m", num_classes=1)).eval()
    assert model.head.exp_on_reg
    with torch.no_grad():
        feats = [torch.randn(1, 192, 4 // i, 4 // i) for i in (1, 2, 4)]
        _, boxes = model.head(feats)
    assert all((b > 0).all() for b in boxes)


def test_head_init():
    head = build_model(model_cfg("nano")).head
    assert torch.allclose(head.cls_preds[0].bias, torch.full((80,), -4.59512), atol=1e-5)
    assert head.reg_preds[1].bias.abs().max() == 0
    assert 0.005 < head.cls_convs[0][0].conv.weight.std() < 0.015


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c["backbone"].update(type="ResNet"), r"model\.backbone\.type='ResNet'.*CSPNeXt"),
    (lambda c: c["neck"].update(type="FPN"), r"model\.neck\.type"),
    (lambda c: c["head"].update(num_convs=3), r"model\.head\.num_convs"),
    (lambda c: c["backbone"].update(arch="P7"), r"model\.backbone\.arch"),
    (lambda c: c["neck"].update(in_channels=[1, 2, 3]), r"model\.neck\.in_channels"),
    (lambda c: c["head"].update(strides=(8, 16, 64)), r"model\.head\.strides"),
    (lambda c: c.pop("head"), r"model\.head is missing"),
    (lambda c: c["backbone"].update(act="gelu"), r"act='gelu'"),
])
def test_config_errors(mutate, message):
    cfg = model_cfg("nano")
    mutate(cfg)
    with pytest.raises(ConfigError, match=message):
        build_model(cfg)


def test_injected_values_may_be_repeated():
    cfg = model_cfg("nano")
    cfg["neck"]["in_channels"] = (64, 128, 256)
    cfg["backbone"]["_delete_"] = True
    assert isinstance(build_model(cfg), RTMDet)


def test_builds_from_config_files(repo_root):
    from sscma_rtmdet.config import load_config
    cfg = load_config(repo_root / "configs" / "rtmdet_tiny_8xb32_300e_coco.py")
    assert count_params(build_model(cfg["model"])) == 4_896_168
    cfg = load_config(repo_root / "configs" / "rtmdet_nano_8xb32_300e_coco_relu.py", ["num_classes=3"])
    model = build_model(cfg["model"])
    assert model.num_classes == 3 and not model.head.share_conv
    assert model.backbone.stages[3].spp.pools.steps == [2, 4, 6]


def test_lean_nano_shares_the_relu_nanos_first_stages(repo_root):
    """The lean config: stride-32 stage 128 wide and depthwise-separable, depthwise neck, one head conv per
    branch; the stem and stages 1-3 are the ReLU nano's, name for name and shape for shape (its pretrained
    start takes them)."""
    from sscma_rtmdet.config import load_config
    lean = build_model(load_config(repo_root / "configs" / "rtmdet_nano_8xb32_300e_coco_relu_lean.py",
                                   ["num_classes=3"])["model"])
    nano = build_model(load_config(repo_root / "configs" / "rtmdet_nano_8xb32_300e_coco_relu.py",
                                   ["num_classes=3"])["model"])
    assert lean.backbone.out_channels == [64, 128, 128] and lean.neck.out_channels == 48
    assert lean.backbone.stages[3].down[0].conv.groups == 128
    assert lean.backbone.stages[2].down.conv.groups == 1  # stages 1-3 keep dense convs
    assert lean.neck.downsample[1][0].conv.groups == 128 and lean.neck.out_convs[2][0].conv.groups == 128
    assert [len(c) for c in lean.head.cls_convs] == [1, 1, 1]
    a, b = lean.state_dict(), nano.state_dict()
    first = [k for k in b if k.startswith(("backbone.stem.", "backbone.stages.0.", "backbone.stages.1.",
                                           "backbone.stages.2."))]
    assert first and all(k in a and a[k].shape == b[k].shape for k in first)
    assert count_params(lean) < 0.35 * count_params(nano)
    with torch.no_grad():
        cls_scores, _ = lean.eval()(torch.randn(1, 3, 64, 96))
    assert [c.shape[-2:] for c in cls_scores] == [(8, 12), (4, 6), (2, 3)]
