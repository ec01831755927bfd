"""QAT fine-tuning on the team's Trainer: same loop, criterion, EMA, validation and checkpoints.

The float model is loaded from a trained checkpoint and swapped for its fake-quant twin. Before the first
step QAT starts from the PTQ model (`ptq_start`): every range the int8 graph shows is set to what the int8
exporter measures on the same calibration images (`calib_images` training images, letterboxed like
evaluation, the set `tools/export.py` uses), so exporting this start state gives the PTQ file. The start
state is validated (epoch 0) and saved as `qat_start.pth`; the fine-tuned epochs compete for `best.pth` as
in training.
Schedule (cfg.qat): observers follow a moving average for `observer_epochs` epochs, then freeze; BN
statistics follow the batches until `freeze_bn_epoch`, then freeze. Validation evaluates the EMA fake-quant
model.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..engine.ema import ExpMomentumEMA, unwrap
from ..engine.optim import build_optimizer
from ..engine.run_dir import BEST
from ..engine.trainer import TrainOptions, Trainer
from ..errors import ConfigError
from ..export.calibration import DEFAULT_CALIB_NUM
from ..export.pipeline import ExportRequest, calibration_batch
from ..runtime import checkpoint as ckpt_io
from ..runtime.deployment import Deployment
from ..runtime.torch_model import load_model
from . import STATES
from .export import start_from_ptq
from .fake_quant import MODE_AVERAGE, MODE_FROZEN
from .qmodel import calibrate, freeze_bn, prepare_qat, quantizers, set_observer_mode

QAT_DEFAULTS = dict(observer_epochs=1, freeze_bn_epoch=None, calib_images=DEFAULT_CALIB_NUM, ptq_start=True)
START_CHECKPOINT = "qat_start.pth"


def qat_settings(cfg) -> dict:
    """cfg.qat with defaults filled (freeze_bn_epoch defaults to half of max_epochs) and checked."""
    qat = {**QAT_DEFAULTS, **dict(cfg.get("qat") or {})}
    unknown = sorted(set(qat) - set(QAT_DEFAULTS))
    if unknown:
        raise ConfigError(f"qat: unknown key(s) {unknown}; allowed: {sorted(QAT_DEFAULTS)}")
    if qat["calib_images"] is None:
        qat["calib_images"] = DEFAULT_CALIB_NUM
    if qat["freeze_bn_epoch"] is None:
        qat["freeze_bn_epoch"] = max(int(cfg["max_epochs"]) // 2, 1)
    if not isinstance(qat["ptq_start"], bool):
        raise ConfigError(f"qat.ptq_start={qat['ptq_start']!r} must be True or False")
    for key in ("observer_epochs", "freeze_bn_epoch", "calib_images"):
        if isinstance(qat[key], bool) or int(qat[key]) < 0 or (key == "calib_images" and int(qat[key]) < 1):
            kind = "positive" if key == "calib_images" else "non-negative"
            raise ConfigError(f"qat.{key}={qat[key]} must be a {kind} integer")
        qat[key] = int(qat[key])
    return qat


class QATTrainer(Trainer):
    """Trainer whose model is the fake-quant twin of the checkpoint's model."""

    def __init__(self, cfg, opts: TrainOptions, checkpoint: str | Path, calib_dir: Path | None = None):
        self.source_checkpoint = Path(checkpoint)
        self.calib_dir = calib_dir  # a folder of calibration images (else the training images)
        self.qat = qat_settings(cfg)
        self.last_val_mAP: float | None = None
        cfg["load_from"] = None  # weights come from `checkpoint`, before the model is quantized
        super().__init__(cfg, opts)

    def _build(self) -> None:
        super()._build()
        # fake quantization rounds to int8 grids: the steps must be computed in float32, not autocast
        if str(self.cfg.get("precision", "auto")) not in ("auto", "float32"):
            raise ConfigError(f"precision={self.cfg.get('precision')!r}: QAT trains in float32 (its fake "
                              "quantization rounds to exact int8 grids); drop the option or use 'float32'")
        self.speed = replace(self.speed, precision="float32", precision_reason="float32 (QAT's fake quantization)")
        self.scaler = torch.amp.GradScaler("cuda", enabled=False)
        model, meta = load_model(self.source_checkpoint, self.device, cfg=self.cfg,
                                 allow_arch_mismatch=self.opts.allow_arch_mismatch)
        trained = Deployment.from_dict(meta["deployment"], str(self.source_checkpoint))
        diffs = [d for d in trained.differences(self.deployment) if not d.startswith("classes")]
        if diffs:
            raise ConfigError(f"{self.source_checkpoint} was trained for {', '.join(diffs)} (checkpoint vs config); "
                              "QAT fine-tunes it for the deployment it was trained for: use its config")
        qmodel = prepare_qat(model, self.preprocess, self.deployment.layout).train()
        calibrate(qmodel, self._calib_batches())
        self.log.info(f"QAT: {len(quantizers(qmodel))} quantizers calibrated on {len(self.calib)} images; "
                      f"schedule {self.qat}")
        self.model = qmodel
        if self.dist.enabled:
            ids = [self.dist.local_rank] if self.device.startswith("cuda") else None
            self.model = torch.nn.parallel.DistributedDataParallel(qmodel, device_ids=ids)
        self.ema = ExpMomentumEMA(qmodel, **self.cfg.ema)
        self.optimizer = build_optimizer(qmodel, self.cfg, float(self.cfg.base_lr))

    def train(self) -> dict:
        """On a fresh start: take the PTQ ranges, validate and save the start state (epoch 0); then fine-tune.
        Returns the last metrics."""
        if self.epoch == 0 and self.iter == 0:
            self._start()
        return super().train()

    def _start(self) -> None:
        if self.qat["ptq_start"]:
            rep = start_from_ptq(unwrap(self.model), self.deployment, self.calib)
            self.sync_quant_state()
            self.log.info(f"QAT start = PTQ: {rep['set']} quantizers took the int8 exporter's measured ranges "
                          f"({rep['matched']} of {rep['tensors']} calibrated tensors matched)")
        metrics = self.validate() if int(self.cfg.val_interval) > 0 else {}
        if metrics:
            self.log.info(f"QAT start (calibrated, before fine-tuning): coco/bbox_mAP "
                          f"{metrics['coco/bbox_mAP']:.4f}")
        if self.dist.is_main:
            ckpt_io.save_checkpoint(self._checkpoint(metrics), self.work_dir / START_CHECKPOINT)

    def validate(self) -> dict:
        metrics = super().validate()
        self.last_val_mAP = metrics.get("coco/bbox_mAP")
        return metrics

    @property
    def calib(self) -> np.ndarray:
        """(N,H,W,3) raw-pixel calibration images in the file's input domain: `calib_images` training images
        spread over the set, prepared like evaluation (cached; the array `tools/export.py` calibrates PTQ with)."""
        if getattr(self, "_calib", None) is None:
            req = ExportRequest(checkpoint=self.source_checkpoint, calib_num=self.qat["calib_images"],
                                calib_images=self.calib_dir, log=self.log.info)
            self._calib = calibration_batch(self.cfg, req, self.deployment, {})
        return self._calib

    def _calib_batches(self, batch: int = 16):
        """Normalised (B,3,H,W) network-input batches of `calib`."""
        dep = self.deployment
        for i in range(0, len(self.calib), batch):
            yield dep.preprocess.from_input(self.calib[i:i + batch], dep.input_color).to(self.device)

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
        """A QAT state to export and what it is: {"which", "epoch", "val_mAP" (fake-quant validation, None if
        never validated)}. which: "start" (the PTQ start, epoch 0), "tuned" (the best-validated fine-tuned
        epoch; the last one when none was validated), "last" (the final EMA model), "best" (whichever of
        start and tuned validated higher; ties go to the fine-tuned one)."""
        import copy

        if which not in STATES:
            raise ConfigError(f"which={which!r}: use one of {', '.join(STATES)}")
        self.sync_quant_state()
        if which == "best":
            cands = [self.qat_model("start"), self.qat_model("tuned")]
            return max(reversed(cands), key=lambda c: -1.0 if c[1]["val_mAP"] is None else c[1]["val_mAP"])
        path = {"start": self.work_dir / START_CHECKPOINT, "tuned": self.work_dir / BEST}.get(which)
        if path and Path(path).is_file() and (which == "start" or self.best.get("epoch") is not None):
            ckpt = ckpt_io.load_checkpoint_file(path)
            model = copy.deepcopy(self.ema.module)
            model.load_state_dict(ckpt["state_dict"])
            epoch = 0 if which == "start" else int(self.best["epoch"])
            return model, {"which": which, "epoch": epoch,
                           "val_mAP": (ckpt.get("meta", {}).get("metrics") or {}).get("coco/bbox_mAP")}
        if which == "start":
            raise ConfigError(f"{self.work_dir / START_CHECKPOINT} not found: the QAT start state is saved when "
                              "QAT begins; re-run QAT in a fresh work dir")
        return self.ema.module, {"which": "last" if which == "last" else "tuned", "epoch": self.epoch,
                                 "val_mAP": self.last_val_mAP}
