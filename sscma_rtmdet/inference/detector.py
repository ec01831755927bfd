"""`Detector`: one object that runs a .pth, .onnx or .tflite model on images.

    det = Detector("work_dirs/x/epoch_50_int8.tflite")
    result = det("photo.jpg")          # or a BGR uint8 array
    result.boxes, result.scores, result.labels, result.names   # boxes in original-image pixels

Everything else (input size, colour order, mean/std, letterbox, class names) comes from the checkpoint
or the export's sidecar, so the deployed file is fed exactly as it was trained.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..data.preprocess import Preprocess
from ..errors import UserError
from ..evaluation.predictors import backend_predictor
from ..evaluation.runner import torch_predictor
from ..postprocess import decode_predictions, rescale_boxes
from ..runtime.backends import load_backend
from ..runtime.torch_model import model_from_checkpoint

DEFAULT_TEST_CFG = dict(score_thr=0.3, nms_pre=30000, iou_threshold=0.65, max_per_img=300)


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
                 score_thr: float = 0.3, iou_threshold: float = 0.65, max_per_img: int = 300,
                 config: str | os.PathLike | None = None):
        """`config`: only for a .pth written by an older version (config stored as text, never executed):
        the training config file to build its model from."""

        self.path = Path(model_path)
        self.test_cfg = dict(DEFAULT_TEST_CFG, score_thr=score_thr, iou_threshold=iou_threshold,
                             max_per_img=max_per_img)
        if self.path.suffix.lower() in (".pth", ".pt"):
            model, meta = model_from_checkpoint(self.path, device, config)
            self.preprocess = Preprocess.from_config(meta["preprocess"])
            self.imgsz = tuple(meta["imgsz"])
            self.classes = list(meta["classes"])
            self.strides = list(model.head.strides)
            self._predict = torch_predictor(model, self.preprocess, device)
        else:
            backend = load_backend(self.path, threads=threads)
            meta = backend.meta
            self.preprocess = Preprocess.from_config(dict(color=meta["color"], mean=meta["mean"], std=meta["std"],
                                                          pad_value=meta["letterbox"]["pad_value"]))
            self.imgsz = tuple(meta["input"]["hw"])
            self.classes = list(meta.get("class_names") or [str(i) for i in range(meta["num_classes"])])
            self.strides = list(meta["strides"])
            self._predict = backend_predictor(backend, self.preprocess)

    def __call__(self, image: np.ndarray | str | os.PathLike) -> Detections:
        """Detect objects in one image: a path or a BGR uint8 (h, w, 3) array."""

        img = _read(image) if not isinstance(image, np.ndarray) else image
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise UserError(f"expected a BGR uint8 image of shape (h, w, 3), got {img.dtype} {img.shape}")
        boxed, scale, pad = self.preprocess.letterbox(img, self.imgsz)
        inputs = torch.from_numpy(np.ascontiguousarray(boxed)).permute(2, 0, 1)[None]
        scores, boxes, logits = self._predict(inputs)
        det = decode_predictions(scores, boxes, self.strides, self.test_cfg, self.imgsz,
                                 scores_are_logits=logits)[0]
        out_boxes = rescale_boxes(det["boxes"], scale, pad, img.shape[:2])
        labels = np.asarray(det["labels"]).astype(np.int64)
        return Detections(np.asarray(out_boxes, np.float32), np.asarray(det["scores"], np.float32), labels,
                          [self.classes[i] for i in labels])


def _read(path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise UserError(f"cannot read image {path}")
    return img
