"""tools/quantization.py: quantization-aware training of a trained checkpoint, then int8 TFLite export."""
from __future__ import annotations

from pathlib import Path

import click

from ..quant import STATES
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
@click.option("--calib-images", type=click.IntRange(min=1), default=None,
              help="Training images QAT starts from and the converter calibrates on (the PTQ set) "
                   "[default: qat.calib_images, 200 like tools/export.py --calib-num].")
@click.option("--device", default="auto", show_default=True, help="'auto', 'cpu', 'cuda' or 'cuda:N'.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--export", "export_which", type=click.Choice(STATES), default="best", show_default=True,
              help="Which QAT state becomes qat_model_test.tflite. best: export the PTQ start and the best "
                   "fine-tuned epoch, score both files on the val split, keep the higher (ties: fine-tuned; "
                   "with --no-eval: the higher fake-quant validation). start: the PTQ start (epoch 0). "
                   "tuned: the best-validated fine-tuned epoch. last: the final epoch.")
@click.option("--rounding-trials", type=click.IntRange(min=0), default=4, show_default=True,
              help="After export, also score the fake-quant model with its ranges jittered by 1e-4 this many "
                   "times: the AP spread of int8 rounding alone, to judge the file-vs-fake-quant gap.")
@click.option("--no-eval", is_flag=True, help="Skip evaluating the exported .tflite on the val split.")
@click.option("--no-progress", is_flag=True, help="No progress bar (log lines only).")
@click.option("--allow-arch-mismatch", is_flag=True,
              help="Use a checkpoint trained with another architecture (activation, widths, head options) "
                   "than the config's; the default refuses it.")
