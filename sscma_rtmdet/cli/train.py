"""tools/train.py: train an RTMDet detector from a config."""
from __future__ import annotations

import click

from .common import (CONTEXT, arch_mismatch_option, cfg_options_option, data_option, device_option,
                     friendly_errors, imgsz_option, progress_option, seed_option, train_threads_option,
                     work_dir_option)


@click.command(context_settings=CONTEXT)
@click.argument("config", type=click.Path(dir_okay=False))
@data_option
@cfg_options_option
@click.option("--epochs", type=click.IntRange(min=1), help="Epochs (max_epochs) [default: the config's].")
@imgsz_option(help="Square input size S x S, a multiple of 32 (imgsz).", square=True)
@click.option("--batch", type=click.IntRange(min=1), help="Images per step, all GPUs together (batch_size).")
@work_dir_option(help="Where checkpoints, logs and the resolved config go [default: work_dirs/<config name>].")
@click.option("--resume", "resume", is_flag=False, flag_value="auto", default=None, metavar="[CKPT]",
              help="Continue a run exactly: give a checkpoint, or no value to take the latest in the work dir.")
@click.option("--exist-ok", is_flag=True, help="Train into a work dir that holds another run (its files are "
              "replaced); without it such a work dir is refused.")
@click.option("--save-resume-state", is_flag=True,
              help="Keep the optimizer/EMA/RNG state in every epoch_N.pth (4x larger); by default only last.pth "
                   "and the final epoch_N.pth can be resumed from.")
@seed_option()
@device_option
@train_threads_option
@click.option("--no-amp", is_flag=True, help="Train in float32: no float16 autocast on CUDA, no bfloat16 on a CPU with "
              "AMX/AVX512-BF16 (both on by default; config name precision).")
@progress_option
@arch_mismatch_option
@friendly_errors
def main(config, data, cfg_options, epochs, imgsz, batch, work_dir, resume, exist_ok, save_resume_state, seed, device,
         threads, no_amp, no_progress, allow_arch_mismatch):
    """Train CONFIG on a dataset (--data ROOT, or the paths in --cfg-options). Writes best.pth, last.pth,
    epoch_N.pth, results.csv, plots/ (curves, PR curve, confusion matrix, validation pictures), the resolved
    config, a text log and TensorBoard scalars (tf_logs/) into the work dir. The class count is the
    dataset's.

    \b
    Example (the SSCMA tutorial):
      python tools/train.py configs/rtmdet_nano_8xb32_300e_coco.py --cfg-options \\
        data_root=datasets/mask/ num_classes=2 train_ann_file=train/_annotations.coco.json \\
        val_ann_file=valid/_annotations.coco.json train_img_prefix=train/ val_img_prefix=valid/ \\
        max_epochs=50 imgsz='(192,192)'
    """
    from pathlib import Path

    from ..config.options import parse_cfg_options
    from ..workflows.train import TrainRequest, train

    train(TrainRequest(config, data, parse_cfg_options(list(cfg_options)), epochs, imgsz, batch, threads,
                       Path(work_dir) if work_dir else None, resume, exist_ok, save_resume_state, seed, device,
                       not no_amp, not no_progress, allow_arch_mismatch, click.echo))


if __name__ == "__main__":
    from .common import run_cli
    run_cli(main)
