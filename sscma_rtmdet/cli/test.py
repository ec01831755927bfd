"""tools/test.py: COCO evaluation of a .pth, .onnx or .tflite model on the config's val (or test) split."""
from __future__ import annotations

import click

from .common import cfg_options_option, friendly_errors


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("config", type=click.Path(dir_okay=False))
@click.argument("model", type=click.Path(dir_okay=False))
@cfg_options_option
@click.option("--split", type=click.Choice(["val", "test"]), default="val", show_default=True,
              help="Which dataloader of the config to evaluate on.")
@click.option("--out", "out_json", type=click.Path(dir_okay=False), help="Save detections as COCO json.")
@click.option("--show-dir", type=click.Path(file_okay=False), help="Draw predictions on the images here.")
@click.option("--show-score-thr", type=float, default=0.3, show_default=True, help="Score to draw a box.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Eval batch size [default: val_batch_size].")
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True,
              help="CPU threads for ONNX Runtime / LiteRT / torch.")
@click.option("--device", default="cpu", show_default=True, help="torch device for .pth models.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--allow-arch-mismatch", is_flag=True,
              help="Use a checkpoint trained with another architecture (activation, widths, head options) "
                   "than the config's; the default refuses it.")
@friendly_errors
def main(config, model, cfg_options, split, out_json, show_dir, show_score_thr, batch_size, threads, device,
         no_progress, allow_arch_mismatch):
    """Evaluate MODEL (.pth checkpoint, .onnx or .tflite export) with COCO bbox metrics.

    One path for every format: letterbox exactly as in training -> model -> decode -> NMS (test_cfg) -> COCO.
    Prints pycocotools' summary, `bbox_mAP_copypaste`, a per-class table and images/s.
    """
    from pathlib import Path

    import torch

    from ..config import load_config
    from ..evaluation.coco_eval import detections_to_coco, save_detections_json
    from ..evaluation.evaluate import evaluate
    from ..runtime.torch_model import resolve_model_path

    torch.set_num_threads(threads)
    cfg = load_config(config, list(cfg_options))
    path = resolve_model_path(model, config)
    res = evaluate(cfg, path, split, device=device, threads=threads, batch_size=batch_size,
                   progress=not no_progress, log=click.echo, allow_arch_mismatch=allow_arch_mismatch)
    results, metas, coco, classes = res["results"], res["metas"], res["coco"], res["model_classes"]
    if classes and list(classes) != list(coco.classes):
        click.echo(f"warning: {path.name} was trained on classes {list(classes)}, the dataset has "
                   f"{list(coco.classes)}", err=True)
    click.echo(f"{path.name}: {len(results)} images, {res['images_per_second']:.1f} images/s (model + decode, "
               f"batch {res['batch_size']}, {threads} threads)")
    if out_json:
        save_detections_json(detections_to_coco(results, metas, coco.label2cat), out_json)
        click.echo(f"detections saved to {out_json}")
    if show_dir:
        _draw_all(results, metas, coco, Path(show_dir), show_score_thr)
        click.echo(f"drawings saved to {show_dir}/")
    return res


def _draw_all(results, metas, coco, out_dir, score_thr) -> None:
    from pathlib import Path

    import cv2

    from ..utils.fileio import atomic_write
    from ..visualize import draw_detections

    out_dir.mkdir(parents=True, exist_ok=True)
    by_id = {img_id: i for i, img_id in enumerate(coco.img_ids)}
    for res, meta in zip(results, metas):
        i = by_id[int(meta["img_id"])]
        img = coco.load_image(i)
        drawn = draw_detections(img, res["boxes"], res["scores"], res["labels"], list(coco.classes), score_thr)
        target = out_dir / (Path(coco.image_path(i)).stem + ".jpg")
        with atomic_write(target) as tmp:
            cv2.imwrite(str(tmp), drawn)
