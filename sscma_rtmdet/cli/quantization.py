"""tools/quantization.py: quantization-aware training of a trained checkpoint, then int8 TFLite export."""
from __future__ import annotations

from pathlib import Path

import click

from ..quant import DEFAULT_SCHEDULE, STATES
from .common import (arch_mismatch_option, cfg_options_option, device_option, friendly_errors, progress_option,
                     seed_option, work_dir_option)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("config", type=click.Path(dir_okay=False))
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@cfg_options_option
@click.option("--qat-schedule", type=click.Path(dir_okay=False), default=str(DEFAULT_SCHEDULE),
              show_default=True, help="Config whose QAT settings are merged into CONFIG.")
@work_dir_option(help="QAT checkpoints/logs and a copy of the export [default: work_dirs/<config name>/qat].")
@click.option("--out-dir", type=click.Path(file_okay=False), default="out", show_default=True,
              help="Where qat_model_test.tflite (+ .json sidecar) is written, relative to the cwd.")
@click.option("--calib-images", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder of calibration images (recursive), as tools/export.py takes [default: the training "
                   "images].")
@click.option("--calib-num", type=click.IntRange(min=1), default=None,
              help="Training images QAT starts from and the converter calibrates on (the PTQ set) "
                   "[default: qat.calib_images, else tools/export.py's --calib-num default].")
@device_option
@seed_option()
@click.option("--export", "export_which", type=click.Choice(STATES), default="best", show_default=True,
              help="Which QAT state becomes qat_model_test.tflite. best: export the PTQ start and the best "
                   "fine-tuned epoch, score both files on the val split, keep the higher (ties: fine-tuned; "
                   "with --no-eval: the higher fake-quant validation). start: the PTQ start (epoch 0). "
                   "tuned: the best-validated fine-tuned epoch. last: the final epoch.")
@click.option("--rounding-trials", type=click.IntRange(min=0), default=4, show_default=True,
              help="After export, also score the fake-quant model with its ranges jittered by 1e-4 this many "
                   "times: the AP spread of int8 rounding alone, to judge the file-vs-fake-quant gap.")
@click.option("--no-eval", is_flag=True, help="Skip evaluating the exported .tflite on the val split.")
@progress_option
@arch_mismatch_option
@friendly_errors
def main(config, checkpoint, cfg_options, qat_schedule, work_dir, out_dir, calib_images, calib_num, device, seed,
         export_which, rounding_trials, no_eval, no_progress, allow_arch_mismatch):
    """Fine-tune CHECKPOINT (trained with CONFIG) with int8 fake quantization, export qat_model_test.tflite.

    \b
    The QAT settings come from --qat-schedule (default: the _relu_q config) and are merged into CONFIG:
    max_epochs, base_lr, warmup_iters, val_interval, save_interval and the `qat` dict
    (observer_epochs, freeze_bn_epoch, calib_images, ptq_start), plus stage2_epoch=0 (no mosaic/mixup).
    Any of them given in --cfg-options wins (e.g. max_epochs=50 base_lr=1e-5 qat.freeze_bn_epoch=3).
    Fake quantization follows TFLite int8: per-channel symmetric weights with BN folded, per-tensor
    asymmetric activations where TFLite quantizes. QAT starts from the PTQ model (every range the int8
    graph shows set to what the exporter measures on the calibration images), validates it (epoch 0), then
    fine-tunes: observers average for observer_epochs, then freeze; BN statistics freeze at freeze_bn_epoch.
    The export writes the learned ranges into the converter, so the .tflite uses QAT's quantization
    parameters; by default the PTQ start and the best fine-tuned epoch are both exported and scored as
    files, and the better file is kept (QAT never ships a file worse than its start on the val split).

    \b
    Example (the SSCMA tutorial):
      python tools/quantization.py configs/rtmdet_nano_8xb32_300e_coco.py work_dirs/epoch_50.pth \\
        --cfg-options data_root=datasets/mask/ num_classes=2 train_ann_file=train/_annotations.coco.json \\
        val_ann_file=valid/_annotations.coco.json train_img_prefix=train/ val_img_prefix=valid/ \\
        imgsz='(192,192)' max_epochs=50
    """
    from ..config.options import parse_cfg_options
    from ..workflows.quantize import QuantizeRequest, quantize

    quantize(QuantizeRequest(
        config, checkpoint, parse_cfg_options(list(cfg_options)), schedule=qat_schedule,
        work_dir=Path(work_dir) if work_dir else None, out_dir=Path(out_dir),
        calib_images=Path(calib_images) if calib_images else None, calib_num=calib_num, device=device, seed=seed,
        export=export_which, rounding_trials=rounding_trials, evaluate=not no_eval, progress=not no_progress,
        allow_arch_mismatch=allow_arch_mismatch, log=click.echo, warn=lambda m: click.echo(f"warning: {m}", err=True)))


if __name__ == "__main__":
    from .common import run_cli
    run_cli(main)
