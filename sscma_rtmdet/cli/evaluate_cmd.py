"""The work behind tools/test.py: evaluate, then write what was asked (detections, drawings, plots)."""
from __future__ import annotations

import time
from pathlib import Path

import click

from ..utils.safety import check_writable, output_name, refuse_overwrite
from ..utils.text import printable


def run_test(config, model, data, cfg_options, *, split="val", runtime="litert", board=None, out_json=None,
             show_dir=None,
             show_score_thr=0.3, plots_dir=None, batch_size=None, threads=2, device="auto", progress=True,
             allow_arch_mismatch=False) -> dict:
    import torch

    from ..data.build import build_coco
    from ..engine.preflight import check_split
    from ..evaluation.coco_eval import detections_to_coco, save_detections_json
    from ..evaluation.evaluate import evaluate
    from ..runtime.deployment import class_change
    from ..targets import get_target
    from ..runtime.torch_model import resolve_model_path
    from ..utils.device import resolve_device
    from .common import run_config

    torch.set_num_threads(threads)
    path = resolve_model_path(model, config)
    cfg = run_config(config, cfg_options, path, data, log=click.echo)
    _refuse_missing_split(cfg, split)
    coco = build_coco(cfg, split)
    check_split(coco, split, log=lambda m: None, scoring=True)  # a split without boxes would score -1
    protected = _dataset_files(cfg, path)
    for option, out in (("--out", out_json), ("--show-dir", show_dir), ("--plots", plots_dir)):
        if out:
            refuse_overwrite(out, option, **protected)
            check_writable(Path(out).parent if option == "--out" else out, option)
    start = time.perf_counter()
    res = evaluate(cfg, path, coco, device=resolve_device(device), threads=threads, batch_size=batch_size,
                   progress=progress, log=click.echo, runtime=runtime, board=board,
                   allow_arch_mismatch=allow_arch_mismatch)
    wall = time.perf_counter() - start
    results, metas = res["results"], res["metas"]
    dep = res["deployment"]
    note = class_change(res["model_classes"], coco.classes)[1]  # another count or order was refused
    if note:
        click.echo(f"warning: {printable(path.name)}: {note}; scored by index", err=True)
    decode = get_target(dep.target).decode
    click.echo(f"{printable(path.name)}: {len(results)} images, {res['images_per_second']:.1f} images/s (model + "
               f"decode, batch {res['batch_size']}, {threads} threads{', TFLite Micro' if runtime == 'tflm' else ''}; "
               f"{len(results) / wall:.1f} end to end with loading and scoring); {dep.preprocess.resize} "
               f"{dep.imgsz[0]}x{dep.imgsz[1]}, {decode}, IoU {res['test_cfg']['iou_threshold']}")
    if runtime == "tflm":
        from ..runtime.tflm import arena_bytes
        click.echo(f"TFLite Micro tensor arena: {arena_bytes(path) / 1024:,.0f} KiB (reference kernels, x86-64 build)")
    if getattr(coco, "has_annotation_id_0", False):
        click.echo(f"note: {printable(coco.ann_path)} has an annotation with id 0 (Roboflow numbers from 0): it "
                   "is scored like any other here; pycocotools takes id 0 for 'unmatched' and reports a lower AP")
    if out_json:
        save_detections_json(detections_to_coco(results, metas, coco.label2cat), out_json)
        click.echo(f"detections saved to {out_json}")
    if show_dir:
        _draw_all(results, metas, coco, Path(show_dir), show_score_thr)
        click.echo(f"drawings saved to {show_dir}/")
    if plots_dir:
        from ..reports.evaluation_plots import write_evaluation_plots
        for p in write_evaluation_plots(res, coco, Path(plots_dir)):
            click.echo(f"plot: {p}")
    return res


def _refuse_missing_split(cfg, split: str) -> None:
    """--split test on a dataset whose test split is its val split (no test/ folder): say so, not score val."""
    from ..errors import UserError

    if split == "test" and (cfg.get("test_ann_file"), cfg.get("test_img_prefix")) == \
            (cfg.get("val_ann_file"), cfg.get("val_img_prefix")):
        raise UserError(f"--split test: the dataset {cfg.get('data_root')} has no test split (its test files are "
                        f"the val split's, {cfg.get('val_ann_file')}); use --split val, or add a test split (a "
                        "test/ folder, or --cfg-options test_ann_file=... test_img_prefix=...)")


def _dataset_files(cfg, model: Path) -> dict:
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
