"""A model of the stock Grove Vision AI V2 firmware (SSCMA-Micro v1, branch 1.0.x, release 2025.01.02) running a
plain .tflite: its algorithm auto-detect and its YOLO_V8 algorithm, written from its rules and independent of
sscma_rtmdet (`core/algorithm/el_algorithm_delegate.cpp`, `el_algorithm_yolov8.cpp`, `core/utils/el_nms.cpp`,
`core/utils/el_cv.cpp`):

- auto-detect: the first of YOLO_POSE, YOLO_WORLD, YOLO_V8, NVIDIA_DET, YOLO, FOMO, IMCLS whose check input 0 and
  its outputs pass (shapes only; dtypes are never looked at);
- YOLO_V8 accepts input 0 [1, S, S, 1|3], S >= 32, S % 32 == 0, and output 0 [1, 4 + C, N] with
  N = (S >> 5)^2 + (S >> 4)^2 + (S >> 3)^2 and 5 <= 4 + C <= 84;
- the camera frame is resized to S x S by nearest neighbour with float32 ratios (row int(i * (h / S))), RGB,
  then 128 is subtracted from every byte (int8 pixel - 128); the input's quantization is never read;
- output 0 is read as int8, element (k, j) at j + k * N, dequantized with its scale / zero point; with a scale
  < 0.1 x, w are taken times S (width) and y, h times S (height) and the score times 100;
- per anchor j, pushed to the front of a list: the class found by a running maximum that starts at -128 and
  moves only on a strictly larger raw value (ties: the first class); kept when score > threshold (an integer
  percent); stored score round(score); x, y, w, h each clipped to [0, S], times frame / S, truncated (uint16);
- NMS: the list sorted stably by stored score, descending; per class greedy: a later box whose IoU with a kept
  one (x, y taken as the top-left corner, in the stored integers), rounded to percent, is > the IoU threshold is
  dropped; the survivors sorted stably by x ascending.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ORDER = ("YOLO_POSE", "YOLO_WORLD", "YOLO_V8", "NVIDIA_DET", "YOLO", "FOMO", "IMCLS")


class Rejected(Exception):
    """The firmware would not run this model as YOLO_V8."""


def _sq(i, mult=32):
    return len(i) == 4 and i[0] == 1 and i[1] == i[2] and i[1] >= 32 and i[1] % mult == 0 and i[3] in (1, 3)


def _counts(side):
    return [(side // 8) ** 2, (side // 16) ** 2, (side // 32) ** 2]


def _take(pool, n):
    if n in pool:
        pool.remove(n)
        return True
    return False


def detect_algorithm(ins: list, outs: list) -> str:
    """el_algorithm_type_from_engine: the name of the first algorithm whose is_model_valid passes."""
    i = list(ins[0]) if ins else []
    side = i[1] if len(i) == 4 else 0
    n = (side >> 5) ** 2 + (side >> 4) ** 2 + (side >> 3) ** 2
    o = [list(x) for x in outs]

    def pose():
        if not _sq(i) or len(o) < 7 or any(len(x) != 3 or x[0] != 1 for x in o[:7]):
            return False
        a, b = _counts(side), _counts(side)
        for x in o[:7]:
            ok = _take(a, x[1]) if x[2] == 1 else _take(b, x[1]) if x[2] == 64 else \
                (x[2] % 3 == 0 and x[1] == sum(_counts(side)))
            if not ok:
                return False
        return not a and not b

    def world():
        if not _sq(i) or len(o) < 6 or any(len(x) != 3 or x[0] != 1 for x in o[:6]):
            return False
        a, b = _counts(side), _counts(side)
        return all(_take(b if x[2] == 64 else a, x[1]) for x in o[:6]) and not a and not b

    o0 = o[0] if o else []
    checks = {
        "YOLO_POSE": pose, "YOLO_WORLD": world,
        "YOLO_V8": lambda: _sq(i) and len(o0) == 3 and o0[0] == 1 and o0[2] == n and 5 <= o0[1] <= 84,
        "NVIDIA_DET": lambda: _sq(i, 16) and len(o) >= 2 and all(len(x) >= 4 and x[1] == x[2] == side // 16
                                                                for x in o[:2]),
        "YOLO": lambda: _sq(i) and len(o0) == 3 and o0[0] == 1 and o0[1] == n * i[3] and 6 <= o0[2] <= 85,
        "FOMO": lambda: len(i) == 4 and i[0] == 1 and min(i[1], i[2]) >= 16 and i[3] in (1, 3) and len(o0) == 4
        and o0[0] == 1 and 2 <= o0[1] <= i[1] and 2 <= o0[2] <= i[2] and o0[3] >= 2,
        "IMCLS": lambda: len(i) == 4 and i[0] == 1 and min(i[1], i[2]) >= 16 and i[3] in (1, 3) and len(o0) == 2
        and o0[0] == 1 and o0[1] >= 2,
    }
    return next((name for name in ORDER if checks[name]()), "UNDEFINED")


@dataclass
class Contract:
    size: int
    input_index: int
    output: dict
    n: int
    num_classes: int


def accept(interpreter) -> Contract:
    ins, outs = interpreter.get_input_details(), interpreter.get_output_details()
    algo = detect_algorithm([list(d["shape"]) for d in ins], [list(d["shape"]) for d in outs])
    if algo != "YOLO_V8":
        raise Rejected(f"auto-detect picks {algo}")
    size = int(ins[0]["shape"][1])
    o = outs[0]
    return Contract(size, ins[0]["index"], o, int(o["shape"][2]), int(o["shape"][1]) - 4)


def camera_to_input(img_bgr: np.ndarray, size: int) -> np.ndarray:
    """Nearest resize with float ratios, RGB, minus 128 with uint8 wrap-around read as int8: (1, S, S, 3)."""
    h, w = img_bgr.shape[:2]
    rows = (np.arange(size, dtype=np.float32) * np.float32(np.float32(h) / np.float32(size))).astype(np.int64)
    cols = (np.arange(size, dtype=np.float32) * np.float32(np.float32(w) / np.float32(size))).astype(np.int64)
    rgb = img_bgr[rows[:, None], cols[None, :], ::-1].astype(np.uint8)
    return (rgb - np.uint8(128)).view(np.int8)[None]


def decode(interpreter, c: Contract, frame_w: int, frame_h: int, score_thr: int = 50, iou_thr: int = 45) -> list:
    """[{x, y, w, h (frame pixels, x/y the centre, integers), score (percent, int), target}] in output order."""
    q = interpreter.get_tensor(c.output["index"]).reshape(-1).astype(np.int32)
    scale, zp = c.output["quantization"]
    rescale = scale < 0.1
    found = []
    for j in range(c.n):
        best, target = -128, 0
        for k in range(c.num_classes):
            v = q[j + (4 + k) * c.n]
            if best < v:
                best, target = v, k
        score = np.float32((best - zp) * np.float32(scale))
        if rescale:
            score = np.float32(score * np.float32(100))
        if not score > score_thr:
            continue
        box = [np.float32((q[j + k * c.n] - zp) * np.float32(scale)) for k in range(4)]
        if rescale:
            box = [np.float32(v * np.float32(c.size)) for v in box]
        box = [min(max(v, np.float32(0)), np.float32(c.size)) for v in box]
        fx, fy = np.float32(frame_w / c.size), np.float32(frame_h / c.size)
        x, y, w, h = (int(np.float32(v * f)) for v, f in zip(box, (fx, fy, fx, fy)))
        found.insert(0, dict(x=x, y=y, w=w, h=h, score=int(np.floor(score + 0.5)), target=target))
    return nms(found, iou_thr)


def nms(boxes: list, iou_thr: int) -> list:
    boxes = sorted(boxes, key=lambda b: -b["score"])  # stable, like forward_list::sort
    alive = [True] * len(boxes)
    for i, a in enumerate(boxes):
        if not alive[i]:
            continue
        for j in range(i + 1, len(boxes)):
            b = boxes[j]
            if not alive[j] or b["target"] != a["target"]:
                continue
            iw = max(0.0, min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"]))
            ih = max(0.0, min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"]))
            inter = iw * ih
            union = a["w"] * a["h"] + b["w"] * b["h"] - inter
            iou = inter / union if union else float("nan")
            if iou == iou and int(np.floor(iou * 100 + 0.5)) > iou_thr:
                alive[j] = False
    kept = [b for b, ok in zip(boxes, alive) if ok]
    return sorted(kept, key=lambda b: b["x"])


def detect(interpreter, c: Contract, img_bgr: np.ndarray, score_thr: int = 50, iou_thr: int = 45) -> list:
    interpreter.set_tensor(c.input_index, camera_to_input(img_bgr, c.size))
    interpreter.invoke()
    return decode(interpreter, c, img_bgr.shape[1], img_bgr.shape[0], score_thr, iou_thr)


def to_xyxy(dets: list, width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre boxes -> (xyxy clipped to the frame (K, 4), scores 0..1 (K,), labels (K,)), as a host draws them
    (the firmware clips centre and size, not the corners)."""
    if not dets:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    b = np.array([[d["x"], d["y"], d["w"], d["h"]] for d in dets], np.float32)
    xyxy = np.stack([b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2], 1)
    xyxy = np.clip(xyxy, 0, np.array([width, height, width, height], np.float32))
    return xyxy, np.array([d["score"] / 100 for d in dets], np.float32), np.array([d["target"] for d in dets])
