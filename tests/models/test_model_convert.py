"""Checkpoint conversion/loading: mmdet, mmyolo, backbone-only, ours; num_classes change; errors."""
from __future__ import annotations

import logging

import pytest
import torch
from _layouts import mmyolo_state
from _model_cfgs import model_cfg
from _shared import reference_file

from sscma_rtmdet.errors import CheckpointError
from sscma_rtmdet.models import build_model, convert_key, load_checkpoint


@pytest.fixture(scope="module")
def mmdet_sd():
    return torch.load(reference_file("oracle_tiny.pt"), weights_only=True)["state_dict"]


@pytest.mark.parametrize("src, dst", [
    ("backbone.stage4.1.conv1.bn.weight", "backbone.stages.3.spp.reduce.bn.weight"),
    ("backbone.stage4.2.blocks.0.conv2.depthwise_conv.conv.weight", "backbone.stages.3.csp.blocks.0.dw.conv.weight"),
    ("backbone.stage1.1.attention.fc.bias", "backbone.stages.0.csp.attn.fc.bias"),
    ("backbone.stage2.0.bn.running_var", "backbone.stages.1.down.bn.running_var"),
    ("stem.2.conv.weight", "backbone.stem.2.conv.weight"),
    ("neck.top_down_blocks.1.final_conv.conv.weight", "neck.top_down.1.fuse.conv.weight"),
    ("neck.top_down_layers.0.1.conv.weight", "neck.reduce.1.conv.weight"),  # mmyolo
    ("neck.out_layers.2.bn.bias", "neck.out_convs.2.bn.bias"),  # mmyolo
    ("bbox_head.head_module.rtm_reg.2.bias", "head.reg_preds.2.bias"),  # mmyolo
    ("bbox_head.cls_convs.1.0.conv.weight", "head.cls_convs.1.0.conv.weight"),
    ("bbox_head.rtm_cls.0.weight", "head.cls_preds.0.weight"),
    # use_depthwise=True: DepthwiseSeparableConvModule -> Sequential(dw, pw)
    ("backbone.stage4.0.depthwise_conv.conv.weight", "backbone.stages.3.down.0.conv.weight"),
    ("backbone.stage4.2.blocks.0.conv1.pointwise_conv.bn.bias", "backbone.stages.3.csp.blocks.0.conv1.1.bn.bias"),
    ("neck.downsamples.1.pointwise_conv.conv.weight", "neck.downsample.1.1.conv.weight"),
    ("neck.out_convs.0.depthwise_conv.bn.running_mean", "neck.out_convs.0.0.bn.running_mean"),
])
def test_convert_key(src, dst):
    assert convert_key(src) == dst


def _outputs(model, hw=(64, 96)):
    torch.manual_seed(1)
    with torch.no_grad():
        return model.eval()(torch.randn(1, 3, *hw))


def test_our_format_roundtrip_via_path(tmp_path, mmdet_sd):
    src = build_model(model_cfg("tiny"))
    load_checkpoint(src, mmdet_sd)
    path = tmp_path / "ours.pth"
    torch.save({"state_dict": src.state_dict(), "meta": {"epoch": 3}}, path)
    dst = build_model(model_cfg("tiny"))
    report = load_checkpoint(dst, path)
    assert report.source_format == "ours" and len(report.loaded) == len(src.state_dict())
    for a, b in zip(_outputs(src)[0], _outputs(dst)[0]):
        assert torch.equal(a, b)


