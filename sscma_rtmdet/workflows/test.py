"""The work behind tools/test.py: evaluate, then write what was asked (detections, drawings, plots)."""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..visualize import DISPLAY_SCORE_THR
from ..utils.safety import check_writable, output_name, refuse_overwrite
from ..utils.text import printable


@dataclass
class TestRequest:
    """tools/test.py's arguments: MODEL (+ optional CONFIG, typed `options`, dataset `data`) and what to write."""
    model: str | Path
    config: str | Path | None = None
    data: str | Path | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    split: str = "val"
    runtime: str = "litert"
    board: str | None = None
    out_json: str | Path | None = None
    show_dir: str | Path | None = None
    show_score_thr: float = DISPLAY_SCORE_THR
    plots_dir: str | Path | None = None
    batch_size: int | None = None
    threads: int = 2
    device: str = "auto"
    progress: bool = True
    allow_arch_mismatch: bool = False
    log: Callable[[str], None] = print
    warn: Callable[[str], None] = print


def run_test(req: TestRequest) -> dict:
    """Evaluate req.model on its split (evaluation.evaluate), say how it was fed and scored, write the
    detections / drawings / plots asked for. Returns evaluate()'s result."""
    import torch

    from ..data.build import build_coco
    from ..engine.preflight import check_split
    from ..evaluation.evaluate import evaluate
    from ..runtime.torch_model import resolve_model_path
    from ..utils.device import resolve_device
    from .settings import resolve_settings

    torch.set_num_threads(req.threads)
    path = resolve_model_path(req.model, req.config)
    cfg = resolve_settings(req.config, req.options, path, req.data, log=req.log)
    _refuse_missing_split(cfg, req.split)
    coco = build_coco(cfg, req.split)
    check_split(coco, req.split, log=lambda m: None, scoring=True)  # a split without boxes would score -1
    protected = dataset_files(cfg, path)
    for option, out in (("--out", req.out_json), ("--show-dir", req.show_dir), ("--plots", req.plots_dir)):
        if out:
            refuse_overwrite(out, option, **protected)
            check_writable(Path(out).parent if option == "--out" else out, option)
    start = time.perf_counter()
    res = evaluate(cfg, path, coco, device=resolve_device(req.device), threads=req.threads,
                   batch_size=req.batch_size, progress=req.progress, log=req.log, runtime=req.runtime,
                   board=req.board, allow_arch_mismatch=req.allow_arch_mismatch)
    _say_how(req, path, coco, res, time.perf_counter() - start)
    _write_outputs(req, coco, res)
    return res


def _say_how(req: TestRequest, path: Path, coco, res: dict, wall: float) -> None:
    """Speed, resize, decode and notes on the scoring, one line each."""
    from ..runtime.deployment import class_change
    from ..targets import get_target

    dep, n = res["deployment"], len(res["results"])
    note = class_change(res["model_classes"], coco.classes)[1]  # another count or order was refused
    if note:
        req.warn(f"{printable(path.name)}: {note}; scored by index")
    tflm = req.runtime == "tflm"
    req.log(f"{printable(path.name)}: {n} images, {res['images_per_second']:.1f} images/s (model + decode, batch "
            f"{res['batch_size']}, {req.threads} threads{', TFLite Micro' if tflm else ''}; {n / wall:.1f} end to "
            f"end with loading and scoring); {dep.preprocess.resize} {dep.imgsz[0]}x{dep.imgsz[1]}, "
            f"{get_target(dep.target).decode}, IoU {res['test_cfg']['iou_threshold']}")
    if tflm:
        from ..runtime.tflm import arena_bytes
        req.log(f"TFLite Micro tensor arena: {arena_bytes(path) / 1024:,.0f} KiB (reference kernels, x86-64 build)")
    if getattr(coco, "has_annotation_id_0", False):
        req.log(f"note: {printable(coco.ann_path)} has an annotation with id 0 (Roboflow numbers from 0): it is "
                "scored like any other here; pycocotools takes id 0 for 'unmatched' and reports a lower AP")


def _write_outputs(req: TestRequest, coco, res: dict) -> None:
    from ..evaluation.coco_eval import detections_to_coco, save_detections_json

    results, metas = res["results"], res["metas"]
    if req.out_json:
        save_detections_json(detections_to_coco(results, metas, coco.label2cat), req.out_json)
        req.log(f"detections saved to {req.out_json}")
    if req.show_dir:
        _draw_all(results, metas, coco, Path(req.show_dir), req.show_score_thr)
        req.log(f"drawings saved to {req.show_dir}/")
    if req.plots_dir:
        from ..reports.evaluation_plots import write_evaluation_plots
        for p in write_evaluation_plots(res, coco, Path(req.plots_dir)):
            req.log(f"plot: {p}")


def _refuse_missing_split(cfg, split: str) -> None:
    """--split test on a dataset whose test split is its val split (no test/ folder): say so, not score val."""
    from ..errors import UserError

    if split == "test" and (cfg.get("test_ann_file"), cfg.get("test_img_prefix")) == \
            (cfg.get("val_ann_file"), cfg.get("val_img_prefix")):
        raise UserError(f"--split test: the dataset {cfg.get('data_root')} has no test split (its test files are "
                        f"the val split's, {cfg.get('val_ann_file')}); use --split val, or add a test split (a "
                        "test/ folder, or --cfg-options test_ann_file=... test_img_prefix=...)")


def dataset_files(cfg, model: Path) -> dict:
    """What no output may overwrite: the model, every split's annotation file and image folder."""
    from ..data.build import SPLITS, dataset_paths
    from ..errors import ConfigError

    inputs, folders = [model], []
    for split in SPLITS:
        try:
            root, ann, prefix = dataset_paths(cfg, split)
        except ConfigError:  # a config without that split
            continue
        inputs.append(Path(root) / ann)
        folders.append(Path(root) / prefix)
    return dict(inputs=inputs, folders=folders)


def _draw_all(results, metas, coco, out_dir: Path, score_thr: float) -> None:
    import cv2

    from ..errors import UserError
    from ..utils.fileio import atomic_write
    from ..visualize import draw_detections

    by_id = {img_id: i for i, img_id in enumerate(coco.img_ids)}
    img_dir = Path(coco.img_dir)
    for res, meta in zip(results, metas):
        i = by_id[meta["img_id"]]
        drawn = draw_detections(coco.load_image(i), res["boxes"], res["scores"], res["labels"], list(coco.classes),
                                score_thr)
        target = out_dir / output_name(Path(coco.image_path(i)), img_dir)
        with atomic_write(target) as tmp:
            if not cv2.imwrite(str(tmp), drawn):
                raise UserError(f"could not write {target} (cv2.imwrite failed)")
