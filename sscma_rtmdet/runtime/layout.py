"""Output layouts of an exported detector, and the one conversion back to what our decoder reads.

Per level (stride s, map H x W, C classes) the graph has a score and a box output:

    'nchw'   score_sK (N, C, H, W) sigmoid scores;  box_sK (N, 4, H, W) l, t, r, b in pixels (times the stride)
    'sscma'  score_sK (N, H*W, C') logits;          box_sK (N, H*W, 4) l, t, r, b in grid units with the
             half cell folded in (+0.5, +0.5, -0.5, -0.5): SSCMA-Micro decodes anchors at (col + 0.5, row + 0.5)
             where ours sit at (col, row); rows are row-major over (H, W).

'sscma' with C == 4 would be ambiguous to the firmware (it tells boxes from scores by a last dimension of 4),
so a fifth, padding score channel holding PAD_LOGIT is appended and the real logits are floored at
CLASS_LOGIT_FLOOR: after int8 rounding the pad stays strictly below every class (it never wins the
firmware's argmax, whose ties go to the last class) and below any threshold above sigmoid(-9) = 1.2e-4.
The pad is added on the (N, H*W, C) rows: in NCHW a 4-channel map of 4 x 4 cells is ambiguous to onnx2tf.

int8 score outputs are quantized on [SCORE_RANGE_MIN, max] (export.int8): a logit below -10 (a score under
4.5e-5, far below any threshold) saturates there, and the scores that matter get a finer grid.

    'yolov8' output0 (N, 4 + C, A), A = sum of H*W over the levels (stride order, rows row-major): rows cx, cy,
             w, h of each box normalised to 0..1 of the input width / height, then C sigmoid class
             probabilities; the decode (anchors at (col, row) * stride, the head's distances) is inside the
             graph (models.head). What Ultralytics' YOLOv8 int8 export writes and SSCMA-Micro v1's YOLO_V8
             algorithm reads (targets.py); int8 on one grid [0, YOLO_RANGE_MAX] (scale 1/256, zero point -128)
             for boxes and scores alike. At most YOLO_MAX_CLASSES classes (the firmware: 5 <= 4 + C <= 84).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import CheckpointError, UserError
from ..targets import HALF_CELL

LAYOUTS = ("nchw", "sscma", "yolov8")
YOLO_OUTPUT = "output0"
YOLO_MAX_CLASSES = 80
YOLO_RANGE_MAX = 255.0 / 256.0  # the int8 grid of TFLite's LOGISTIC output: scale 1/256, no requantizing
SCORE_RANGE_MIN = -10.0  # logit; sigmoid 4.5e-5
PAD_LOGIT = SCORE_RANGE_MIN  # the int8 grid's lowest value
CLASS_LOGIT_FLOOR = -9.0  # at least 8 int8 steps above the pad for any logit range up to +20


def check_layout(layout: str) -> str:
    if layout not in LAYOUTS:
        raise CheckpointError(f"output layout {layout!r} is unknown; expected one of {', '.join(LAYOUTS)}")
    return layout


def check_classes(num_classes: int, layout: str) -> None:
    """A 'yolov8' file holds at most YOLO_MAX_CLASSES classes (SSCMA-Micro v1 refuses 4 + C > 84)."""
    if layout == "yolov8" and num_classes > YOLO_MAX_CLASSES:
        raise UserError(f"{num_classes} classes: the YOLOv8 layout of the stock Grove Vision AI V2 firmware takes at "
                        f"most {YOLO_MAX_CLASSES} (its YOLO_V8 algorithm checks 4 + C <= 84); merge classes, or "
                        "export for a firmware with the RTMDet model class (--board grove_vision_ai_v2_sscma2)")


def output_names(strides: Sequence[int], layout: str = "nchw") -> list[str]:
    """Graph output names in graph order: scores per stride, then boxes per stride ('yolov8': one output)."""
    if layout == "yolov8":
        return [YOLO_OUTPUT]
    return [f"score_s{s}" for s in strides] + [f"box_s{s}" for s in strides]


def score_channels(num_classes: int, layout: str) -> int:
    """Channels of a score output: the class count, plus the padding channel for a 4-class 'sscma' file."""
    return num_classes + 1 if layout == "sscma" and num_classes == 4 else num_classes


def output_shapes(layout: str, imgsz: Sequence[int], strides: Sequence[int], num_classes: int) -> dict:
    """{output name: shape} for batch 1 (names as output_names)."""
    h, w = int(imgsz[0]), int(imgsz[1])
    if layout == "yolov8":
        return {YOLO_OUTPUT: [1, 4 + num_classes, sum((h // s) * (w // s) for s in strides)]}
    out = {}
    for kind in ("score", "box"):
        for s in strides:
            c = score_channels(num_classes, layout) if kind == "score" else 4
            out[f"{kind}_s{s}"] = [1, c, h // s, w // s] if layout == "nchw" else [1, (h // s) * (w // s), c]
    return out


def graph_outputs(cls_logits: list, box_values: list, layout: str) -> tuple:
    """Torch: per-level logits (N, C, H, W) and the layout's box values (N, 4, H, W) (models.head.box_values)
    -> the graph's outputs, all scores (stride order) then all boxes."""
    import torch

    check_layout(layout)
    if layout == "nchw":
        return tuple(c.sigmoid() for c in cls_logits) + tuple(box_values)

    def rows(x):  # (N, C, H, W) -> (N, H*W, C), row-major over (H, W); onnx2tf maps the NHWC permute to none
        n, c, h, w = x.shape
        return x.permute(0, 2, 3, 1).reshape(n, h * w, c)
    if layout == "yolov8":  # box values: per level (offset, size) (models.head); rows first, one transpose last
        boxes = torch.cat([torch.cat([rows(off) + _anchor_rows(off), rows(size)], dim=2) for off, size in box_values],
                          dim=1)
        scores = torch.cat([rows(c).sigmoid() for c in cls_logits], dim=1)  # rows first: onnx2tf keeps the layout
        return (torch.cat([boxes, scores], dim=2).permute(0, 2, 1),)
    scores = []
    for c in cls_logits:
        r = rows(c)
        if r.shape[2] == 4:
            floor = torch.full_like(r[..., :1], CLASS_LOGIT_FLOOR)
            r = torch.cat([torch.maximum(r, floor), torch.full_like(r[..., :1], PAD_LOGIT)], dim=2)
        scores.append(r)
    return tuple(scores) + tuple(rows(b) for b in box_values)


