"""Starting a run from a checkpoint: `load_from` weights and `--resume` state, with clear errors.

Both refuse a checkpoint of ours trained with another architecture (`allow_arch_mismatch` downgrades that to
a warning); `--resume` also refuses another class count or order (runtime.deployment.class_change, the
rule tools/test.py applies too; renamed classes with the same ids only warn), and a state that does not fit
the model or optimizer is summarised (counts and first keys) instead of torch's full key dump. `--resume`
without a path falls back to the newest readable checkpoint when `last.pth` is truncated, and says which.
"""
from __future__ import annotations

from pathlib import Path

from ..data.build import preprocess_of
from ..data.preprocess import Preprocess
from ..errors import CheckpointError
from ..models.convert import load_checkpoint
from ..runtime import checkpoint as ckpt_io
from ..runtime.deployment import class_change
from ..runtime.wrapper import adapt_input_normalization


def load_pretrained(model, path, cfg, allow_arch_mismatch: bool, log):
    """`load_from`: weights of `path` into `model` (other class counts skip the head), re-expressed for the
    config's input normalisation; returns the LoadReport (`note`: the re-expression, or None)."""

    ckpt = ckpt_io.load_checkpoint_file(path)
    ckpt_io.check_architecture(ckpt, path, cfg, allow=allow_arch_mismatch, log=log)
    held = []  # the loader's account, said once with the re-expression below
    report = load_checkpoint(model, ckpt, name=str(path), model_cfg=cfg.model, log=held.append)
    report.note = adapt_preprocess(model, ckpt, preprocess_of(cfg))
    for message in held:
        log(f"load_from {message}" + (f"; {report.note}" if report.note else ""))
    return report


def adapt_preprocess(model, ckpt: dict, new) -> str | None:
    """Weights of a checkpoint trained with another colour order or mean/std (e.g. mmdetection's mean, for a
    config whose centred mean folds into the device file) re-expressed for the config's (exact away from the
    border); returns what was done, in words (None: nothing). A checkpoint without the record is taken as is."""
    record = ((ckpt.get("meta") or {}).get("deployment") or {}).get("preprocess") if ckpt_io.is_ours(ckpt) else None
    if not record:
        return None
    old = Preprocess.from_config(record)
    if not adapt_input_normalization(model, old, new):
        return None
    return (f"its first convolution re-expressed from mean {list(old.mean)} / std {list(old.std)} ({old.color}) "
            f"to the config's {list(new.mean)} / {list(new.std)} ({new.color})")


def resume_source(spec: str, work_dir, cfg, classes: list[str], allow_arch_mismatch: bool, log):
    """(path, checkpoint) to resume from, or (None, None) when `spec == 'auto'` finds nothing."""
    if spec == "auto":
        path, ckpt = ckpt_io.load_resumable(work_dir, log)
        if path is None:
            return None, None
    else:
        path = Path(spec)
        ckpt = ckpt_io.load_checkpoint_file(path)
    if not ckpt_io.is_ours(ckpt) or not ckpt.get("resume"):
        raise CheckpointError(f"{path} has no training state to resume from (it is a weights-only file)")
    problem, note = class_change(ckpt_io.checkpoint_classes(ckpt) or list(classes), list(classes))
    if problem:
        raise CheckpointError(
            f"--resume: {path} was trained on {problem}; --resume continues the same run. To start a new run "
            f"from its weights use --cfg-options load_from={path} (without --resume)")
    if note:
        log(f"--resume: {note} since {path}; continuing with the dataset's names")
    _check_resume_imgsz(ckpt, path, cfg)
    ckpt_io.check_architecture(ckpt, path, cfg, allow=allow_arch_mismatch, log=log)
    return path, ckpt


