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
That model class is in SSCMA-Micro v2 (main, from 2024-12-25): the XIAO ESP32-S3 firmware, or a WE2 firmware
built from it. No released Grove Vision AI V2 firmware has it.

`sscma-micro-v1` is the stock Grove Vision AI V2 firmware (release 2025.01.02, `AT+VER`: "software":
"2025.01.02"), SSCMA-Micro's v1 line (branch 1.0.x). A plain .tflite is given the first algorithm whose check
it passes (`el_algorithm_type_from_engine`): YOLO_POSE, YOLO_WORLD, YOLO_V8, NVIDIA_DET, YOLO, FOMO, IMCLS
(export/conformance.py replays it). Its YOLO_V8 algorithm (`el_algorithm_yolov8.cpp`), as read from its source:
  - input: [1, S, S, 3] (or 1 channel), S >= 32, S % 32 == 0; the frame stretched by a nearest sampler
    (source index = int(i * src / S) in float), RGB, and the int8 input receives pixel - 128 (never read);
  - output 0: [1, 4 + C, N], N = (S/8)^2 + (S/16)^2 + (S/32)^2, 5 <= 4 + C <= 84, read as int8 channel-major:
    rows x, y, w, h (the box centre and size), then C class probabilities; with an output scale < 0.1 the
    boxes are 0..1 of the input and the scores are taken times 100 (percent);
  - per anchor the first class with the highest value, kept when its percent score > the threshold (an
    integer, default 50), stored rounded; x, y, w, h each clipped to [0, S], scaled to the frame, truncated;
  - per-class greedy NMS over the boxes sorted by stored score (stable, from the last anchor back), IoU with
    the centre taken as the corner, rounded to percent, suppressing when > the threshold (default 45).
Ops Vela leaves on the CPU must be among SOFTMAX, PADV2, TRANSPOSE, ETHOS_U, DEQUANTIZE, QUANTIZE,
FULLY_CONNECTED, GATHER, RESHAPE, MAX_POOL_2D, MUL, BROADCAST_TO, MEAN, BATCH_MATMUL; tensor arena 1110 KiB.
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Target", "TARGETS", "FAMILIES", "get_target", "DEFAULT_TARGET", "HALF_CELL", "Board", "BOARDS", "get_board"]

# The firmware's anchors sit at cell centres (col + 0.5, row + 0.5), ours (mmdet's) at (col, row): an exported
# 'sscma' box is l, t, r, b in grid units plus this, so its decode gives exactly our boxes.
HALF_CELL = (0.5, 0.5, -0.5, -0.5)


@dataclass(frozen=True)
class Target:
    """How one runtime feeds and reads a detector (every field a plain value, see module docstring)."""
    name: str
    resize: str                  # 'letterbox' (keep ratio, pad bottom/right) | 'stretch'
    interpolation: str           # 'linear' | 'nearest' (v2's fixed-point sampler) | 'nearest-float' (v1's)
    input_color: str | None      # channel order of the exported file's input; None = the training order
    layout: str                  # exported output layout: 'sscma' ([1, H*W, C]) or 'nchw' (per-level maps)
    square_input: bool           # the runtime accepts only square inputs
    test_cfg: dict = field(default_factory=dict)  # decode settings the runtime uses (over the config's)
    description: str = ""
    decode: str = "mmdetection's decode"  # what tools/test.py says it decodes with


