"""The training loop: AdamW + warmup/flat/cosine LR, EMA, stage-2 pipeline switch, periodic validation,
atomic best/last/periodic checkpoints, exact resume, DDP with SyncBN (rank 0 logs and saves)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from ..config import Config, dump_config
from ..criterion import build_criterion
from ..data.build import build_coco, imgsz_of
from ..data.loader import TrainDataset, build_dataloader
from ..data.pipeline import build_pipeline
from ..errors import UserError
from ..evaluation.evaluate import evaluate
from ..models import build_model
from ..utils.device import resolve_device
from ..runtime import checkpoint as ckpt_io
from ..runtime.deployment import Deployment
from .dist import DistInfo, barrier, cleanup, init_distributed
from .ema import ExpMomentumEMA, unwrap
from .guards import DivergenceGuard, grad_norm
from .loading import load_pretrained, load_state, resume_source
from .logger import Scalars, fmt_eta, setup_logger
from .optim import build_optimizer
from .preflight import check_before_training
from .pretrained import resolve_weights
from .rng import restore_rng, rng_state, seed_everything
from .schedule import fit_config_schedule, format_schedule_table, schedule_from_config


LAST_CKPT_EVERY_S = 60.0


@dataclass
class TrainOptions:
    work_dir: Path
    config_path: str = "config.py"
    seed: int = 0
    resume: str | None = None  # None, 'auto' or a checkpoint path
    device: str = "auto"
    amp: bool = True
    progress: bool = True
    stop_after_iters: int | None = None  # for tests: simulate a kill after N iterations
    allow_arch_mismatch: bool = False  # load_from/--resume a checkpoint trained with another architecture


class Trainer:
    def __init__(self, cfg: Config, opts: TrainOptions):
        self.cfg, self.opts = cfg, opts
        self.device = resolve_device(opts.device)
        self.dist: DistInfo = init_distributed(self.device)
        if self.device == "cuda":
            self.device = f"cuda:{self.dist.local_rank}"
        main = self.dist.is_main
        self.work_dir = Path(opts.work_dir)
        self.log = setup_logger(self.work_dir if main else None, enabled=main)
        self.scalars = Scalars(self.work_dir / "tf_logs" if main else None)
        seed_everything(opts.seed + self.dist.rank)
        self._build()
        check_before_training(cfg, self.train_coco, self.val_coco, self.work_dir, self.log.warning, main)
        self.guard = DivergenceGuard(self.work_dir)
        self.epoch, self.iter, self.best = 0, 0, {"metric": -1.0, "path": None}
        self._last_saved: float | None = None
        # --resume with nothing to resume is a fresh run: it starts from load_from like one
        if not (opts.resume and self._resume(opts.resume)) and cfg.get("load_from"):
            self._load_pretrained(cfg.load_from)

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
        stretch = self.imgsz if self.preprocess.resize == "stretch" else None
        self.train_set = TrainDataset(self.train_coco, build_pipeline(cfg.train_pipeline, "train_pipeline"),
                                      build_pipeline(cfg.train_pipeline_stage2, "train_pipeline_stage2"),
                                      seed=self.opts.seed, stretch_to=stretch)
        model = build_model(cfg.model).to(self.device)
        if self.dist.enabled and self.device.startswith("cuda"):
            # SyncBN is GPU-only in torch; on CPU (gloo) DDP broadcasts rank 0's BN buffers instead.
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.model = model
        self.ema = ExpMomentumEMA(model, **cfg.ema)
        if self.dist.enabled:
            ids = [self.dist.local_rank] if self.device.startswith("cuda") else None
            self.model = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        self.criterion = build_criterion(cfg.criterion, len(self.classes))
        self.optimizer = build_optimizer(unwrap(self.model), cfg.optimizer)
        self.use_amp = self.opts.amp and self.device.startswith("cuda")
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)

    def _loader(self, epoch: int):
        self.train_set.set_epoch(epoch, use_stage2=epoch >= self.cfg.schedule["stage2_epoch"])
        per_rank = max(self.cfg.train_dataloader["batch_size"] // max(self.dist.world_size, 1), 1)
        return build_dataloader(self.train_set, per_rank, self.cfg.train_dataloader["num_workers"],
                                shuffle=True, seed=self.opts.seed, epoch=epoch, distributed=self.dist.enabled)

    def _load_pretrained(self, path: str) -> None:
        path = resolve_weights(path)
        report = load_pretrained(unwrap(self.model), path, self.cfg, self.opts.allow_arch_mismatch,
                                 self.log.warning)
        self.ema = ExpMomentumEMA(unwrap(self.model), **self.cfg.ema)
        self.log.info(f"load_from {path}: {report.summary()}")

    def _resume(self, resume: str) -> bool:
        path, ckpt = resume_source(resume, self.work_dir, self.cfg, self.classes, self.opts.allow_arch_mismatch,
                                   self.log.warning)
        if path is None:
            self.log.info(f"--resume: no checkpoint in {self.work_dir}, starting a new run")
            return False
        state = ckpt["resume"]
        load_state(unwrap(self.model), state["model"], path, "model")
        load_state(self.optimizer, state["optimizer"], path, "optimizer")
        load_state(self.ema, state["ema"], path, "EMA")
        self.scaler.load_state_dict(state.get("scaler", {}) or self.scaler.state_dict())
        self.epoch, self.iter, self.best = state["epoch"], state["iter"], state["best"]
        restore_rng(state["rng"])
        self.log.info(f"resumed from {path}: epoch {self.epoch}, iter {self.iter}")
        return True

    # ---- loop -------------------------------------------------------------------------------------
    def fit_schedule(self):
        """Fit the config's recipe to this run (engine/schedule.py) and write the result into the config,
        so the dumped config and every checkpoint hold what was used. Returns the FittedSchedule."""
        batch = int(self.cfg.train_dataloader["batch_size"])
        world = max(self.dist.world_size, 1)
        per_rank = max(batch // world, 1)
        iters = math.ceil(math.ceil(len(self.train_set) / world) / per_rank)
        fitted = fit_config_schedule(self.cfg, per_rank * world, iters)
        self.cfg.optimizer["lr"] = fitted.lr
        self.cfg.schedule.update(warmup_iters=fitted.warmup_iters, stage2_epoch=fitted.stage2_epoch,
                                 val_interval=fitted.val_interval)
        return fitted

    def train(self) -> dict:
        sched = self.cfg.schedule
        max_epochs = int(sched["max_epochs"])
        fitted = self.fit_schedule()
        val_epochs = set(fitted.val_epochs(max_epochs))
        if self.dist.is_main:
            dump_config(self.cfg, self.work_dir / Path(self.opts.config_path).name)
        self.log.info(f"training {len(self.train_coco)} images, {len(self.classes)} classes {self.classes}, "
                      f"imgsz {self.imgsz}, {max_epochs} epochs, device {self.device}, "
                      f"world size {self.dist.world_size}, work dir {self.work_dir}")
        self.log.info("schedule (names given in --cfg-options are used as given):\n"
                      + format_schedule_table(fitted.rows))
        metrics: dict = {}
        try:
            for epoch in range(self.epoch, max_epochs):
                if not self._train_epoch(epoch):
                    return {"stopped": True}
                self.epoch = epoch + 1
                if self.epoch in val_epochs:
                    metrics = self.validate()
                self._save(metrics)
            if self.dist.is_main and self.best.get("path"):
                self.log.info(f"best coco/bbox_mAP {self.best['metric']:.4f} at epoch {self.best['epoch']}: "
                              f"{self.best['path']}")
        finally:
            self.scalars.close()
            cleanup(self.dist)
        return metrics

    def _train_epoch(self, epoch: int) -> bool:
        loader = self._loader(epoch)
        n = len(loader)
        lr_fn = schedule_from_config(self.cfg.schedule, self.cfg.optimizer["lr"], n)
        total = int(self.cfg.schedule["max_epochs"]) * n
        self.model.train()
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{self.cfg.schedule['max_epochs']}", leave=False,
                   disable=not (self.opts.progress and self.dist.is_main), dynamic_ncols=True)
        t0 = t_data = time.perf_counter()
        for i, batch in enumerate(bar):
            data_time = time.perf_counter() - t_data
            lr = lr_fn(self.iter)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            losses = self._step(batch)
            self.iter += 1
            if self.opts.stop_after_iters is not None and self.iter >= self.opts.stop_after_iters:
                self.log.info(f"stopping after {self.iter} iterations (stop_after_iters)")
                return False
            bar.set_postfix(loss=f"{losses['loss']:.3f}", lr=f"{lr:.2e}")
            if self.dist.is_main and (self.iter % int(self.cfg.schedule["log_interval"]) == 0 or i == n - 1):
                spent = time.perf_counter() - t0
                eta = spent / (i + 1) * (total - self.iter)
                self.log.info(f"Epoch(train) [{epoch + 1}][{i + 1}/{n}] lr: {lr:.4e} eta: {fmt_eta(eta)} "
                              f"time: {spent / (i + 1):.3f} data_time: {data_time:.3f} "
                              + " ".join(f"{k}: {v:.4f}" for k, v in losses.items()))
                for k, v in losses.items():
                    self.scalars.add(f"train/{k}", v, self.iter)
                self.scalars.add("train/lr", lr, self.iter)
            t_data = time.perf_counter()
        self._sync_buffers()
        return True

    def _sync_buffers(self) -> None:
        """Without SyncBN (CPU/gloo) each rank's BN running stats follow its own batches: average them."""
        if not self.dist.enabled or self.device.startswith("cuda"):
            return
        world = float(self.dist.world_size)
        for buf in unwrap(self.model).buffers():
            if buf.dtype.is_floating_point:
                torch.distributed.all_reduce(buf)
                buf.div_(world)

    def _step(self, batch: dict) -> dict:
        inputs = self.preprocess.normalize(batch["inputs"]).to(self.device, non_blocking=True)
        gt_boxes = [b.to(self.device) for b in batch["gt_boxes"]]
        gt_labels = [lab.to(self.device) for lab in batch["gt_labels"]]
        with torch.autocast("cuda", enabled=self.use_amp):
            cls_scores, bbox_preds = self.model(inputs)
        out = self.criterion([c.float() for c in cls_scores], [b.float() for b in bbox_preds],
                             gt_boxes, gt_labels, tuple(inputs.shape[-2:]))
        loss = out["loss"]
        self.guard.check_loss(out, self.epoch, self.iter)  # NaN/inf or exploding: stop before the step
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        norm = grad_norm(self.model.parameters(), self.scaler.get_scale())
        self.guard.check_grad_norm(norm, self.epoch, self.iter)  # before the step touches the weights
        clip = self.cfg.schedule.get("grad_clip")
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
                               progress=self.opts.progress, log=self.log.info,
                               deployment=self.deployment)["metrics"]
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
            epoch=self.epoch, iteration=self.iter, resume=resume, metrics=metrics)

    def _save(self, metrics: dict) -> None:
        if not self.dist.is_main:
            barrier(self.dist)
            return
        sched = self.cfg.schedule
        final = self.epoch == int(sched["max_epochs"])
        self.guard.check_weights({"model": unwrap(self.model), "EMA": self.ema.module}, self.epoch, self.iter)
        self._save_best(metrics)
        periodic = self.epoch % int(sched["save_interval"]) == 0 or final
        # last.pth (for --resume) at most once a minute: short epochs would otherwise spend their time
        # writing it. Any epoch boundary is an exact resume point, so this only bounds the work lost.
        due = self._last_saved is None or time.monotonic() - self._last_saved >= LAST_CKPT_EVERY_S
        if not (periodic or due):
            barrier(self.dist)
            return
        ckpt = self._checkpoint(metrics)
        if periodic:
            path = self.work_dir / f"epoch_{self.epoch}.pth"
            ckpt_io.save_checkpoint(ckpt, path)
            ckpt_io.prune_epoch_checkpoints(self.work_dir, int(sched["max_keep_ckpts"]), {path})
            self.log.info(f"saved {path}")
        ckpt_io.save_checkpoint(ckpt, self.work_dir / "last.pth")
        self._last_saved = time.monotonic()
        barrier(self.dist)

    def _save_best(self, metrics: dict) -> None:
        """best_coco_bbox_mAP_epoch_N.pth when `metrics` beat the best so far (main process only)."""
        mAP = metrics.get("coco/bbox_mAP")
        if mAP is None or mAP <= self.best["metric"]:
            return
        old = self.best["path"]
        path = self.work_dir / f"best_coco_bbox_mAP_epoch_{self.epoch}.pth"
        self.best = {"metric": float(mAP), "path": str(path), "epoch": self.epoch}
        ckpt_io.save_checkpoint(self._checkpoint(metrics), path)
        if old and Path(old) != path:
            Path(old).unlink(missing_ok=True)
        self.log.info(f"best coco/bbox_mAP {mAP:.4f} at epoch {self.epoch}: {path.name}")
