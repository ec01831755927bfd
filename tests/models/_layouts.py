"""Checkpoint files in other projects' key layouts, built from our models for the loading tests.

Names are written from the other projects' module trees (mmdet 3.3.0 RTMDet/CSPNeXt, mmyolo/SSCMA's
`head_module` and neck lists, timm's `mobilenetv4_conv_small`), not from our converter; `mmdet_key` is
checked against mmdetection's own key list when tests/../shared holds it.
"""
from __future__ import annotations

import re

import torch

_MMDET = (  # our key -> mmdet's, applied in order
    (r"^backbone\.stages\.(\d)\.down\.", lambda m: f"backbone.stage{int(m[1]) + 1}.0."),
    (r"^backbone\.stages\.(\d)\.spp\.reduce\.", lambda m: f"backbone.stage{int(m[1]) + 1}.1.conv1."),
    (r"^backbone\.stages\.(\d)\.spp\.fuse\.", lambda m: f"backbone.stage{int(m[1]) + 1}.1.conv2."),
    (r"^backbone\.stages\.3\.csp\.", "backbone.stage4.2."),  # after its SPP block
    (r"^backbone\.stages\.(\d)\.csp\.", lambda m: f"backbone.stage{int(m[1]) + 1}.1."),
    (r"\.main\.", ".main_conv."), (r"\.short\.", ".short_conv."), (r"\.fuse\.", ".final_conv."),
    (r"\.attn\.", ".attention."), (r"\.dw\.", ".conv2.depthwise_conv."), (r"\.pw\.", ".conv2.pointwise_conv."),
    (r"^neck\.reduce\.", "neck.reduce_layers."), (r"^neck\.top_down\.", "neck.top_down_blocks."),
    (r"^neck\.downsample\.", "neck.downsamples."), (r"^neck\.bottom_up\.", "neck.bottom_up_blocks."),
    (r"^head\.cls_preds\.", "bbox_head.rtm_cls."), (r"^head\.reg_preds\.", "bbox_head.rtm_reg."),
    (r"^head\.", "bbox_head."),
)
_MMYOLO = (  # mmdet's key -> mmyolo's (SSCMA's): the R4 reduce conv sits inside the first top-down layer
    (r"^bbox_head\.", "bbox_head.head_module."),
    (r"^neck\.reduce_layers\.1\.", "neck.top_down_layers.0.1."),
    (r"^neck\.reduce_layers\.0\.", "neck.reduce_layers.2."),
    (r"^neck\.top_down_blocks\.0\.", "neck.top_down_layers.0.0."),
    (r"^neck\.top_down_blocks\.1\.", "neck.top_down_layers.1."),
    (r"^neck\.downsamples\.", "neck.downsample_layers."),
    (r"^neck\.bottom_up_blocks\.", "neck.bottom_up_layers."),
    (r"^neck\.out_convs\.", "neck.out_layers."),
)
_TIMM = (  # our MobileNetV4ConvSmall key -> timm's mobilenetv4_conv_small
    (r"^stem\.conv\.", "conv_stem."), (r"^stem\.bn\.", "bn1."),
    (r"^stages\.(\d+)\.(\d+)\.bn\.", r"blocks.\1.\2.bn1."),  # `cn` blocks: ConvBnAct(conv, bn1)
    (r"^stages\.", "blocks."),  # UIB blocks keep dw_start/pw_exp/dw_mid/pw_proj.{conv,bn}
)


def _rename(key: str, rules) -> str:
    for pattern, repl in rules:
        key = re.sub(pattern, repl, key)
    return key


def mmdet_key(key: str) -> str:
    return _rename(key, _MMDET)


def mmdet_state(model) -> dict:
    return {mmdet_key(k): v.clone() for k, v in model.state_dict().items()}


def mmyolo_state(mmdet_sd: dict) -> dict:
    return {_rename(k, _MMYOLO): v for k, v in mmdet_sd.items()}


def timm_state(backbone, with_head: bool = True) -> dict:
    """timm's state_dict of mobilenetv4_conv_small from our backbone built with out_indices=(1, 2, 3, 4),
    with timm's classifier head (conv_head 960 -> 1280, norm_head, 1000-class classifier)."""
    sd = {_rename(k, _TIMM): v.clone() for k, v in backbone.state_dict().items()}
    if with_head:
        g = torch.Generator().manual_seed(0)
        sd.update({"conv_head.weight": torch.randn(1280, 960, 1, 1, generator=g), "classifier.bias": torch.zeros(1000),
                   "classifier.weight": torch.randn(1000, 1280, generator=g)})
        sd.update({f"norm_head.{n}": torch.ones(1280) for n in ("weight", "running_var")})
        sd.update({f"norm_head.{n}": torch.zeros(1280) for n in ("bias", "running_mean")})
        sd["norm_head.num_batches_tracked"] = torch.tensor(0)
    return sd


def mmengine_file(state_dict: dict, classes=("a", "b")) -> dict:
    """What mmengine's CheckpointHook writes (plain-data parts): meta, state_dict, optimizer, schedulers."""
    return {"meta": {"epoch": 300, "iter": 120000, "mmengine_version": "0.10.7", "seed": 0,
                     "dataset_meta": {"classes": tuple(classes), "palette": [(220, 20, 60)] * len(classes)}},
            "state_dict": state_dict,
            "optimizer": {"state": {}, "param_groups": [{"lr": 4e-4, "weight_decay": 0.05, "params": [0, 1]}]},
            "param_schedulers": [{"start_factor": 1e-05, "last_epoch": 300}]}