def _anchor_rows(x):
    """(1, H*W, 2) torch constant: each cell's anchor (col / W, row / H) for a map x (N, C, H, W). Added on the
    rows, not the map: a (N, 4, 4, 4)-like NCHW map is ambiguous to onnx2tf's layout conversion."""
    import torch

    h, w = x.shape[-2:]
    cols = (torch.arange(w, dtype=x.dtype, device=x.device) / w).expand(h, w)
    rows = (torch.arange(h, dtype=x.dtype, device=x.device) / h)[:, None].expand(h, w)
    return torch.stack([cols, rows], dim=-1).reshape(1, h * w, 2)


def to_canonical(outputs: dict, strides: Sequence[int], layout: str, num_classes: int,
                 input_hw: Sequence[int]) -> tuple[list[np.ndarray], list[np.ndarray], bool]:
    """A file's outputs {name: array} -> (scores per level (N, C, H, W), pixel distances per level
    (N, 4, H, W), scores_are_logits): what postprocess.decode_predictions reads, for any layout."""
    check_layout(layout)
    if layout == "yolov8":
        return _yolo_canonical(np.asarray(outputs[YOLO_OUTPUT]), strides, num_classes, input_hw)
    scores, boxes = [], []
    for s in strides:
        sc, bx = np.asarray(outputs[f"score_s{s}"]), np.asarray(outputs[f"box_s{s}"])
        if layout == "nchw":
            scores.append(sc)
            boxes.append(bx)
            continue
        h, w = int(input_hw[0]) // s, int(input_hw[1]) // s
        n = sc.shape[0]
        if sc.shape[1] != h * w or bx.shape != (n, h * w, 4):
            raise CheckpointError(f"output score_s{s}/box_s{s} have shapes {sc.shape}/{bx.shape}; a 'sscma' "
                                  f"file at {input_hw[0]}x{input_hw[1]} has (N, {h * w}, C) and (N, {h * w}, 4)")
        sc = sc[..., :num_classes]  # drop the padding channel
        scores.append(np.ascontiguousarray(sc.reshape(n, h, w, num_classes).transpose(0, 3, 1, 2)))
        pix = (bx - np.asarray(HALF_CELL, np.float32)) * np.float32(s)
        boxes.append(np.ascontiguousarray(pix.reshape(n, h, w, 4).transpose(0, 3, 1, 2)))
    return scores, boxes, layout == "sscma"


def _yolo_canonical(out: np.ndarray, strides: Sequence[int], num_classes: int, input_hw: Sequence[int]):
    """'yolov8' output0 (N, 4 + C, A) -> per level probabilities (N, C, H, W) and l, t, r, b pixel distances
    (N, 4, H, W) from our anchors at (col, row) * stride."""
    H, W = int(input_hw[0]), int(input_hw[1])
    sizes = [(H // s, W // s) for s in strides]
    n = out.shape[0]
    if out.ndim != 3 or out.shape[1] != 4 + num_classes or out.shape[2] != sum(h * w for h, w in sizes):
        raise CheckpointError(f"output {YOLO_OUTPUT} has shape {out.shape}; a 'yolov8' file of {num_classes} classes "
                              f"at {H}x{W} has (N, {4 + num_classes}, {sum(h * w for h, w in sizes)})")
    scores, boxes, start = [], [], 0
    for (h, w), s in zip(sizes, strides):
        part = out[:, :, start:start + h * w].reshape(n, 4 + num_classes, h, w).astype(np.float32)
        start += h * w
        cx, cy, bw, bh = part[:, 0] * W, part[:, 1] * H, part[:, 2] * W, part[:, 3] * H
        px = (np.arange(w, dtype=np.float32) * s)[None, None, :]
        py = (np.arange(h, dtype=np.float32) * s)[None, :, None]
        dist = np.stack([px - (cx - bw / 2), py - (cy - bh / 2), cx + bw / 2 - px, cy + bh / 2 - py], axis=1)
        boxes.append(np.ascontiguousarray(dist, dtype=np.float32))
        scores.append(np.ascontiguousarray(part[:, 4:]))
    return scores, boxes, False
