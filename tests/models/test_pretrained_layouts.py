"""`load_from` with weights users may have, in the files' own key layouts (built here, no download):
an SSCMA (mmyolo layout) ReLU nano and an mmdetection tiny detector as mmengine saves them, a CSPNeXt
ImageNet backbone as mmdet/mmpretrain name it, and timm's mobilenetv4_conv_small for the MobileNetV4 config."""
from __future__ import annotations

import logging
import re

import pytest
import torch
from _layouts import mmdet_key, mmdet_state, mmengine_file, mmyolo_state, timm_state
from _model_cfgs import model_cfg
from _shared import CONFIGS, shared_dir

from sscma_rtmdet.config import load_config
from sscma_rtmdet.engine.loading import load_pretrained
from sscma_rtmdet.errors import CheckpointError
from sscma_rtmdet.models import build_model, load_checkpoint
from sscma_rtmdet.models.convert import convert_timm_key
from sscma_rtmdet.models.mobilenetv4 import MobileNetV4ConvSmall

OPTS = ["num_classes=3", "imgsz=(64,64)"]


def _random_model(cfg_model: dict, seed: int):
    """A model whose every float tensor is random (so a mapping error cannot hide behind equal inits)."""
    torch.manual_seed(seed)
    model = build_model(cfg_model)
    with torch.no_grad():
        for v in model.state_dict().values():
            if v.is_floating_point():
                v.copy_(torch.rand_like(v) + 0.5)
    return model


def _load_from(path, config, options=OPTS, log=None):
    """What `load_from=path` does for a run of `config` (engine.loading.load_pretrained)."""
    cfg = load_config(config, options)
    model = build_model(cfg.model)
    return model, load_pretrained(model, path, cfg, False, log or (lambda m: None))


def test_our_mmdet_names_are_mmdetections_own():
    """The test files' mmdet names equal mmdetection 3.3.0's RTMDet-tiny key list, shape for shape."""
    listing = shared_dir() / "reference" / "mmdet-3.3.0" / "arch_tiny.txt"
    if not listing.exists():
        pytest.skip(f"{listing} not present")
    theirs = dict(re.findall(r"^(\S+) (\([\d, ]*\))$", listing.read_text(), re.M))
    ours = {mmdet_key(k): str(tuple(v.shape)).replace(",)", ")") for k, v in build_model(model_cfg("tiny"))
            .state_dict().items()}
    assert ours == {k: v.replace(",)", ")") for k, v in theirs.items()}


def test_sscma_relu_nano_checkpoint(tmp_path, caplog):
    """An SSCMA ReLU nano trained on 2 classes (mmyolo layout, mmengine file) -> the ReLU nano config with 3."""
    config = CONFIGS / "rtmdet_nano_8xb32_300e_coco_relu.py"
    src = _random_model(load_config(config, ["num_classes=2"]).model, 1)
    path = tmp_path / "sscma_rtmdet_nano_relu.pth"
    torch.save(mmengine_file(mmyolo_state(mmdet_state(src))), path)
    with caplog.at_level(logging.WARNING):
        model, report = _load_from(path, config, log=logging.getLogger("t").warning)
    assert report.source_format == "mmyolo" and not report.not_loaded and not report.ignored
    assert report.skipped == [f"head.cls_preds.{i}.{p}" for i in range(3) for p in ("bias", "weight")]
    assert "num_classes differs" in caplog.text
    mine, theirs = model.state_dict(), src.state_dict()
    assert all(torch.equal(mine[k], theirs[k]) for k in mine if not k.startswith("head.cls_preds."))


def test_mmdet_tiny_checkpoint_same_classes_gives_same_outputs(tmp_path):
    config = CONFIGS / "rtmdet_tiny_8xb32_300e_coco.py"
    src = _random_model(load_config(config, OPTS).model, 2)
    path = tmp_path / "rtmdet_tiny_8xb32-300e_coco.pth"
    torch.save(mmengine_file(mmdet_state(src), classes="abc"), path)
    model, report = _load_from(path, config)
    assert report.source_format == "mmdet" and not (report.skipped or report.not_loaded or report.ignored)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(src.eval()(x), model.eval()(x)):
            assert all(torch.equal(p, q) for p, q in zip(a, b))


@pytest.mark.parametrize("prefix", ["backbone.", ""])
def test_cspnext_imagenet_backbone(tmp_path, prefix):
    """cspnext-tiny_imagenet_600e.pth layout: backbone.* (or bare) plus the classifier head.fc.*."""
    config = CONFIGS / "rtmdet_tiny_8xb32_300e_coco.py"
    src = _random_model(load_config(config, OPTS).model, 3)
    sd = {prefix + k[len("backbone."):]: v for k, v in mmdet_state(src).items() if k.startswith("backbone.")}
    sd.update({"head.fc.weight": torch.zeros(1000, 384), "head.fc.bias": torch.zeros(1000)})
    path = tmp_path / "cspnext-tiny_imagenet_600e.pth"
    torch.save({"meta": {"epoch": 600}, "state_dict": sd}, path)
    model, report = _load_from(path, config)
    assert report.source_format == "backbone-only" and report.ignored == ["head.fc.bias", "head.fc.weight"]
    assert report.not_loaded and all(k.startswith(("neck.", "head.")) for k in report.not_loaded)
    pairs = zip(model.backbone.state_dict().values(), src.backbone.state_dict().values())
    assert all(torch.equal(a, b) for a, b in pairs)