@friendly_errors
def main(config, checkpoint, cfg_options, qat_schedule, work_dir, out_dir, calib_images, device, seed,
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
    from ..engine.build import default_work_dir
    from ..engine.trainer import TrainOptions
    from ..inference.checkpoints import resolve_model_path
    from ..quant.trainer import QATTrainer

    ckpt = resolve_model_path(checkpoint, config)
    cfg = qat_config(config, cfg_options, qat_schedule)
    if calib_images is not None:
        cfg["qat"]["calib_images"] = calib_images
    work = Path(work_dir or Path(default_work_dir(config)) / "qat")
    opts = TrainOptions(work_dir=work, config_path=config, seed=seed, device=device, amp=False,
                        progress=not no_progress, allow_arch_mismatch=allow_arch_mismatch)
    trainer = QATTrainer(cfg, opts, ckpt)
    trainer.train()
    target = work / "qat_model_test.tflite"
    if export_which == "best" and not no_eval:
        qmodel, meta, file_ap = _export_best_file(trainer, cfg, work, str(ckpt))
        _publish(Path(meta.pop("_path")), target, meta)
    else:
        qmodel, chosen = trainer.qat_model(export_which)
        click.echo(f"exporting the {chosen['which']} QAT state: {_describe(chosen)}")
        meta = _export(trainer, qmodel, chosen, target, str(ckpt))
        file_ap = None
    out = Path(out_dir)
    _publish(target, out / target.name, meta)
    q = meta["qat"]
    click.echo(f"int8 model: {out / target.name} (and {target}); {q['ranges_from_qat']} of "
               f"{q['activation_tensors']} activation tensors use QAT's ranges")
    for name, a in q["agreement_with_fake_quant"].items():
        click.echo(f"  {name}: {a['within_one_step']:.1%} of elements within one step of the fake-quant model")
    if not no_eval:
        _compare(cfg, out / target.name, q["state"]["val_mAP"], qmodel, rounding_trials, trainer.device, file_ap)


def _describe(info: dict) -> str:
    what = "the PTQ start, before fine-tuning" if info["epoch"] == 0 else f"epoch {info['epoch']}"
    val = "" if info["val_mAP"] is None else f", fake-quant validation bbox_mAP {info['val_mAP']:.4f}"
    return what + val


def _export(trainer, qmodel, info: dict, path: Path, source: str) -> dict:
    from ..quant.export import export_qat_tflite

    return export_qat_tflite(qmodel, trainer.preprocess, trainer.imgsz, trainer.calib, path,
                             class_names=trainer.classes, source_checkpoint=source,
                             onnx_path=path.with_name(path.stem + "_float.onnx"), state=info)


def choose_state(infos: list[dict]) -> int:
    """Index of the state to ship: highest file AP ("file_mAP") when every state has one, else highest
    fake-quant validation AP ("val_mAP", None lowest). Ties go to the later state (the fine-tuned one)."""
    key = "file_mAP" if all(i.get("file_mAP") is not None for i in infos) else "val_mAP"
    return max(reversed(range(len(infos))), key=lambda k: -1.0 if infos[k].get(key) is None else infos[k][key])


def _export_best_file(trainer, cfg, work: Path, source: str):
    """Export the PTQ start and the best fine-tuned state, score both files on val, return the better
    (model, its metadata with "_path" and the candidates' scores, its file AP)."""
    cands = [trainer.qat_model("start"), trainer.qat_model("tuned")]
    if cands[1][1]["epoch"] == 0:
        cands = cands[:1]
    done = []
    for qmodel, info in cands:
        path = work / f"qat_epoch_{info['epoch']}.tflite"
        click.echo(f"exporting QAT state {info['which']}: {_describe(info)} -> {path.name}")
        meta = _export(trainer, qmodel, info, path, source)
        info["file_mAP"] = _file_ap(cfg, path)
        done.append((qmodel, meta, path))
    infos = [info for _, info in cands]
    k = choose_state(infos)
    click.echo("QAT state                       fake-quant val   file bbox_mAP")
    for i, info in enumerate(infos):
        name = "epoch 0 (PTQ start)" if info["epoch"] == 0 else f"epoch {info['epoch']} (best fine-tuned)"
        val = "-" if info["val_mAP"] is None else f"{info['val_mAP']:.4f}"
        click.echo(f"{name:<31} {val:>14}   {info['file_mAP']:.4f}{'   <- exported' if i == k else ''}")
    qmodel, meta, path = done[k]
    meta["qat"]["state"] = infos[k]
    meta["qat"]["candidates"] = infos
    meta["_path"] = str(path)
    return qmodel, meta, infos[k]["file_mAP"]


def _publish(src: Path, dst: Path, meta: dict) -> None:
    """Atomic copy of an exported .tflite to `dst` with `meta` as its sidecar (just the sidecar when equal)."""
    from ..export.metadata import write_metadata
    from ..utils.fileio import atomic_write_bytes

    if src.resolve() != dst.resolve():
        atomic_write_bytes(dst, src.read_bytes())
    write_metadata(dst, meta)


def _val_ap(cfg, predictor, strides) -> float:
    """bbox_mAP of a predictor on the val split (the evaluation tools/test.py runs)."""
    from ..engine.build import build_coco, build_eval_loader
    from ..evaluation.runner import evaluate_predictions, predict_dataset

    coco = build_coco(cfg, "val")
    results, metas, _ = predict_dataset(predictor, build_eval_loader(cfg, coco), strides, cfg.test_cfg,
                                        progress=False)
    return evaluate_predictions(results, metas, coco, log=None)["metrics"]["coco/bbox_mAP"]


def _file_ap(cfg, path: Path) -> float:
    """bbox_mAP of an exported file on the val split."""
    from ..data.preprocess import Preprocess
    from ..engine.build import imgsz_of
    from ..evaluation.predictors import build_predictor

    predictor, strides, _ = build_predictor(cfg, path, imgsz_of(cfg), Preprocess.from_config(cfg.preprocess))
    return _val_ap(cfg, predictor, strides)


def _compare(cfg, path: Path, fq: float | None, qmodel, trials: int, device: str, ap: float | None) -> None:
    """Print the exported file's val AP (`ap`, scored here when None) next to the fake-quant AP `fq` of the
    state it came from, and next to `trials` more int8 rounding realizations of that state
    (`jittered_ranges`).

    Judged against the mean of the fake-quant realizations: a single fake-quant AP carries rounding noise
    (up to 1.3 AP points measured on the demo SiLU nano's 60 val images)."""
    from ..data.preprocess import Preprocess
    from ..evaluation.runner import torch_predictor
    from ..quant.qmodel import jittered_ranges

    ap = _file_ap(cfg, path) if ap is None else ap
    click.echo(f"bbox_mAP: {path.name} {ap:.4f}")
    if fq is None:
        return
    click.echo(f"bbox_mAP: fake-quant model (its validation) {fq:.4f}, gap {100 * (ap - fq):+.2f} AP points")
    pre = Preprocess.from_config(cfg.preprocess)
    runs = [fq]
    qmodel = qmodel.to(device).eval()
    for seed in range(1, trials + 1):
        with jittered_ranges(qmodel, seed):
            runs.append(_val_ap(cfg, torch_predictor(qmodel, pre, device), qmodel.head.strides))
    mean = sum(runs) / len(runs)
    if trials:
        click.echo(f"bbox_mAP: fake-quant over {len(runs)} rounding realizations {mean:.4f} (min {min(runs):.4f}, "
                   f"max {max(runs):.4f}); file - mean = {100 * (ap - mean):+.2f} AP points")
    if abs(ap - mean) > 0.005:
        click.echo("warning: the exported file and the fake-quant model disagree by more than 0.5 AP points",
                   err=True)
