"""Data: COCO/Roboflow datasets, the preprocessing definition, augmentations and batching.

Names are exported lazily so `from sscma_rtmdet.data.preprocess import letterbox` stays light (no torch).
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "Preprocess": "preprocess", "letterbox": "preprocess", "normalize": "preprocess",
    "CocoDetection": "coco",
    "build_pipeline": "pipeline", "Compose": "pipeline",
    "CachedMosaic": "mix", "CachedMixUp": "mix",
    "TrainDataset": "loader", "EvalDataset": "loader", "collate": "loader",
    "build_dataloader": "loader", "set_loader_epoch": "loader", "benchmark_pipeline": "loader",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
