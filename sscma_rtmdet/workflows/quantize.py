"""Quantization-aware training of a trained checkpoint, then its int8 TFLite file (tools/quantization.py,
`RTMDet(path).quantize(...)`): a QuantizeRequest in, a QuantizeResult out."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..config import Config, load_config
from ..config.typed import mark_untyped
from ..quant import DEFAULT_SCHEDULE
from ..runtime.model_file import recorded_facts, stored_config_of
from .settings import say_facts

# Top-level names taken from the QAT schedule unless typed.
SCHEDULE_KEYS = ("max_epochs", "base_lr", "warmup_iters", "val_interval", "save_interval")
OUT_NAME = "qat_model_test.tflite"


@dataclass
class QuantizeRequest:
    """What to fine-tune and ship; `options` are typed config values ({name or dotted key: value}, as
    --cfg-options gives them). `export`: which state ships (quant.STATES); `evaluate=False` skips scoring."""
    config: str | Path
    checkpoint: str | Path
    options: Mapping[str, Any] = field(default_factory=dict)
    schedule: str | Path = DEFAULT_SCHEDULE
    work_dir: Path | None = None
    out_dir: Path = Path("out")
    calib_images: Path | None = None
    calib_num: int | None = None
    device: str = "auto"
    seed: int = 0
    export: str = "best"
    rounding_trials: int = 4
    evaluate: bool = True
    progress: bool = True
    allow_arch_mismatch: bool = False
    log: Callable[[str], None] = print
    warn: Callable[[str], None] = print


@dataclass
class QuantizeResult:
    tflite: Path            # out_dir/qat_model_test.tflite (+ .json sidecar)
    work_copy: Path         # the same file in the QAT work dir
    meta: dict              # its sidecar record (meta["qat"]: state, ranges, agreement with fake-quant)
    file_ap: float | None   # its val bbox_mAP when scored


def qat_config(config: str | Path, options: Mapping[str, Any], schedule: str | Path, model=None,
               log: Callable[[str], None] | None = None) -> Config:
    """CONFIG with the QAT schedule merged in (SCHEDULE_KEYS, the `qat` dict, stage2_epoch=0) and the typed
    `options` over both; what `model` records fills the names the user did not type (settings)."""
    user = dict(options)
    facts = recorded_facts(stored_config_of(model), user) if model is not None else {}
    say_facts(facts, log)
    qat_user = {k: v for k, v in user.items() if k == "qat" or k.startswith("qat.")}
    plain = {k: v for k, v in user.items() if k not in qat_user}
    sched = load_config(schedule, {**plain, **qat_user})
    pins = {k: sched[k] for k in SCHEDULE_KEYS if k not in plain}
    pins.update(stage2_epoch=0)  # no mosaic/mixup: the plain pipeline from the first epoch
    cfg = load_config(config, {**facts, **pins, **plain})
    mark_untyped(cfg, set(facts) - set(plain))  # the model file's values were not typed
    cfg["qat"] = dict(sched.get("qat") or {})
    return cfg


def quantize(req: QuantizeRequest) -> QuantizeResult:
    """Fine-tune with int8 fake quantization (quant.trainer), export the chosen state, publish it to
    req.out_dir and compare the file with the fake-quant model (tools/quantization.py --help tells the rules)."""
    from ..config.dump import default_work_dir
    from ..engine.trainer import TrainOptions
    from ..quant.ship import compare_with_fake_quant, describe, export_best_file, export_state, publish
    from ..quant.trainer import QATTrainer
    from ..runtime.torch_model import resolve_model_path

    ckpt = resolve_model_path(req.checkpoint, str(req.config))
    cfg = qat_config(req.config, req.options, req.schedule, ckpt, req.log)
    if req.calib_num is not None:
        cfg["qat"]["calib_images"] = req.calib_num
    work = Path(req.work_dir or Path(default_work_dir(str(req.config))) / "qat")
    opts = TrainOptions(work_dir=work, config_path=str(req.config), seed=req.seed, device=req.device, amp=False,
                        progress=req.progress, allow_arch_mismatch=req.allow_arch_mismatch)
    trainer = QATTrainer(cfg, opts, ckpt, calib_dir=Path(req.calib_images) if req.calib_images else None)
    trainer.train()
    target, file_ap = work / OUT_NAME, None
    if req.export == "best" and req.evaluate:
        qmodel, meta, file_ap = export_best_file(trainer, cfg, work, str(ckpt), req.log)
        publish(Path(meta.pop("_path")), target, meta)
    else:
        qmodel, chosen = trainer.qat_model(req.export)
        req.log(f"exporting the {chosen['which']} QAT state: {describe(chosen)}")
        meta = export_state(trainer, qmodel, chosen, target, str(ckpt))
    out = Path(req.out_dir) / OUT_NAME
    publish(target, out, meta)
    q = meta["qat"]
    req.log(f"int8 model: {out} (and {target}); {q['ranges_from_qat']} of {q['activation_tensors']} activation "
            "tensors use QAT's ranges")
    for name, a in q["agreement_with_fake_quant"].items():
        req.log(f"  {name}: {a['within_one_step']:.1%} of elements within one step of the fake-quant model")
    if req.evaluate:
        compare_with_fake_quant(cfg, out, q["state"]["val_mAP"], qmodel, req.rounding_trials, trainer.device,
                                file_ap, req.log, req.warn)
    return QuantizeResult(out, target, meta, file_ap)
