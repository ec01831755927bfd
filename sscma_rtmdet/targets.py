"""Deployment targets: how the runtime that will run the exported file prepares images and reads outputs.

A target is chosen by the config (`target = 'sscma-micro'` in the nano configs, `'generic'` in the base) and
stored in every checkpoint and export sidecar (`runtime.deployment.Deployment`). Training, calibration,
evaluation and export all follow it, so `tools/test.py` scores a file the way its runtime will run it.

`sscma-micro` is Seeed's SSCMA-Micro firmware (Grove Vision AI V2, XIAO ESP32-S3), RTMDet model class
`sscma/core/model/ma_model_rtmdet.cpp`. What it does, as read from its source:
  - input: one NHWC tensor [1, S, S, 3], square, S % 32 == 0; the camera frame is stretched to S x S by a
    16.16 fixed-point nearest-neighbour sampler (no letterbox), RGB, and an int8 input receives pixel - 128
    (its quantization parameters are never read: the file must use scale 1, zero point -128);
  - outputs: exactly 6 tensors [1, H*W, C], all int8 (or all uint8), told apart by shape only: last dim 4
    = boxes, anything else = scores, H*W = stride (8, 16, 32); so C == 4 classes is ambiguous;
  - scores are logits: per anchor the highest class whose raw value >= floor(logit(thr) / scale) + zp
    (ties: the last class), then sigmoid;
  - boxes are l, t, r, b in grid units from anchors at (col + 0.5, row + 0.5): cx = ax + (r - l) / 2,
    w = l + r, times stride / S;
  - per-class greedy NMS (IoU > 0.45 suppresses; the IoU treats the box centre as its corner), no cap.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Target", "TARGETS", "get_target", "DEFAULT_TARGET", "HALF_CELL"]

# The firmware's anchors sit at cell centres (col + 0.5, row + 0.5), ours (mmdet's) at (col, row): an exported
# 'sscma' box is l, t, r, b in grid units plus this, so its decode gives exactly our boxes.
HALF_CELL = (0.5, 0.5, -0.5, -0.5)


@dataclass(frozen=True)
class Target:
    """How one runtime feeds and reads a detector (every field a plain value, see module docstring)."""
    name: str
    resize: str                  # 'letterbox' (keep ratio, pad bottom/right) | 'stretch'
    interpolation: str           # 'linear' | 'nearest' (the firmware's fixed-point sampler)
    input_color: str | None      # channel order of the exported file's input; None = the training order
    layout: str                  # exported output layout: 'sscma' ([1, H*W, C]) or 'nchw' (per-level maps)
    square_input: bool           # the runtime accepts only square inputs
    test_cfg: dict = field(default_factory=dict)  # decode settings the runtime uses (over the config's)
    description: str = ""


TARGETS: dict[str, Target] = {
    "generic": Target(
        name="generic", resize="letterbox", interpolation="linear", input_color=None, layout="nchw",
        square_input=False, test_cfg={},
        description="mmdetection's test pipeline (letterbox, multi-label decode); files for CPUs and phones"),
    "sscma-micro": Target(
        name="sscma-micro", resize="stretch", interpolation="nearest", input_color="rgb", layout="sscma",
        square_input=True,
        test_cfg=dict(multi_label=False, nms="sscma", iou_threshold=0.45, max_per_img=None),
        description="Seeed SSCMA-Micro firmware (Grove Vision AI V2, XIAO ESP32-S3): stretch, RGB, "
                    "pixel - 128, one class per anchor, its NMS"),
}
DEFAULT_TARGET = "generic"


def get_target(name) -> Target:
    """The Target called `name`; a clear error naming the known ones otherwise."""
    from .errors import ConfigError

    if isinstance(name, Target):
        return name
    if name not in TARGETS:
        raise ConfigError(f"target={name!r} is unknown; choose one of {', '.join(TARGETS)} "
                          "(see sscma_rtmdet/targets.py)")
    return TARGETS[name]
