"""`evaluate(cfg, model_or_file, split)`: the one scoring call behind tools/test.py, the trainer's
validation, the demo's table and QAT's state choice, so all four score a model the same way."""
from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from ..config import Config
from ..data.build import build_coco, build_eval_loader, imgsz_of
from ..data.preprocess import Preprocess
from .predictors import build_predictor
from .runner import evaluate_predictions, predict_dataset, torch_predictor


def evaluate(cfg: Config, model: nn.Module | str | os.PathLike, split="val", *, device: str = "cpu",
             threads: int = 1, batch_size: int | None = None, num_workers: int | None = None,
             progress: bool = True, desc: str | None = None, log=None, classwise: bool = True,
             allow_arch_mismatch: bool = False) -> dict:
    """COCO bbox metrics of `model` on a split of the config's dataset.

    model: an nn.Module taking normalised input (scored with `cfg.preprocess` and its head's strides), or a
        .pth/.onnx/.tflite file (checked against the config: input size, classes, preprocessing).
    split: 'train', 'val' or 'test', or an already built `CocoDetection`.
    log: where pycocotools' summary and the per-class table go (None: nowhere).
    Returns evaluate_coco's dict (`metrics`, `stats`, `per_class`) plus `results`/`metas` (per image, boxes in
    original pixels), `images_per_second` (model + decode), `model_classes` (a file's own class names or
    None), `coco`, `batch_size`, and the `loader` and `predictor` used (e.g. to time one batch).
    """
    coco = build_coco(cfg, split) if isinstance(split, str) else split
    preprocess = Preprocess.from_config(cfg.preprocess)
    if isinstance(model, nn.Module):
        predictor, strides, classes = torch_predictor(model, preprocess, device), list(model.head.strides), None
        desc = desc or "eval"
    else:
        path = Path(model)
        predictor, strides, classes = build_predictor(cfg, path, imgsz_of(cfg), preprocess, device, threads,
                                                      allow_arch_mismatch)
        desc = desc or path.name
    loader = build_eval_loader(cfg, coco, batch_size, num_workers)
    results, metas, ips = predict_dataset(predictor, loader, strides, cfg.test_cfg, progress=progress, desc=desc)
    res = evaluate_predictions(results, metas, coco, log=log, classwise=classwise)
    return dict(res, results=results, metas=metas, images_per_second=ips, model_classes=classes, coco=coco,
                batch_size=loader.batch_size, loader=loader, predictor=predictor)