@pytest.mark.parametrize("timm_name, shape", [  # from timm's arch def: stem 32, stages cn/cn/uir/uir/cn
    ("conv_stem.weight", (32, 3, 3, 3)), ("bn1.running_var", (32,)), ("blocks.0.1.conv.weight", (32, 32, 1, 1)),
    ("blocks.1.0.bn1.weight", (96,)), ("blocks.2.0.dw_start.conv.weight", (64, 1, 5, 5)),  # uir_a5_k5_s2_e3_c96
    ("blocks.2.0.pw_exp.conv.weight", (192, 64, 1, 1)), ("blocks.2.0.dw_mid.conv.weight", (192, 1, 5, 5)),
    ("blocks.2.5.pw_proj.bn.bias", (96,)), ("blocks.3.0.pw_exp.conv.weight", (576, 96, 1, 1)),  # e6
    ("blocks.3.5.dw_mid.conv.weight", (512, 1, 3, 3)), ("blocks.4.0.conv.weight", (960, 128, 1, 1)),
])
def test_timm_mobilenetv4_names_and_shapes(timm_name, shape):
    ours = {"backbone." + k: v for k, v in MobileNetV4ConvSmall(out_indices=(1, 2, 3, 4)).state_dict().items()}
    assert tuple(ours[convert_timm_key(timm_name)].shape) == shape
    assert convert_timm_key("backbone.timm_model." + timm_name) == convert_timm_key(timm_name)


def test_timm_mobilenetv4_param_count_is_timms():
    net = MobileNetV4ConvSmall(out_indices=(1, 2, 3, 4))
    head = 960 * 1280 + 2 * 1280 + 1280 * 1000 + 1000  # conv_head, norm_head, classifier
    assert round((sum(p.numel() for p in net.parameters()) + head) / 1e4) == 377  # timm: 3.77M


def test_timm_mobilenetv4_imagenet_checkpoint(tmp_path):
    """mobilenetv4_conv_small (timm names, its 960-channel stage and classifier) -> the MobileNetV4 config."""
    torch.manual_seed(4)
    net = MobileNetV4ConvSmall(out_indices=(1, 2, 3, 4))
    with torch.no_grad():
        for v in net.state_dict().values():
            if v.is_floating_point():
                v.copy_(torch.rand_like(v))
    path = tmp_path / "mobilenetv4_conv_small.e2400_r224_in1k.pth"
    torch.save(timm_state(net), path)
    model, report = _load_from(path, CONFIGS / "rtmdet_mnv4_8xb32_300e_coco.py")
    assert report.source_format == "backbone-only (timm)"
    assert {k.split(".")[0] if not k.startswith("backbone.") else "stage4" for k in report.ignored} == \
        {"conv_head", "norm_head", "classifier", "stage4"}  # stage 4 (960 ch) is not built by default
    mine, theirs = model.backbone.state_dict(), net.state_dict()
    assert mine and all(torch.equal(mine[k], theirs[k]) for k in mine)
    assert not report.skipped and all(k.startswith(("neck.", "head.")) for k in report.not_loaded)


def test_timm_weights_into_the_cspnext_nano_name_both_models(tmp_path):
    path = tmp_path / "mnv4.pth"
    torch.save(timm_state(MobileNetV4ConvSmall(out_indices=(1, 2, 3, 4))), path)
    with pytest.raises(CheckpointError, match=r"(?s)backbone-only \(timm\) format.*missing keys.*"
                                              r"config:.*CSPNeXt"):
        _load_from(path, CONFIGS / "rtmdet_nano_8xb32_300e_coco.py")


def test_mnv4_pretrained_start_loads_into_another_class_count(tmp_path):
    """A tools/pretrain.py file of the MobileNetV4 config (72 broad classes, float16) as its load_from."""
    from sscma_rtmdet.engine.pretrained import slim_state_dict
    from sscma_rtmdet.runtime import checkpoint as ckpt_io
    from sscma_rtmdet.runtime.deployment import Deployment

    config = CONFIGS / "rtmdet_mnv4_8xb32_300e_coco.py"
    cfg = load_config(config, ["num_classes=72", "imgsz=(64,64)"])
    src = _random_model(cfg.model, 5)
    classes = [f"c{i}" for i in range(72)]
    ckpt = ckpt_io.make_checkpoint(state_dict=slim_state_dict(src.state_dict()), config=cfg,
                                   deployment=Deployment.from_config(cfg, classes).to_dict(), epoch=1, iteration=1)
    path = ckpt_io.save_checkpoint(ckpt, tmp_path / "rtmdet_mnv4_broad.pth")
    model, report = _load_from(path, config)
    assert report.source_format == "ours" and len(report.skipped) == 6 and not report.not_loaded
    assert torch.equal(model.backbone.stem.conv.weight, src.backbone.stem.conv.weight.half().float())
