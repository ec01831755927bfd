"""A model of Seeed SSCMA-Micro's RTMDet model class, written from its rules and independent of our decode.

It reads a .tflite the way the firmware does (`ma_model_rtmdet.cpp`, `ma_model_detector.cpp`, `ma_cv.cpp`,
`ma_anchors.cpp`, `ma_nms.cpp`, `ma_math_scalars.h`), using nothing of sscma_rtmdet:

- accepts a model only with one input [1, S, S, 3] NHWC (square, S >= 32, S % 32 == 0) and exactly six
  outputs [1, H*W, C], all int8 or all uint8; an output with last dim 4 is a box output, any other a score
  output; H*W picks the stride (8, 16, 32); every stride needs one of each (else the model is refused);
- the camera frame is stretched to S x S by a 16.16 fixed-point nearest sampler, RGB, and an int8 input
  gets (uint8 pixel - 128) whatever its quantization parameters;
- per stride, per anchor j (row-major, anchor (j % n + 0.5, j // n + 0.5) in grid units): the class with
  the highest raw score, ties to the last class, counts when raw >= floor(logit(thr) / scale) + zp; its
  score is sigmoid(dequantized); boxes: d = dequantized l, t, r, b, cx = ax + (r - l) / 2, w = l + r (same
  for y), times stride / S; results are pushed to the front of a list;
- NMS: stable sort by descending score, greedy per class, IoU > thr suppresses, the IoU computed with the
  box centre (x, y) taken as its top-left corner; no cap on the count.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

STRIDES = (8, 16, 32)


class Rejected(Exception):
    """The firmware refuses this model (isValid false or a constructor assert)."""


@dataclass
class Contract:
    size: int                       # S
    input_index: int
    input_dtype: type
    levels: list                    # per stride: (stride, n, score detail, box detail)


def accept(interpreter) -> Contract:
    """RTMDet::isValid and the constructor's output assignment, or Rejected saying why."""
    ins, outs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(ins) != 1 or len(outs) != 6:
        raise Rejected(f"needs 1 input and 6 outputs, has {len(ins)} and {len(outs)}")
    shape = list(ins[0]["shape"])
    if len(shape) != 4 or shape[3] not in (1, 3):
        raise Rejected(f"input {shape} is not NHWC with 1 or 3 channels")
    n, h, w, c = shape
    if n != 1 or h != w or h < 32 or h % 32 or c != 3:
        raise Rejected(f"input {shape} must be [1, S, S, 3] with S % 32 == 0")
    sizes = {(h // s) * (h // s): s for s in STRIDES}
    scores, boxes = {}, {}
    for d in outs:
        o = list(d["shape"])
        if len(o) != 3 or o[0] != 1:
            raise Rejected(f"output {d['name']} has shape {o}, not [1, H*W, C]")
        kind = boxes if o[2] == 4 else scores
        if o[1] not in sizes or sizes[o[1]] in kind:
            raise Rejected(f"output {d['name']} {o}: no free stride for {o[1]} anchors")
        kind[sizes[o[1]]] = d
    if len(scores) != 3 or len(boxes) != 3:
        raise Rejected(f"needs one score and one box output per stride, got {sorted(scores)} / {sorted(boxes)}")
    dtypes = {d["dtype"] for d in outs}
    if dtypes not in ({np.int8}, {np.uint8}):
        raise Rejected(f"outputs must be all int8 or all uint8, got {dtypes}")
    levels = [(s, h // s, scores[s], boxes[s]) for s in STRIDES]
    return Contract(h, ins[0]["index"], ins[0]["dtype"], levels)


def camera_to_input(img_bgr: np.ndarray, size: int, dtype) -> np.ndarray:
    """ma::cv::convert (16.16 fixed-point nearest, RGB) then `-= 128` on an int8 input: (1, S, S, 3)."""
    sh, sw = img_bgr.shape[:2]
    beta_h, beta_w = (sh << 16) // size, (sw << 16) // size
    rows = (np.arange(size) * beta_h) >> 16
    cols = (np.arange(size) * beta_w) >> 16
    rgb = img_bgr[rows[:, None], cols[None, :], ::-1].astype(np.uint8)
    if dtype == np.int8:
        return (rgb.astype(np.int16) - 128).astype(np.int8)[None]
    return rgb[None]


def _f32(v) -> np.float32:
    return np.float32(v)


def decode(interpreter, contract: Contract, score_thr: float, iou_thr: float) -> list[dict]:
    """postProcessI8 + nms: [{x, y, w, h (normalised, x/y the box centre), score, target}] in output order."""
    inv = math.log(score_thr / (1 - score_thr))  # ma::math::inverseSigmoid
    found = []  # insertion order; the firmware's forward_list holds it reversed
    for stride, n, sd, bd in contract.levels:
        q = interpreter.get_tensor(sd["index"])[0].astype(np.int32)     # (n*n, C)
        b = interpreter.get_tensor(bd["index"])[0].astype(np.int32)     # (n*n, 4)
        s_scale, s_zp = sd["quantization"]
        b_scale, b_zp = bd["quantization"]
        thr_q = int(math.floor(_f32(inv) / _f32(s_scale)) + s_zp)
        best = q.max(axis=1)
        target = q.shape[1] - 1 - np.argmax(q[:, ::-1] == best[:, None], axis=1)  # last class at the max
        keep = np.nonzero(best >= thr_q)[0]
        scale = _f32(stride) / _f32(contract.size)
        for j in keep:
            score = _f32(1.0) / (_f32(1.0) + np.exp(-_f32((best[j] - s_zp) * _f32(s_scale))))
            d = (b[j] - b_zp).astype(np.float32) * _f32(b_scale)
            ax, ay = _f32(j % n) + _f32(0.5), _f32(j // n) + _f32(0.5)
            cx, cy = ax + (d[2] - d[0]) * _f32(0.5), ay + (d[3] - d[1]) * _f32(0.5)
            found.append(dict(x=cx * scale, y=cy * scale, w=(d[0] + d[2]) * scale, h=(d[1] + d[3]) * scale,
                              score=float(score), target=int(target[j])))
    return nms(found[::-1], iou_thr)


def nms(boxes: list[dict], iou_thr: float) -> list[dict]:
    """ma::utils::nms(results, iou, score, soft_nms=false, multi_target=true) on the front-pushed list."""
    boxes = sorted(boxes, key=lambda b: -b["score"])  # forward_list::sort is stable
    alive = [True] * len(boxes)
    xs = np.array([[b["x"], b["y"], b["w"], b["h"]] for b in boxes], np.float32).reshape(-1, 4)
    labels = np.array([b["target"] for b in boxes])
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        j = np.arange(i + 1, len(boxes))
        j = j[(labels[j] == labels[i]) & np.array([alive[k] for k in j], bool)]
        if not len(j):
            continue
        x1 = np.maximum(xs[i, 0], xs[j, 0])
        y1 = np.maximum(xs[i, 1], xs[j, 1])
        x2 = np.minimum(xs[i, 0] + xs[i, 2], xs[j, 0] + xs[j, 2])
        y2 = np.minimum(xs[i, 1] + xs[i, 3], xs[j, 1] + xs[j, 3])
        inter = np.maximum(0, x2 - x1) * np.maximum(0, y2 - y1)
        iou = inter / (xs[i, 2] * xs[i, 3] + xs[j, 2] * xs[j, 3] - inter)
        for k in j[iou > iou_thr]:
            alive[k] = False
    return [b for b, a in zip(boxes, alive) if a]


def detect(interpreter, contract: Contract, img_bgr: np.ndarray, score_thr: float = 0.25,
           iou_thr: float = 0.45) -> list[dict]:
    """One camera frame through the firmware: normalised detections."""
    interpreter.set_tensor(contract.input_index, camera_to_input(img_bgr, contract.size, contract.input_dtype))
    interpreter.invoke()
    return decode(interpreter, contract, score_thr, iou_thr)


def to_pixels(dets: list[dict], width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised centre boxes -> (xyxy pixels clipped to the frame (K, 4), scores (K,), labels (K,)),
    as a host draws the firmware's results on the frame."""
    if not dets:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    b = np.array([[d["x"], d["y"], d["w"], d["h"]] for d in dets], np.float64)
    xyxy = np.stack([(b[:, 0] - b[:, 2] / 2) * width, (b[:, 1] - b[:, 3] / 2) * height,
                     (b[:, 0] + b[:, 2] / 2) * width, (b[:, 1] + b[:, 3] / 2) * height], 1)
    xyxy = np.clip(xyxy, 0, [width, height, width, height]).astype(np.float32)
    return xyxy, np.array([d["score"] for d in dets], np.float32), np.array([d["target"] for d in dets], np.int64)
