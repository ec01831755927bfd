"""tools/quantization.py: quantization-aware training of a trained checkpoint, then int8 TFLite export."""
from __future__ import annotations

from pathlib import Path

import click

from .common import cfg_options_option, friendly_errors

DEFAULT_SCHEDULE = Path(__file__).resolve().parents[2] / "configs" / "rtmdet_nano_8xb32_300e_coco_relu_q.py"
# Top-level names taken from the QAT schedule unless given in --cfg-options.
SCHEDULE_KEYS = ("max_epochs", "base_lr", "warmup_iters", "val_interval", "save_interval")


def qat_config(config: str, cfg_options: list[str], schedule: str | Path):
    """The user's config with the QAT schedule merged in (see `main`'s help); returns a Config with `qat`."""
    from ..config import load_config, parse_cfg_options

    user = parse_cfg_options(list(cfg_options))
    qat_user = {k: v for k, v in user.items() if k == "qat" or k.startswith("qat.")}
    plain = {k: v for k, v in user.items() if k not in qat_user}
    sched = load_config(schedule, {**plain, **qat_user})
    pins = {k: sched[k] for k in SCHEDULE_KEYS if k not in plain}
    pins.update(stage2_epoch=0)  # no mosaic/mixup: the plain pipeline from the first epoch
    cfg = load_config(config, {**pins, **plain})
    cfg["qat"] = dict(sched.get("qat") or {})
    return cfg


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("config", type=click.Path(dir_okay=False))
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@cfg_options_option
@click.option("--qat-schedule", type=click.Path(dir_okay=False), default=str(DEFAULT_SCHEDULE),
              show_default=True, help="Config whose QAT settings are merged into CONFIG.")
@click.option("--work-dir", type=click.Path(file_okay=False),
              help="QAT checkpoints/logs and a copy of the export [default: work_dirs/<config name>/qat].")
@click.option("--out-dir", type=click.Path(file_okay=False), default="out", show_default=True,
              help="Where qat_model_test.tflite (+ .json sidecar) is written, relative to the cwd.")
@click.option("--calib-images", type=click.IntRange(min=1), default=32, show_default=True,
              help="Training images for the converter's calibration pass (ranges QAT learned replace it).")
@click.option("--device", default="auto", show_default=True, help="'auto', 'cpu', 'cuda' or 'cuda:N'.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--export", "export_which", type=click.Choice(["best", "last"]), default="best", show_default=True,
              help="Which QAT state becomes the .tflite: the best fake-quant validation AP (epoch 0 = the "
                   "calibrated model before fine-tuning) or the last epoch's.")
@click.option("--rounding-trials", type=click.IntRange(min=0), default=4, show_default=True,
              help="After export, also score the fake-quant model with its ranges jittered by 1e-4 this many "
                   "times: the AP spread of int8 rounding alone, to judge the file-vs-fake-quant gap.")
