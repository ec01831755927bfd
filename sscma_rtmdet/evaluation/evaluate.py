"""`evaluate(cfg, model_or_file, split)`: the one scoring call behind tools/test.py, the trainer's
validation, the demo's table and QAT's state choice, so all four score a model the same way."""
from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from ..config import Config
from ..config.typed import typed_test_cfg
from ..data.build import build_coco, build_eval_loader
from ..runtime.deployment import Deployment, check_options
from .predictors import build_predictor
from .runner import evaluate_predictions, predict_dataset, torch_predictor


def evaluate(cfg: Config, model: nn.Module | str | os.PathLike, split="val", *, device: str = "cpu",
             threads: int = 1, batch_size: int | None = None, num_workers: int | None = None,
             progress: bool = True, desc: str | None = None, log=None, classwise: bool = True,
             allow_arch_mismatch: bool = False, runtime: str = "litert",
             deployment: Deployment | None = None, board: str | None = None) -> dict:
    """COCO bbox metrics of `model` on a split of the config's dataset.

    model: an nn.Module taking normalised input (scored with the config's deployment, or `deployment`), or
        a .pth/.onnx/.tflite file, scored with its own deployment record (input size, preprocessing, decode);
        values the user typed (config.typed) must agree with it.
    split: 'train', 'val' or 'test', or an already built `CocoDetection`.
    runtime: for .tflite files, 'litert' (XNNPACK) or 'tflm' (TFLite Micro's kernels, as on an MCU).
    log: where pycocotools' summary and the per-class table go (None: nowhere).
    board: score as that board's firmware decodes (export.boards): a .pth re-targeted within its family, a
        file only when it was made for that firmware.
    Returns evaluate_coco's dict (`metrics`, `stats`, `per_class`) plus `results`/`metas` (per image, boxes in
    original pixels), `images_per_second` (model + decode), `model_classes`, `deployment`, `coco`,
    `batch_size`, and the `loader` and `predictor` used (e.g. to time one batch).
    """
    coco = build_coco(cfg, split) if isinstance(split, str) else split
    if isinstance(model, nn.Module):
        dep = deployment or Deployment.from_config(cfg, coco.classes)
        predictor, desc = torch_predictor(model, dep.preprocess, device), desc or "eval"
    else:
        path = Path(model)
        arch_cfg = cfg if path.suffix.lower() in (".pth", ".pt") and cfg.filename else None
        predictor, dep = build_predictor(path, device, threads, runtime, arch_cfg, allow_arch_mismatch)
        check_options(dep, path, cfg, coco.classes)
        dep = for_board(dep, path, board)
        desc = desc or path.name
    test_cfg = {**dep.test_cfg, **typed_test_cfg(cfg)}
    loader = build_eval_loader(coco, dep.imgsz, dep.preprocess, batch_size or cfg.get("val_batch_size", 8),
                               cfg.get("num_workers", 2) if num_workers is None else num_workers)
    results, metas, ips = predict_dataset(predictor, loader, dep.strides, test_cfg, progress=progress, desc=desc)
    res = evaluate_predictions(results, metas, coco, log=log, classwise=classwise)
    return dict(res, results=results, metas=metas, images_per_second=ips, model_classes=list(dep.classes),
                deployment=dep, test_cfg=test_cfg, coco=coco, batch_size=loader.batch_size, loader=loader,
                predictor=predictor)


def for_board(dep: Deployment, path: Path, board: str | None) -> Deployment:
    """The deployment as `board`'s firmware runs it: a checkpoint takes that firmware's decode (same family);
    an exported file must have been made for it (its layout is fixed)."""
    if board is None:
        return dep
    from ..errors import CheckpointError
    from ..targets import get_board

    b = get_board(board)
    if path.suffix.lower() in (".pth", ".pt"):
        return dep.for_target(b.target)
    if dep.target != b.target:
        raise CheckpointError(f"--board {board}: {path.name} was made for target {dep.target}, not {b.target} "
                              f"({b.firmware}); export the checkpoint with --board {board}")
    return dep
