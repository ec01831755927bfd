"""tools/test.py: COCO evaluation of a .pth, .onnx or .tflite model, scored the way its runtime runs it."""
from __future__ import annotations

import click

from ..visualize import DISPLAY_SCORE_THR

from .common import (CONTEXT, arch_mismatch_option, cfg_options_option, config_and_model, data_option,
                     device_option, friendly_errors, progress_option, threads_option, verbose_option)


@click.command(context_settings=CONTEXT)
@click.argument("args", nargs=-1, required=True, metavar="[CONFIG] MODEL")
@data_option
@cfg_options_option
@click.option("--split", type=click.Choice(["val", "test"]), default="val", show_default=True,
              help="Which split of the dataset to evaluate on.")
@click.option("--runtime", type=click.Choice(["litert", "tflm"]), default="litert", show_default=True,
              help="For .tflite: LiteRT with XNNPACK (CPU), or TFLite Micro's kernels (what an MCU runs).")
@click.option("--board", default=None, metavar="NAME",
              help="Score as this board's firmware decodes (export/boards.py: grove_vision_ai_v2 is the stock "
                   "firmware's YOLO_V8 decode): for a .pth, or a file made for it [default: the model's own].")
@click.option("--out", "out_json", type=click.Path(dir_okay=False), help="Save detections as COCO json.")
@click.option("--show-dir", type=click.Path(file_okay=False), help="Draw predictions on the images here.")
@click.option("--show-score-thr", type=float, default=DISPLAY_SCORE_THR, show_default=True,
              help="Score to draw a box.")
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False),
              help="Write PR curves, a confusion matrix, per-class AP bars and a prediction grid here.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Eval batch size [default: val_batch_size].")
@threads_option
@device_option
@progress_option
@verbose_option
@arch_mismatch_option
@friendly_errors
def main(args, data, cfg_options, split, runtime, board, out_json, show_dir, show_score_thr, plots_dir, batch_size,
         threads, device, no_progress, allow_arch_mismatch):
    """Evaluate MODEL (.pth checkpoint, .onnx or .tflite export) with COCO bbox metrics.

    \b
    The model file says how it is fed and read (input size, letterbox or stretch, colour order, decode);
    CONFIG and --cfg-options are optional and must agree with it. The dataset is --data ROOT, else the one
    named by CONFIG / --cfg-options, else the one the model was trained on.
      python tools/test.py work_dirs/x/epoch_50_int8.tflite --data datasets/mask
      python tools/test.py configs/rtmdet_nano_8xb32_300e_coco.py work_dirs/epoch_50_int8.tflite --cfg-options ...
    Prints the COCO summary (pycocotools' 12 lines), `bbox_mAP_copypaste`, a per-class table and images/s.
    """
    from ..config.options import parse_cfg_options
    from ..workflows.test import TestRequest, run_test

    config, model = config_and_model(args)
    return run_test(TestRequest(
        model, config, data, parse_cfg_options(list(cfg_options)), split=split, runtime=runtime, board=board,
        out_json=out_json, show_dir=show_dir, show_score_thr=show_score_thr, plots_dir=plots_dir,
        batch_size=batch_size, threads=threads, device=device, progress=not no_progress,
        allow_arch_mismatch=allow_arch_mismatch, log=click.echo, warn=lambda m: click.echo(f"warning: {m}", err=True)))


if __name__ == "__main__":
    from .common import run_cli
    run_cli(main)
