"""Helpers for export tests (fixtures are in conftest.py): synthetic photos, a BN-calibrated stand-in and a relu nano RTMDet, and a
session cache of exports so the (seconds-long) TFLite conversions run once per model and size."""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import torch

from standin import StandIn, init_well_conditioned

PRE = dict(color="bgr", mean=[103.53, 116.28, 123.675], std=[57.375, 57.12, 58.395], pad_value=114)
CENTRED = dict(PRE, mean=[128.0, 128.0, 128.0])  # the device configs' (folds into the first conv exactly)
NANO_RELU = dict(
    backbone=dict(type="CSPNeXt", arch="P5", deepen_factor=0.33, widen_factor=0.25, expand_ratio=0.5,
                  channel_attention=True, act="relu", split_pool=True),
    neck=dict(type="CSPNeXtPAFPN", out_channels=64, num_csp_blocks=1, expand_ratio=0.5, act="relu"),
    head=dict(type="RTMDetSepBNHead", num_classes=5, feat_channels=64, stacked_convs=2, share_conv=False,
              exp_on_reg=False, act="relu", strides=(8, 16, 32)))
SIZES = [(320, 240), (200, 410), (256, 256), (480, 300), (150, 150), (333, 500), (240, 320), (400, 260)]


def _photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth gradient background with a few filled shapes: image-like statistics, not white noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([xx / w * 200, yy / h * 200, (xx + yy) / (w + h) * 255], -1)
    img = (base + rng.normal(0, 8, (h, w, 3))).clip(0, 255).astype(np.uint8)
    for _ in range(4):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
        x1, y1 = x0 + int(rng.integers(10, w // 2)), y0 + int(rng.integers(10, h // 2))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x0, y0), (x1, y1), color, -1)
        else:
            cv2.circle(img, (x0, y0), int(rng.integers(5, min(h, w) // 3)), color, -1)
    return img


def dep(model, imgsz, classes=None, target="generic", layout=None, preprocess=None):
    """The Deployment of a bare test model (runtime.deployment.Deployment.for_model) with PRE, or for a
    firmware target the device configs' CENTRED."""
    from sscma_rtmdet.runtime.deployment import Deployment

    pre = preprocess or (CENTRED if target.startswith("sscma") else PRE)
    return Deployment.for_model(model, pre, imgsz, classes, target=target, layout=layout)


def normalise(batch_nhwc: np.ndarray) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(batch_nhwc, dtype=np.float32)).permute(0, 3, 1, 2)
    return (x - torch.tensor(PRE["mean"]).view(1, 3, 1, 1)) / torch.tensor(PRE["std"]).view(1, 3, 1, 1)


def make_model(kind: str) -> torch.nn.Module:
    """'standin' (3 classes) or 'nano' (relu nano, 5 classes) with well-conditioned random weights."""
    torch.manual_seed(0)
    if kind == "standin":
        model = StandIn(num_classes=3)
    else:
        from sscma_rtmdet.models.builder import build_model
        model = build_model(NANO_RELU)
    return init_well_conditioned(model)


class ExportCache:
    """Export (model kind, imgsz) once per session: torch model, calibration array, onnx + tflite paths."""

    def __init__(self, root: Path, image_dir: Path):
        self.root, self.image_dir, self.items, self.times = root, image_dir, {}, {}

    def get(self, kind: str, imgsz: tuple[int, int], target: str = "generic") -> dict:
        key = (kind, tuple(imgsz), target)
        if key not in self.items:
            self.items[key] = self._export(kind, imgsz, target)
        return self.items[key]

    def _export(self, kind, imgsz, target):
        from sscma_rtmdet.export.calibration import calibration_images, find_images
        from sscma_rtmdet.export.onnx_export import export_onnx
        from sscma_rtmdet.export.tflite_export import export_tflite

        model = make_model(kind)
        d = dep(model, imgsz, target=target)
        calib = calibration_images(find_images(self.image_dir), imgsz, d.preprocess, n=8, input_color=d.input_color,
                                   cache_dir=None)
        stem = self.root / f"{kind}_{imgsz[0]}x{imgsz[1]}_{target}"
        t0 = time.perf_counter()
        onnx_path = stem.with_suffix(".onnx")
        export_onnx(model, d, onnx_path)
        t1 = time.perf_counter()
        tfl = export_tflite(onnx_path, stem, calib=calib)
        t2 = time.perf_counter()
        self.times[key := f"{kind} {imgsz}"] = {"onnx_s": round(t1 - t0, 2), "tflite_3fmt_s": round(t2 - t1, 2)}
        print(f"\nexport times {key}: {self.times[key]}")
        return {"model": model, "calib": calib, "onnx": onnx_path, "dep": d, **tfl}
