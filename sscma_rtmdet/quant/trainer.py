"""QAT fine-tuning on the team's Trainer: same loop, criterion, EMA, validation and checkpoints.

The float model is loaded from a trained checkpoint, swapped for its fake-quant twin and calibrated
before the first step. The calibrated model is validated before fine-tuning (epoch 0) and competes for
the best checkpoint like every later epoch: on a model whose PTQ is already lossless, fine-tuning may only
add noise, and the export then takes the calibrated state instead of a worse one.
Schedule (cfg.qat): observers calibrate on `calib_batches` letterboxed training batches (global min/max),
follow a moving average for `observer_epochs` epochs, then freeze; BN statistics follow the batches until
`freeze_bn_epoch`, then freeze. Validation evaluates the EMA fake-quant model.
"""
from __future__ import annotations

import itertools
from pathlib import Path

import torch

from ..engine.build import build_eval_loader
from ..engine.ema import ExpMomentumEMA, unwrap
from ..engine.optim import build_optimizer
from ..engine.trainer import Trainer, TrainOptions
from ..errors import ConfigError
from .fake_quant import MODE_AVERAGE, MODE_FROZEN
from .qmodel import calibrate, freeze_bn, prepare_qat, quantizers, set_observer_mode

QAT_DEFAULTS = dict(observer_epochs=1, freeze_bn_epoch=None, calib_batches=16)


def qat_settings(cfg) -> dict:
    """cfg.qat with defaults filled (freeze_bn_epoch defaults to half of max_epochs) and checked."""
    qat = {**QAT_DEFAULTS, **dict(cfg.get("qat") or {})}
    unknown = sorted(set(qat) - set(QAT_DEFAULTS))
    if unknown:
        raise ConfigError(f"qat: unknown key(s) {unknown}; allowed: {sorted(QAT_DEFAULTS)}")
    if qat["freeze_bn_epoch"] is None:
        qat["freeze_bn_epoch"] = max(int(cfg.schedule["max_epochs"]) // 2, 1)
    for key in QAT_DEFAULTS:
        if int(qat[key]) < 0 or (key == "calib_batches" and int(qat[key]) < 1):
            kind = "positive" if key == "calib_batches" else "non-negative"
            raise ConfigError(f"qat.{key}={qat[key]} must be a {kind} integer")
        qat[key] = int(qat[key])
    return qat


class QATTrainer(Trainer):
    """Trainer whose model is the fake-quant twin of the checkpoint's model."""

    def __init__(self, cfg, opts: TrainOptions, checkpoint: str | Path):
        self.source_checkpoint = Path(checkpoint)
        self.qat = qat_settings(cfg)
        self.last_val_mAP: float | None = None
        cfg["load_from"] = None  # weights come from `checkpoint`, before the model is quantized
        super().__init__(cfg, opts)

    def _build(self) -> None:
        from ..inference.checkpoints import load_torch_model

        super()._build()
        model, _ = load_torch_model(self.cfg, self.source_checkpoint, self.device)
        qmodel = prepare_qat(model, self.preprocess).train()
        n = calibrate(qmodel, self._calib_batches())
        self.log.info(f"QAT: {len(quantizers(qmodel))} quantizers calibrated on {n} batches; schedule {self.qat}")
        self.model = qmodel
        if self.dist.enabled:
            ids = [self.dist.local_rank] if self.device.startswith("cuda") else None
            self.model = torch.nn.parallel.DistributedDataParallel(qmodel, device_ids=ids)
        self.ema = ExpMomentumEMA(qmodel, **self.cfg.ema)
        self.optimizer = build_optimizer(qmodel, self.cfg.optimizer)

    def train(self) -> dict:
        """Validate the calibrated model (epoch 0, not on resume), then fine-tune. Returns the last metrics."""
        if self.epoch == 0 and self.iter == 0 and int(self.cfg.schedule["val_interval"]) > 0:
            metrics = self.validate()
            if metrics:
                self.log.info(f"QAT start (calibrated, before fine-tuning): coco/bbox_mAP "
                              f"{metrics['coco/bbox_mAP']:.4f}")
            if self.dist.is_main:
                self._save_best(metrics)
        return super().train()

    def validate(self) -> dict:
        metrics = super().validate()
        self.last_val_mAP = metrics.get("coco/bbox_mAP")
        return metrics

    def _calib_batches(self):
        loader = build_eval_loader(self.cfg, self.train_coco)
        for batch in itertools.islice(loader, self.qat["calib_batches"]):
            yield self.preprocess.normalize(batch["inputs"]).to(self.device)

    def apply_schedule(self, epoch: int) -> None:
        """Observer and BN state for 0-based `epoch`, on the model and its EMA copy."""
        mode = MODE_AVERAGE if epoch < self.qat["observer_epochs"] else MODE_FROZEN
        for m in (unwrap(self.model), self.ema.module):
            set_observer_mode(m, mode)
            freeze_bn(m, epoch >= self.qat["freeze_bn_epoch"])

    def _train_epoch(self, epoch: int) -> bool:
        self.apply_schedule(epoch)
        ok = super()._train_epoch(epoch)
        self.sync_quant_state()
        return ok

    @torch.no_grad()
    def sync_quant_state(self) -> None:
        """The EMA averages every float buffer, ranges included; evaluation and export must use exactly the
        ranges the training model learned, so copy them over."""
        src = quantizers(unwrap(self.model))
        for name, q in quantizers(self.ema.module).items():
            for key, buf in q.named_buffers():
                buf.copy_(getattr(src[name], key))

    def qat_model(self, which: str = "best") -> tuple[torch.nn.Module, dict]:
        """The model to export and what it is: {"epoch", "val_mAP" (fake-quant validation, None if never
        validated), "which"}. which="best": the best-validated state (epoch 0 = calibrated, before
        fine-tuning), "last": the final EMA fake-quant model with the learned ranges."""
        import copy

        from ..engine import checkpoint as ckpt_io

        if which not in ("best", "last"):
            raise ConfigError(f"which={which!r}: use 'best' or 'last'")
        self.sync_quant_state()
        best = self.best.get("path")
        if which == "best" and best and Path(best).is_file():
            model = copy.deepcopy(self.ema.module)
            model.load_state_dict(ckpt_io.load_checkpoint_file(best)["state_dict"])
            epoch = self.best.get("epoch", int(Path(best).stem.rsplit("_", 1)[-1]))
            return model, {"which": "best", "epoch": epoch, "val_mAP": self.best["metric"]}
        return self.ema.module, {"which": "last", "epoch": self.epoch, "val_mAP": self.last_val_mAP}