@click.option("--no-eval", is_flag=True, help="Skip evaluating the exported .tflite on the val split.")
@click.option("--no-progress", is_flag=True, help="No progress bar (log lines only).")
@friendly_errors
def main(config, checkpoint, cfg_options, qat_schedule, work_dir, out_dir, calib_images, device, seed,
         export_which, rounding_trials, no_eval, no_progress):
    """Fine-tune CHECKPOINT (trained with CONFIG) with int8 fake quantization, export qat_model_test.tflite.

    \b
    The QAT settings come from --qat-schedule (default: the _relu_q config) and are merged into CONFIG:
    max_epochs, base_lr, warmup_iters, val_interval, save_interval and the `qat` dict
    (observer_epochs, freeze_bn_epoch, calib_batches), plus stage2_epoch=0 (no mosaic/mixup). Any of
    them given in --cfg-options wins (e.g. max_epochs=50 base_lr=1e-5 qat.freeze_bn_epoch=3).
    Fake quantization follows TFLite int8: per-channel symmetric weights with BN folded, per-tensor
    asymmetric activations where TFLite quantizes; observers calibrate, average for observer_epochs, then
    freeze; BN statistics freeze at freeze_bn_epoch. The calibrated model is validated before fine-tuning
    (epoch 0) and by default the best-validated state is exported (--export last for the final one). The
    export writes the learned ranges into the converter, so the .tflite uses QAT's quantization parameters.

    \b
    Example (the SSCMA tutorial):
      python tools/quantization.py configs/rtmdet_nano_8xb32_300e_coco.py work_dirs/epoch_50.pth \\
        --cfg-options data_root=datasets/mask/ num_classes=2 train_ann_file=train/_annotations.coco.json \\
        val_ann_file=valid/_annotations.coco.json train_img_prefix=train/ val_img_prefix=valid/ \\
        imgsz='(192,192)' max_epochs=50
    """
    import shutil

    from ..engine.build import dataset_paths, default_work_dir
    from ..engine.trainer import TrainOptions
    from ..export.calibration import calibration_images, find_images
    from ..export.metadata import sidecar_path
    from ..inference.checkpoints import resolve_model_path
    from ..quant.export import export_qat_tflite
    from ..quant.trainer import QATTrainer

    ckpt = resolve_model_path(checkpoint, config)
    cfg = qat_config(config, cfg_options, qat_schedule)
    work = Path(work_dir or Path(default_work_dir(config)) / "qat")
    opts = TrainOptions(work_dir=work, config_path=config, seed=seed, device=device, amp=False,
                        progress=not no_progress)
    trainer = QATTrainer(cfg, opts, ckpt)
    trainer.train()
    qmodel, chosen = trainer.qat_model(export_which)
    what = "the calibrated model, before fine-tuning" if chosen["epoch"] == 0 else f"epoch {chosen['epoch']}"
    val = "" if chosen["val_mAP"] is None else f", fake-quant validation bbox_mAP {chosen['val_mAP']:.4f}"
    click.echo(f"exporting the {chosen['which']} QAT state: {what}{val}")
    root, _, prefix = dataset_paths(cfg, "train")
    calib = calibration_images(find_images(Path(root) / prefix), trainer.imgsz, trainer.preprocess.to_dict(),
                               calib_images)
    target = work / "qat_model_test.tflite"
    meta = export_qat_tflite(qmodel, trainer.preprocess, trainer.imgsz, calib, target,
                             class_names=trainer.classes, source_checkpoint=str(ckpt),
                             onnx_path=work / "qat_model_test_float.onnx", state=chosen)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for src in (target, sidecar_path(target)):
        shutil.copy2(src, out / src.name)
    q = meta["qat"]
    click.echo(f"int8 model: {out / target.name} (and {target}); {q['ranges_from_qat']} of "
               f"{q['activation_tensors']} activation tensors use QAT's ranges")
    for name, a in q["agreement_with_fake_quant"].items():
        click.echo(f"  {name}: {a['within_one_step']:.1%} of elements within one step of the fake-quant model")
    if not no_eval:
        _compare(cfg, out / target.name, chosen["val_mAP"], qmodel, rounding_trials, trainer.device)


def _compare(cfg, path: Path, fq: float | None, qmodel, trials: int, device: str) -> None:
    """Score the exported file on the val split next to the fake-quant AP `fq` of the state it came from, and
    next to `trials` more int8 rounding realizations of that state (`jittered_ranges`).

    Judged against the mean of the fake-quant realizations: a single fake-quant AP carries rounding noise
    (up to 1.3 AP points measured on the demo SiLU nano's 60 val images)."""
    from ..data.preprocess import Preprocess
    from ..engine.build import build_coco, build_eval_loader, imgsz_of
    from ..evaluation.predictors import build_predictor
    from ..evaluation.runner import evaluate_predictions, predict_dataset, torch_predictor
    from ..quant.qmodel import jittered_ranges

    coco = build_coco(cfg, "val")
    pre = Preprocess.from_config(cfg.preprocess)

    def ap_of(predictor, strides) -> float:
        results, metas, _ = predict_dataset(predictor, build_eval_loader(cfg, coco), strides, cfg.test_cfg,
                                            progress=False)
        return evaluate_predictions(results, metas, coco, log=None)["metrics"]["coco/bbox_mAP"]

    predictor, strides, _ = build_predictor(cfg, path, imgsz_of(cfg), pre)
    ap = ap_of(predictor, strides)
    click.echo(f"bbox_mAP: {path.name} {ap:.4f}")
    if fq is None:
        return
    click.echo(f"bbox_mAP: fake-quant model (its validation) {fq:.4f}, gap {100 * (ap - fq):+.2f} AP points")
    runs = [fq]
    qmodel = qmodel.to(device).eval()
    for seed in range(1, trials + 1):
        with jittered_ranges(qmodel, seed):
            runs.append(ap_of(torch_predictor(qmodel, pre, device), qmodel.head.strides))
    mean = sum(runs) / len(runs)
    if trials:
        click.echo(f"bbox_mAP: fake-quant over {len(runs)} rounding realizations {mean:.4f} (min {min(runs):.4f}, "
                   f"max {max(runs):.4f}); file - mean = {100 * (ap - mean):+.2f} AP points")
    if abs(ap - mean) > 0.005:
        click.echo("warning: the exported file and the fake-quant model disagree by more than 0.5 AP points",
                   err=True)