def _check_resume_imgsz(ckpt: dict, path, cfg) -> None:
    """--resume continues a run at its input size: its best AP and schedule were measured at that size."""
    from ..data.build import imgsz_of

    trained = ((ckpt.get("meta") or {}).get("deployment") or {}).get("imgsz")
    now = imgsz_of(cfg)
    if isinstance(trained, (list, tuple)) and len(trained) == 2 and tuple(trained) != now:
        raise CheckpointError(
            f"--resume: {path} was trained at imgsz {trained[0]}x{trained[1]} but this run asks for {now[0]}x{now[1]} "
            f"(--imgsz or imgsz=); --resume continues the same run at its size: drop the new size, or start a new "
            f"run from its weights with --cfg-options load_from={path} (without --resume)")


def _short(keys: list[str], n: int = 3) -> str:
    return ", ".join(keys[:n]) + (f", ... (+{len(keys) - n})" if len(keys) > n else "")


def state_mismatch(own: dict, given: dict) -> str | None:
    """None when `given` (a state_dict) fits `own` key for key and shape for shape, else a short account."""
    if not isinstance(given, dict):
        return f"expected a state_dict, found {type(given).__name__}"
    missing = sorted(set(own) - set(given))
    unexpected = sorted(set(given) - set(own))
    shapes = sorted(k for k in set(own) & set(given) if hasattr(own[k], "shape") and hasattr(given[k], "shape")
                    and tuple(own[k].shape) != tuple(given[k].shape))
    parts = [f"{len(v)} {name} (e.g. {_short(v)})" for name, v in
             (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes)) if v]
    return "; ".join(parts) or None


def load_state(target, state, path, what: str) -> None:
    """target.load_state_dict(state) with a CheckpointError naming `path` and `what` when it does not fit."""
    if what == "model":
        problem = state_mismatch(target.state_dict(), state)
        if problem:
            raise CheckpointError(f"--resume: the model in {path} does not fit the model of this config: "
                                  f"{problem}; resume with the config of that run, or start a new run with "
                                  f"--cfg-options load_from={path}")
    try:
        target.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError, TypeError) as e:
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"--resume: the {what} state in {path} does not fit this run ({first}); resume "
                              f"with the config of that run, or start a new run with "
                              f"--cfg-options load_from={path}") from None


def load_pretrained_into(trainer, path) -> None:
    """`load_from`: the weights into the trainer's model (a fresh EMA of them), reported once."""
    from .ema import ExpMomentumEMA, unwrap

    report = load_pretrained(unwrap(trainer.model), path, trainer.cfg, trainer.opts.allow_arch_mismatch,
                             trainer.log.warning)
    trainer.ema = ExpMomentumEMA(unwrap(trainer.model), **trainer.cfg.ema)
    if not (report.skipped or report.ignored or report.not_loaded):  # those were logged with the summary
        trainer.log.info(f"load_from {path}: {report.summary()}" + (f"; {report.note}" if report.note else ""))


def resume_into(trainer, spec: str) -> bool:
    """--resume: model, optimizer, EMA, scaler, counters, best and RNG of a checkpoint into the trainer;
    False when `spec == 'auto'` finds nothing to resume."""
    from .ema import unwrap
    from .rng import restore_rng

    path, ckpt = resume_source(spec, trainer.work_dir, trainer.cfg, trainer.classes,
                               trainer.opts.allow_arch_mismatch, trainer.log.warning)
    if path is None:
        trainer.log.info(f"--resume: no checkpoint in {trainer.work_dir}, starting a new run")
        return False
    state = ckpt["resume"]
    load_state(unwrap(trainer.model), state["model"], path, "model")
    load_state(trainer.optimizer, state["optimizer"], path, "optimizer")
    load_state(trainer.ema, state["ema"], path, "EMA")
    trainer.scaler.load_state_dict(state.get("scaler", {}) or trainer.scaler.state_dict())
    trainer.epoch, trainer.iter = state["epoch"], state["iter"]
    trainer.best = {"metric": float(state["best"].get("metric", -1.0)), "epoch": state["best"].get("epoch")}
    restore_rng(state["rng"])
    trainer.log.info(f"resumed from {path}: epoch {trainer.epoch}, iter {trainer.iter}")
    return True