def test_mmyolo_layout_loads_same_weights(mmdet_sd):
    yolo = mmyolo_state(mmdet_sd)  # mmyolo keeps the R4 reduce conv inside its first top-down layer
    a, b = build_model(model_cfg("tiny")), build_model(model_cfg("tiny"))
    load_checkpoint(a, mmdet_sd)
    assert load_checkpoint(b, {"state_dict": yolo}).source_format == "mmyolo"
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize("bare", [False, True])
def test_backbone_only_checkpoint(tmp_path, mmdet_sd, bare, caplog):
    sd = {(k[len("backbone."):] if bare else k): v for k, v in mmdet_sd.items() if k.startswith("backbone.")}
    sd["head.fc.weight"] = torch.zeros(1000, 384)  # the ImageNet classifier travels along
    path = tmp_path / "cspnext-tiny_imagenet_600e.pth"
    torch.save({"meta": {}, "state_dict": sd}, path)
    model = build_model(model_cfg("tiny", num_classes=3))
    head_before = model.head.cls_preds[0].bias.clone()
    with caplog.at_level(logging.WARNING):
        report = load_checkpoint(model, path)
    assert report.source_format == "backbone-only" and report.ignored == ["head.fc.weight"]
    assert all(k.startswith(("neck.", "head.")) for k in report.not_loaded)
    assert torch.equal(model.backbone.stages[3].spp.fuse.conv.weight, mmdet_sd["backbone.stage4.1.conv2.conv.weight"])
    assert torch.equal(model.head.cls_preds[0].bias, head_before)
    assert "head.fc.weight" in caplog.text


def test_other_num_classes_skips_cls_preds(mmdet_sd, caplog):
    model = build_model(model_cfg("tiny", num_classes=3))
    with caplog.at_level(logging.WARNING):
        report = load_checkpoint(model, mmdet_sd)
    assert report.skipped == [f"head.cls_preds.{i}.{p}" for i in range(3) for p in ("bias", "weight")]
    assert "num_classes differs" in caplog.text and "head.cls_preds.0.weight" in caplog.text
    assert torch.equal(model.head.reg_preds[2].weight, mmdet_sd["bbox_head.rtm_reg.2.weight"])
    assert model.head.cls_preds[0].weight.shape == (3, 96, 1, 1)
    with pytest.raises(CheckpointError, match="shape mismatches.*cls_preds"):
        load_checkpoint(build_model(model_cfg("tiny", num_classes=3)), mmdet_sd, strict_head=True)


def test_wrong_size_lists_keys(mmdet_sd):
    """Summarised (issue 12): counts and the first few keys, not every key."""
    with pytest.raises(CheckpointError, match=r"(?s)\d+ shape mismatches\n.*shape mismatches, e\.g\.: "
                                              r"backbone\..*: checkpoint \(.*deepen/widen") as err:
        load_checkpoint(build_model(model_cfg("s")), mmdet_sd)
    assert len(str(err.value)) < 1500


def test_missing_and_unexpected_keys(mmdet_sd):
    sd = dict(mmdet_sd)
    sd.pop("neck.out_convs.1.bn.weight")
    sd["neck.extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"(?s)1 missing keys, e\.g\.: neck\.out_convs\.1\.bn\.weight\n.*"
                                              r"1 unexpected keys, e\.g\.: neck\.extra\.weight"):
        load_checkpoint(build_model(model_cfg("tiny")), sd)


def test_unshared_checkpoint_into_shared_model(mmdet_sd):
    sd = dict(mmdet_sd)
    sd["bbox_head.cls_convs.2.0.conv.weight"] = sd["bbox_head.cls_convs.2.0.conv.weight"] + 1
    with pytest.raises(CheckpointError, match="share_conv=False"):
        load_checkpoint(build_model(model_cfg("tiny")), sd)
    unshared = build_model(model_cfg("tiny", share_conv=False))
    load_checkpoint(unshared, sd)
    assert torch.equal(unshared.head.cls_convs[2][0].conv.weight, sd["bbox_head.cls_convs.2.0.conv.weight"])


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "nope.pth", "does not exist"),
    (lambda p: (p / "bad.pth").write_bytes(b"not a checkpoint") and p / "bad.pth", "cannot read"),
    (lambda p: torch.save({"epoch": 1}, p / "e.pth") or p / "e.pth", "holds no state_dict"),
])
def test_unreadable_checkpoints(tmp_path, make, message):
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(build_model(model_cfg("nano")), make(tmp_path))


def test_our_backbone_state_dict_alone():
    src = build_model(model_cfg("nano"))
    dst = build_model(model_cfg("nano", num_classes=2))
    report = load_checkpoint(dst, {"model": src.backbone.state_dict()})
    assert report.source_format == "backbone-only" and report.not_loaded
    pairs = zip(src.backbone.state_dict().values(), dst.backbone.state_dict().values())
    assert all(torch.equal(a, b) for a, b in pairs)