TARGETS: dict[str, Target] = {
    "generic": Target(
        name="generic", resize="letterbox", interpolation="linear", input_color=None, layout="nchw",
        square_input=False, test_cfg={},
        description="mmdetection's test pipeline (letterbox, multi-label decode); files for CPUs and phones"),
    "sscma-micro": Target(
        name="sscma-micro", resize="stretch", interpolation="nearest", input_color="rgb", layout="sscma",
        square_input=True,
        test_cfg=dict(multi_label=False, nms="sscma", iou_threshold=0.45, max_per_img=None),
        description="Seeed SSCMA-Micro v2 firmware, RTMDet model class (XIAO ESP32-S3; a self-built Grove "
                    "Vision AI V2 firmware): stretch, RGB, pixel - 128, one class per anchor, its NMS",
        decode="SSCMA-Micro's decode (one class per anchor, its NMS)"),
    "sscma-micro-v1": Target(
        name="sscma-micro-v1", resize="stretch", interpolation="nearest-float", input_color="rgb", layout="yolov8",
        square_input=True,
        test_cfg=dict(multi_label=False, nms="sscma-v1", iou_threshold=0.45, max_per_img=None),
        description="Seeed SSCMA-Micro v1 firmware, YOLO_V8 algorithm (the stock Grove Vision AI V2 firmware "
                    "2025.01.02): stretch, RGB, pixel - 128, one [1, 4 + C, N] output, integer-percent scores",
        decode="SSCMA-Micro v1's YOLO_V8 decode (first best class, integer-percent scores, its NMS)"),
}
# Targets whose files are made from the same training (the same resize and input colour order; v1's nearest
# sampler rounds a source index differently from v2's now and then, which training does not care about).
FAMILIES = {"sscma-micro": "sscma", "sscma-micro-v1": "sscma", "generic": "generic"}
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


# ---- firmware profiles: each board, the firmware its users run, its target --------------------------------
# One row per board and firmware (add one for a new board). `--board NAME` picks a row; `--format vela`
# without it means the stock Grove Vision AI V2 firmware. Budgets (KiB) are what that firmware leaves a
# model: `arena_kib` the tensor arena it allocates, `flash_kib` the room for the model file; `cpu_ops` the
# TFLite Micro kernels it registers for what Vela leaves on the CPU (None: all of TFLite Micro's). XIAO
# ESP32-S3: sscma-example-esp32 main pins SSCMA-Micro ab1d5f0 (2024-12-25, the RTMDet model class; AT+VER?
# answers "software":"2024.11.25", hardware "XIAO(ESP32S3)"), 2048 KiB arena in PSRAM.
# porting/himax/we2/el_config_porting.h (SSCMA-Micro 1.0.x): the op resolver of the stock Grove V2 firmware
STOCK_WE2_CPU_OPS = ("SOFTMAX", "PADV2", "TRANSPOSE", "ETHOS_U", "DEQUANTIZE", "QUANTIZE", "FULLY_CONNECTED", "GATHER",
                     "RESHAPE", "MAX_POOL_2D", "MUL", "BROADCAST_TO", "MEAN", "BATCH_MATMUL")


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    runtime: str         # 'vela' (Ethos-U NPU: needs the _vela.tflite) | 'tflm' (the int8 .tflite on the MCU)
    arena_kib: float
    flash_kib: float
    target: str = "sscma-micro"
    firmware: str = ""   # what its users run, and how they check it
    cpu_ops: tuple | None = None


BOARDS: dict[str, Board] = {
    "grove_vision_ai_v2": Board(
        "grove_vision_ai_v2", "Grove Vision AI V2 (Himax WE2, Ethos-U55-64), stock firmware", "vela",
        arena_kib=1110, flash_kib=12 * 1024, target="sscma-micro-v1", cpu_ops=STOCK_WE2_CPU_OPS,
        firmware="stock grove_vision_ai_v2_20250102.img (SSCMA-Micro v1, YOLO_V8 algorithm); AT+VER answers "
                 '"software":"2025.01.02"'),
    "grove_vision_ai_v2_sscma2": Board(
        "grove_vision_ai_v2_sscma2", "Grove Vision AI V2 (Himax WE2, Ethos-U55-64), SSCMA-Micro v2 firmware",
        "vela", arena_kib=1100, flash_kib=12 * 1024, target="sscma-micro",
        firmware="a WE2 firmware you build from SSCMA-Micro v2 (2024-12-25 or later: the RTMDet model class)"),
    "xiao_esp32s3": Board(
        "xiao_esp32s3", "XIAO ESP32-S3 (TFLite Micro)", "tflm", arena_kib=2048, flash_kib=8 * 1024,
        target="sscma-micro",
        firmware="sscma-example-esp32 (SSCMA-Micro v2, RTMDet model class)"),
}
VELA_DEFAULT_BOARD = "grove_vision_ai_v2"


def get_board(name: str) -> Board:
    from .errors import UserError

    if name not in BOARDS:
        raise UserError(f"--board {name}: unknown; choose from {', '.join(BOARDS)} (targets.py)")
    return BOARDS[name]


