"""tools/train.py: train an RTMDet detector from a config."""
from __future__ import annotations

import click

from .common import (CONTEXT, arch_mismatch_option, cfg_options_option, data_option, device_option,
                     friendly_errors, progress_option)


@click.command(context_settings=CONTEXT)
@click.argument("config", type=click.Path(dir_okay=False))
@data_option
@cfg_options_option
@click.option("--epochs", type=click.IntRange(min=1), help="Epochs (max_epochs) [default: the config's].")
@click.option("--imgsz", type=click.IntRange(min=32), help="Square input size, a multiple of 32 (imgsz).")
@click.option("--batch", type=click.IntRange(min=1), help="Images per step, all GPUs together (batch_size).")
@click.option("--work-dir", type=click.Path(file_okay=False),
              help="Where checkpoints, logs and the resolved config go [default: work_dirs/<config name>].")
@click.option("--resume", "resume", is_flag=False, flag_value="auto", default=None, metavar="[CKPT]",
              help="Continue a run exactly: give a checkpoint, or no value to take the latest in the work dir.")
@click.option("--exist-ok", is_flag=True, help="Train into a work dir that holds another run (its files are "
              "replaced); without it such a work dir is refused.")
@click.option("--save-resume-state", is_flag=True,
              help="Keep the optimizer/EMA/RNG state in every epoch_N.pth (4x larger); by default only last.pth "
                   "and the final epoch_N.pth can be resumed from.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for data order, augmentation, init.")
@device_option
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for torch while training (sets train_threads) [default: all cores].")
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

    from ..config.dump import default_work_dir
    from ..engine.trainer import Trainer, TrainOptions
    from .common import run_config

    shortcuts = [f"{k}={v}" for k, v in (("max_epochs", epochs), ("imgsz", imgsz and (imgsz, imgsz)),
                                        ("batch_size", batch), ("train_threads", threads)) if v]
    _refuse_conflicts(shortcuts, cfg_options)
    cfg = run_config(config, shortcuts + list(cfg_options), data=data, log=click.echo)
    opts = TrainOptions(work_dir=Path(work_dir or default_work_dir(config)), config_path=config, seed=seed,
                        resume=resume, device=device, amp=not no_amp, progress=not no_progress,
                        allow_arch_mismatch=allow_arch_mismatch, exist_ok=exist_ok,
                        save_resume_state=save_resume_state)
    _refuse_work_dir_in_dataset(cfg, opts.work_dir, config)
    Trainer(cfg, opts).train()


_SHORTCUT = {"max_epochs": "--epochs", "imgsz": "--imgsz", "batch_size": "--batch", "train_threads": "--threads"}


def _refuse_conflicts(shortcuts: list[str], cfg_options) -> None:
    """--epochs/--imgsz/--batch/--threads and a --cfg-options of the same name with another value: the
    option would win silently, so neither is guessed."""
    from ..config.options import parse_cfg_options
    from ..errors import ConfigError

    given, options = parse_cfg_options(shortcuts), parse_cfg_options(list(cfg_options or ()))
    for key, value in given.items():
        other = options.get(key, value)
        if key == "imgsz" and isinstance(other, int):
            other = (other, other)
        if (list(other) if isinstance(other, (list, tuple)) else other) != \
                (list(value) if isinstance(value, tuple) else value):
            raise ConfigError(f"{_SHORTCUT[key]} {value[0] if key == 'imgsz' else value} and --cfg-options "
                              f"{key}={other!r} disagree; give one of them")


def _refuse_work_dir_in_dataset(cfg, work_dir, config) -> None:
    """The work dir must not lie inside a split's image folder (test/infer refuse such outputs too)."""
    from pathlib import Path

    from ..utils.safety import refuse_overwrite
    from .evaluate_cmd import _dataset_files

    refuse_overwrite(work_dir, "--work-dir", **_dataset_files(cfg, Path(config)))


if __name__ == "__main__":
    from .common import run_cli
    run_cli(main)
