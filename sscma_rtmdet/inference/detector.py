"""`Detector`: one object that runs a .pth, .onnx or .tflite model on images.

    det = Detector("work_dirs/x/epoch_50_int8.tflite")
    result = det("photo.jpg")          # or a BGR uint8 array
    result.boxes, result.scores, result.labels, result.names   # boxes in original-image pixels

Everything else (input size, resize, colour order, mean/std, class names, decode settings) comes from the
model file's deployment record, so the deployed file is fed and read exactly as its runtime does.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..data.checks import read_image
from ..errors import UserError
from ..evaluation.predictors import build_predictor
from ..evaluation.runner import decode_batch
from ..runtime.torch_model import config_for_old_checkpoint

from ..visualize import DISPLAY_SCORE_THR  # noqa: F401 (the API reads it from here too)


@dataclass
class Detections:
    boxes: np.ndarray   # (K, 4) xyxy, original-image pixels
    scores: np.ndarray  # (K,)
    labels: np.ndarray  # (K,) contiguous class index
    names: list[str]    # (K,) class names

    def __len__(self) -> int:
        return len(self.scores)


class Detector:
    def __init__(self, model_path: str | os.PathLike, device: str = "cpu", threads: int = 2,
                 score_thr: float = DISPLAY_SCORE_THR, iou_threshold: float | None = None,
                 max_per_img: int | None = 300, config: str | os.PathLike | None = None, runtime: str = "litert"):
        """`iou_threshold` None keeps the model's own NMS setting (0.45 for SSCMA-Micro files, as the
        firmware). `config`: only for a .pth written by an older version (config stored as text, never
        executed): the training config file to build its model from. `runtime`: 'litert' or 'tflm'."""
        self.path = Path(model_path)
        if not self.path.is_file():
            raise UserError(f"model file {self.path} not found")
        cfg = config_for_old_checkpoint(self.path, config) if config is not None else None
        self._predict, self.deployment = build_predictor(self.path, device, threads, runtime, cfg=cfg)
        dep = self.deployment
        self.preprocess, self.imgsz, self.strides = dep.preprocess, tuple(dep.imgsz), list(dep.strides)
        self.classes = list(dep.classes)
        self.test_cfg = dict(dep.test_cfg, score_thr=score_thr, max_per_img=max_per_img)
        if iou_threshold is not None:
            self.test_cfg["iou_threshold"] = iou_threshold

    def __call__(self, image: np.ndarray | str | os.PathLike) -> Detections:
        """Detect objects in one image: a path or a BGR uint8 (h, w, 3) array."""
        img = _read(image) if not isinstance(image, np.ndarray) else image
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise UserError(f"expected a BGR uint8 image of shape (h, w, 3), got {img.dtype} {img.shape}")
        if 0 in img.shape[:2]:  # the resize would divide by zero further down
            raise UserError(f"got an empty image of shape {img.shape}: a BGR uint8 image needs h and w >= 1")
        prepared, g = self.preprocess.prepare(img, self.imgsz)
        inputs = torch.from_numpy(np.ascontiguousarray(prepared)).permute(2, 0, 1)[None]
        meta = dict(scale=g.scale, pad=g.pad, ori_hw=img.shape[:2])
        det = decode_batch(self._predict(inputs), [meta], self.strides, self.test_cfg, self.imgsz)[0]
        labels = np.asarray(det["labels"]).astype(np.int64)
        return Detections(np.asarray(det["boxes"], np.float32), np.asarray(det["scores"], np.float32), labels,
                          [self.classes[i] for i in labels])


def _read(path) -> np.ndarray:
    img = read_image(str(path))  # the reader of training and evaluation (EXIF orientation, pixel limit)
    if img is None:
        raise UserError(f"cannot read image {path}")
    return img
