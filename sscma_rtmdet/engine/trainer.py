"""The training loop: AdamW + warmup/flat/cosine LR (fitted to the run), EMA, stage-2 pipeline switch,
validation with the deployment's decode, early stopping, best/last/epoch checkpoints (engine/run_dir.py),
results.csv and plots, exact resume, DDP with SyncBN (rank 0 logs and saves)."""
from __future__ import annotations

import math
import time
from pathlib import Path

import torch

from ..config import Config, dump_config
from ..criterion import build_criterion
from ..data.build import build_coco, imgsz_of
from ..data.loader import TrainDataset, build_dataloader
from ..data.pipeline import build_pipeline
from ..errors import UserError
from ..evaluation.evaluate import evaluate
from ..models import build_model
from ..runtime import checkpoint as ckpt_io
from ..runtime.deployment import Deployment
from ..utils.device import resolve_device
from ..utils.progress import progress_bar
from .dist import DistInfo, average_buffers, barrier, cleanup, init_distributed
from .ema import ExpMomentumEMA, unwrap
from .guards import DivergenceGuard, grad_norm
from .loading import load_pretrained_into, resume_into
from .logger import Scalars, fmt_eta, setup_logger
from .optim import build_optimizer, set_lr
from .options import TrainOptions  # noqa: F401  (the trainer's options, imported from here too)
from .preflight import check_before_training, check_settings
from .pretrained import resolve_weights
from .rng import rng_state, seed_everything
from .run_dir import BEST, LAST, WorkDirLock, check_reuse, early_stop, epoch_file, slim
from .run_report import RunReport
from .schedule import fit_config_schedule, format_schedule_table, lr_function
from .speed import SpeedSettings

LAST_CKPT_EVERY_S = 60.0


