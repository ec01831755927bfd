"""tools/infer.py: run a .pth/.onnx/.tflite model on an image, a folder of images or a video."""
from __future__ import annotations

import click

from ..visualize import DISPLAY_SCORE_THR
from .common import CONTEXT, device_option, friendly_errors, progress_option, threads_option

@click.command(context_settings=CONTEXT)
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.argument("source", type=click.Path(exists=True))
@click.option("--out-dir", type=click.Path(file_okay=False), required=True, help="Where drawn results go.")
@click.option("--score-thr", type=click.FloatRange(0, 1), default=DISPLAY_SCORE_THR, show_default=True)
@click.option("--iou-thr", type=click.FloatRange(0, 1), default=None,
              help="NMS IoU [default: the model's own: 0.45 for SSCMA-Micro files, as the firmware].")
@click.option("--runtime", type=click.Choice(["litert", "tflm"]), default="litert", show_default=True,
              help="For .tflite: LiteRT with XNNPACK, or TFLite Micro's kernels (what an MCU runs).")
@device_option
@threads_option
@progress_option
@click.option("--config", type=click.Path(exists=True, dir_okay=False),
              help="Only for a .pth written by an older version (config stored as text, which is never "
                   "executed): the training config to build its model from.")
@friendly_errors
def main(model, source, out_dir, score_thr, iou_thr, runtime, device, threads, no_progress, config):
    """Detect objects with MODEL in SOURCE (image, folder of images, or video) and save drawings.

    Input size, resize, colour order, normalisation, decode and class names come from the checkpoint or
    the export's .json sidecar. Prints one line per image: file, count and the detections. Drawings keep
    the source's relative path and name (x.bmp -> x.bmp.jpg), and never go into the source folder.
    """
    from ..workflows.infer import InferRequest, infer

    infer(InferRequest(model, source, out_dir, score_thr, iou_thr, runtime, device, threads, not no_progress, config,
                       log=click.echo, warn=lambda m: click.echo(m, err=True)))

if __name__ == "__main__":
    from .common import run_cli
    run_cli(main)
