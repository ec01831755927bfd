"""tools/train.py: train an RTMDet detector from a config."""
from __future__ import annotations

import click

from .common import cfg_options_option, friendly_errors


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("config", type=click.Path(dir_okay=False))
@cfg_options_option
@click.option("--work-dir", type=click.Path(file_okay=False),
              help="Where checkpoints, logs and the resolved config go [default: work_dirs/<config name>].")
@click.option("--resume", "resume", is_flag=False, flag_value="auto", default=None, metavar="[CKPT]",
              help="Continue a run exactly: give a checkpoint, or no value to take the latest in the work dir.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for data order, augmentation, init.")
@click.option("--device", default="auto", show_default=True, help="'auto', 'cpu', 'cuda' or 'cuda:N'.")
@click.option("--no-amp", is_flag=True, help="Disable mixed precision on CUDA.")
@click.option("--no-progress", is_flag=True, help="No progress bar (log lines only).")
@click.option("--allow-arch-mismatch", is_flag=True,
              help="load_from / --resume a checkpoint trained with another architecture (activation, widths, head options) "
                   "than the config's; the default refuses it.")
@friendly_errors
def main(config, cfg_options, work_dir, resume, seed, device, no_amp, no_progress, allow_arch_mismatch):
    """Train CONFIG. Writes epoch_N.pth, last.pth, best_coco_bbox_mAP_epoch_N.pth, the resolved config,
    a text log and TensorBoard scalars (tf_logs/) into the work dir.

    \b
    Example (the SSCMA tutorial):
      python tools/train.py configs/rtmdet_nano_8xb32_300e_coco.py --cfg-options \\
        data_root=datasets/mask/ num_classes=2 train_ann_file=train/_annotations.coco.json \\
        val_ann_file=valid/_annotations.coco.json train_img_prefix=train/ val_img_prefix=valid/ \\
        max_epochs=50 imgsz='(192,192)'
    """
    from pathlib import Path

    from ..config import load_config
    from ..config.dump import default_work_dir
    from ..engine.trainer import Trainer, TrainOptions

    cfg = load_config(config, list(cfg_options))
    opts = TrainOptions(work_dir=Path(work_dir or default_work_dir(config)), config_path=config, seed=seed,
                        resume=resume, device=device, amp=not no_amp, progress=not no_progress,
                        allow_arch_mismatch=allow_arch_mismatch)
    Trainer(cfg, opts).train()