class Trainer:
    def __init__(self, cfg: Config, opts: TrainOptions):
        check_settings(cfg)  # before the optimizer sees a negative lr or the work dir is locked
        self.cfg, self.opts = cfg, opts
        self.device = resolve_device(opts.device)
        self.dist: DistInfo = init_distributed(self.device)
        if self.device == "cuda":
            self.device = f"cuda:{self.dist.local_rank}"
        main = self.dist.is_main
        self.work_dir = Path(opts.work_dir)
        self.lock = None
        if main:
            check_reuse(self.work_dir, Path(opts.config_path).name, bool(opts.resume), opts.exist_ok)
            self.lock = WorkDirLock(self.work_dir).acquire()
        self.log = setup_logger(self.work_dir if main else None, enabled=main)
        self.scalars = Scalars(self.work_dir / "tf_logs" if main else None)
        seed_everything(opts.seed + self.dist.rank)
        self._build()
        check_before_training(cfg, self.train_coco, self.val_coco, self.work_dir, self.log.warning, main)
        self.guard = DivergenceGuard(self.work_dir)
        self.report = RunReport(self.work_dir, self.log.info) if main else None
        self.epoch, self.iter, self.best = 0, 0, {"metric": -1.0, "epoch": None}
        self._last_saved: float | None = None
        self.fitted = None
        # --resume with nothing to resume is a fresh run: it starts from load_from like one
        resumed = bool(opts.resume) and self._resume(opts.resume)
        if not resumed and cfg.get("load_from"):
            self._load_pretrained(cfg.load_from)
        if self.report is not None:
            self.report.start(resumed)

    # ---- setup ------------------------------------------------------------------------------------
    def _build(self) -> None:
        cfg = self.cfg
        self.imgsz = imgsz_of(cfg)
        self.train_coco = build_coco(cfg, "train")
        self.val_coco = build_coco(cfg, "val")
        self.classes = list(self.train_coco.classes)
        if list(self.val_coco.classes) != self.classes:
            raise UserError(f"train classes {self.classes} differ from val classes {list(self.val_coco.classes)}; "
                            "both annotation files must list the same categories")
        # the class count is the dataset's (a num_classes given by option was checked against it)
        cfg["num_classes"] = len(self.classes)
        cfg.model.head["num_classes"] = len(self.classes)
        self.deployment = Deployment.from_config(cfg, self.classes)
        self.preprocess = self.deployment.preprocess
        pad = self.preprocess.pad_value
        self.speed = SpeedSettings.from_config(cfg, self.device, self.opts.amp).apply_threads()  # engine/speed.py
        self.train_set = TrainDataset(
            self.train_coco, build_pipeline(cfg.train_pipeline, "train_pipeline", pad),
            build_pipeline(cfg.train_pipeline_stage2, "train_pipeline_stage2", pad), seed=self.opts.seed,
            stretch_to=self.imgsz if self.preprocess.resize == "stretch" else None, cache_mb=self.speed.image_cache_mb)
        model = self.speed.prepare_model(build_model(cfg.model).to(self.device))
        if self.dist.enabled and self.device.startswith("cuda"):
            # SyncBN is GPU-only in torch; on CPU (gloo) DDP broadcasts rank 0's BN buffers instead.
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.model = model
        self.ema = ExpMomentumEMA(model, **cfg.ema)
        if self.dist.enabled:
            ids = [self.dist.local_rank] if self.device.startswith("cuda") else None
            self.model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        self.criterion = build_criterion(cfg.criterion, len(self.classes))
        self.optimizer = build_optimizer(unwrap(self.model), cfg, float(cfg.base_lr), **self.speed.optimizer_kwargs())
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.speed.grad_scaling)

    @property
    def forward(self):
        """What the step calls: `self.model`, compiled when compile_model (once per model object, so a
        subclass that swaps the model, as QAT does, trains the model it set)."""
        if getattr(self, "_forward_of", None) is not self.model:
            self._forward, self._forward_of = self.speed.forward_fn(self.model), self.model
        return self._forward

    def _loader(self, epoch: int):
        self.train_set.set_epoch(epoch, use_stage2=epoch >= self.fitted.stage2_epoch)
        per_rank = max(int(self.cfg.batch_size) // max(self.dist.world_size, 1), 1)
        return build_dataloader(self.train_set, per_rank, int(self.cfg.num_workers), shuffle=True, seed=self.opts.seed,
                                epoch=epoch, distributed=self.dist.enabled, pin_memory=self.speed.pin_memory)

    def _load_pretrained(self, path: str) -> None:
        load_pretrained_into(self, resolve_weights(path))

    def _resume(self, resume: str) -> bool:
        return resume_into(self, resume)

    # ---- loop -------------------------------------------------------------------------------------
    def fit_schedule(self):
        """Fit the config's recipe to this run (engine/schedule.py); kept by the trainer and written into
        checkpoint meta, never back into the config. Returns the FittedSchedule."""
        world = max(self.dist.world_size, 1)
        per_rank = max(int(self.cfg.batch_size) // world, 1)
        iters = math.ceil(math.ceil(len(self.train_set) / world) / per_rank)
        self.fitted = fit_config_schedule(self.cfg, per_rank * world, iters)
        return self.fitted

    def train(self) -> dict:
        max_epochs = int(self.cfg.max_epochs)
        fitted = self.fitted or self.fit_schedule()
        val_epochs = set(fitted.val_epochs(max_epochs))
        if self.dist.is_main:
            dump_config(self.cfg, self.work_dir / Path(self.opts.config_path).name)
        self.log.info(f"training {len(self.train_coco)} images, {len(self.classes)} classes {self.classes}, "
                      f"imgsz {self.imgsz}, {max_epochs} epochs, device {self.device}, "
                      f"world size {self.dist.world_size}, target {self.deployment.target} "
                      f"({self.preprocess.resize}), work dir {self.work_dir}")
        self.log.info(f"speed: {self.speed.describe()}")
        self.log.info("schedule (names given in --cfg-options are used as given):\n"
                      + format_schedule_table(fitted.rows))
        metrics: dict = {}
        try:
            for epoch in range(self.epoch, max_epochs):
                losses = self._train_epoch(epoch)
                if losses is None:
                    return {"stopped": True}
                self.epoch = epoch + 1
                metrics = self.validate() if self.epoch in val_epochs else {}
                stop = self._early_stop(metrics)
                self._save(metrics, final=self.epoch == max_epochs or stop)
                if self.report is not None:
                    self.report.epoch(self.epoch, losses, metrics)
                if stop:
                    break
            self._finish()
        finally:
            self.scalars.close()
            cleanup(self.dist)
            if self.lock is not None:
                self.lock.release()
        return metrics

    def _early_stop(self, metrics: dict) -> bool:
        return bool(metrics) and early_stop(self.cfg.get("patience"), self.fitted.val_epochs(int(self.cfg.max_epochs)),
                                            self.best, self.epoch, self.log.info)

    def _train_epoch(self, epoch: int) -> dict | None:
        """One epoch; returns the mean losses (None when stopped by stop_after_iters)."""
        loader = self._loader(epoch)
        n = len(loader)
        lr_fn = lr_function(self.cfg, self.fitted, n)
        total = int(self.cfg.max_epochs) * n
        self.model.train()
        sums: dict[str, float] = {}
        t0 = t_data = time.perf_counter()
        bar = progress_bar(loader, desc=f"epoch {epoch + 1}/{self.cfg.max_epochs}",
                           enabled=self.opts.progress and self.dist.is_main, log=lambda m: None)
        for i, batch in enumerate(bar):
            data_time = time.perf_counter() - t_data
            lr = lr_fn(self.iter)
            set_lr(self.optimizer, lr)
            losses = self._step(batch)
            self.iter += 1
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v
            if self.opts.stop_after_iters is not None and self.iter >= self.opts.stop_after_iters:
                self.log.info(f"stopping after {self.iter} iterations (stop_after_iters)")
                return None
            if self.dist.is_main and (self.iter % int(self.cfg.log_interval) == 0 or i == n - 1):
                spent = time.perf_counter() - t0
                eta = spent / (i + 1) * (total - self.iter)
                self.log.info(f"Epoch(train) [{epoch + 1}][{i + 1}/{n}] lr: {lr:.4e} eta: {fmt_eta(eta)} "
                              f"time: {spent / (i + 1):.3f} data_time: {data_time:.3f} "
                              + " ".join(f"{k}: {v:.4f}" for k, v in losses.items()))
                for k, v in losses.items():
                    self.scalars.add(f"train/{k}", v, self.iter)
                self.scalars.add("train/lr", lr, self.iter)
            t_data = time.perf_counter()
        average_buffers(unwrap(self.model), self.dist, self.device)
        return {"lr": lr_fn(self.iter - 1), **{k: v / max(n, 1) for k, v in sums.items()}}

    def _step(self, batch: dict) -> dict:
        inputs = self.speed.inputs(self.preprocess.normalize(batch["inputs"].to(self.device, non_blocking=True)))
        with self.speed.autocast():
            cls_scores, bbox_preds = self.forward(inputs)
        out = self.criterion([c.float() for c in cls_scores], [b.float() for b in bbox_preds],
                             batch["gt_boxes"], batch["gt_labels"], tuple(inputs.shape[-2:]))  # moved to device there
        loss = out["loss"]
        self.guard.check_loss(out, self.epoch, self.iter)  # NaN/inf or exploding: stop before the step
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        norm = grad_norm(self.model.parameters(), self.scaler.get_scale())
        self.guard.check_grad_norm(norm, self.epoch, self.iter)  # before the step touches the weights
        clip = self.cfg.get("grad_clip")
        if clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), float(clip))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.ema.update(self.model)
        return {k: float(out[k].detach()) for k in ("loss", "loss_cls", "loss_bbox")}

    # ---- validation and checkpoints ---------------------------------------------------------------
    def validate(self) -> dict:
        metrics: dict = {}
        if self.dist.is_main:
            metrics = evaluate(self.cfg, unwrap(self.ema.module), self.val_coco, device=self.device,
                               progress=self.opts.progress, log=self.log.info, deployment=self.deployment)["metrics"]
            self.log.info(f"Epoch(val) [{self.epoch}] " + " ".join(f"{k}: {v:.4f}" for k, v in metrics.items()))
            for k, v in metrics.items():
                self.scalars.add(f"val/{k.split('/')[-1]}", v, self.epoch)
        barrier(self.dist)
        return metrics

    def _checkpoint(self, metrics: dict) -> dict:
        resume = {"model": unwrap(self.model).state_dict(), "optimizer": self.optimizer.state_dict(),
                  "ema": self.ema.state_dict(), "scaler": self.scaler.state_dict(), "epoch": self.epoch,
                  "iter": self.iter, "best": self.best, "rng": rng_state()}
        return ckpt_io.make_checkpoint(
            state_dict=self.ema.module.state_dict(), config=self.cfg, deployment=self.deployment.to_dict(),
            epoch=self.epoch, iteration=self.iter, resume=resume, metrics=metrics,
            extra={"schedule": self.fitted.as_dict() if self.fitted else None})

    def _save(self, metrics: dict, final: bool = False) -> None:
        """best.pth when the AP improved; epoch_N.pth every save_interval and at the end (the resume state only
        in the final one unless save_resume_state); last.pth (resume state) at most once a minute and then."""
        if not self.dist.is_main:
            barrier(self.dist)
            return
        self.guard.check_weights({"model": unwrap(self.model), "EMA": self.ema.module}, self.epoch, self.iter)
        periodic = self.epoch % int(self.cfg.save_interval) == 0 or final
        due = self._last_saved is None or time.monotonic() - self._last_saved >= LAST_CKPT_EVERY_S
        improved = metrics.get("coco/bbox_mAP", -1.0) > self.best["metric"]
        if not (periodic or due or improved):
            barrier(self.dist)
            return
        if improved:
            self.best = {"metric": float(metrics["coco/bbox_mAP"]), "epoch": self.epoch}
        ckpt = self._checkpoint(metrics)
        if improved:
            ckpt_io.save_checkpoint(slim(ckpt), self.work_dir / BEST)
            self.log.info(f"best coco/bbox_mAP {self.best['metric']:.4f} at epoch {self.epoch}: {BEST}")
        if periodic:
            path = epoch_file(self.work_dir, self.epoch)
            ckpt_io.save_checkpoint(ckpt if final or self.opts.save_resume_state else slim(ckpt), path)
            ckpt_io.prune_epoch_checkpoints(self.work_dir, int(self.cfg.max_keep_ckpts), {path})
            self.log.info(f"saved {path}")
        if periodic or due:
            ckpt_io.save_checkpoint(ckpt, self.work_dir / LAST)
            self._last_saved = time.monotonic()
        barrier(self.dist)

    def _finish(self) -> None:
        """The best checkpoint's line, training curves and its evaluation pictures (main process)."""
        if not self.dist.is_main or self.report is None:
            return
        if self.best["epoch"] is not None:
            self.log.info(f"best coco/bbox_mAP {self.best['metric']:.4f} at epoch {self.best['epoch']}: "
                          f"{self.work_dir / BEST}")
        self.report.finish(self, self.work_dir / BEST)
