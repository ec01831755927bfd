"""Learning-rate schedule as a pure function of the iteration (mmdet RTMDet recipe), and its fit to a run.

Linear warmup from `warmup_ratio * base_lr` over `warmup_iters`, flat until `flat_iters`, then cosine
down to `min_lr_ratio * base_lr` at `max_iters`. Warmup multiplies whatever the main schedule gives, as
mmengine's chained LinearLR + CosineAnnealingLR do.

`fit_schedule` adapts the recipe (written for 8 GPUs x 32 images and COCO's 118k images) to the run it is
given: the lr follows the real global batch, warmup is capped to a fraction of the run, and validation
happens about ten times. A run of the recipe's own size gets the recipe unchanged, and any name the user set
explicitly is used exactly as given. Stage 2 keeps the recipe's epoch count, at most `stage2_max_ratio` of
the run; a short run validates its (then long) stage 2 at the run's interval (docs/results.md, "The
short-run recipe").
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError

LR_RULES = ("sqrt", "linear", "none")


def lr_at(it: int, *, base_lr: float, max_iters: int, warmup_iters: int = 1000,
          warmup_ratio: float = 1e-5, flat_iters: int = 0, min_lr_ratio: float = 0.05) -> float:
    """Learning rate for 0-based iteration `it`."""
    if it < flat_iters:
        lr = base_lr
    else:
        span = max(max_iters - flat_iters, 1)
        progress = min(max((it - flat_iters) / span, 0.0), 1.0)
        min_lr = base_lr * min_lr_ratio
        lr = min_lr + (base_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if warmup_iters > 0 and it < warmup_iters:
        lr *= warmup_ratio + (1.0 - warmup_ratio) * it / warmup_iters
    return lr


def lr_function(cfg, fitted: "FittedSchedule", iters_per_epoch: int):
    """`f(it) -> lr` for a run: the fitted lr and warmup, the config's warmup_ratio and min_lr_ratio, flat for
    the first half of the epochs (mmdet's RTMDet: cosine from max_epochs // 2)."""
    max_epochs = int(cfg["max_epochs"])
    kwargs = dict(base_lr=fitted.lr, max_iters=max_epochs * iters_per_epoch, warmup_iters=fitted.warmup_iters,
                  warmup_ratio=float(cfg["warmup_ratio"]), flat_iters=(max_epochs // 2) * iters_per_epoch,
                  min_lr_ratio=float(cfg["min_lr_ratio"]))
    return lambda it: lr_at(it, **kwargs)


def batch_lr_scale(batch: int, ref_batch: int, rule: str) -> float:
    """lr multiplier for a global batch of `batch` when the recipe's lr is for `ref_batch`.

    'sqrt' is the square-root rule for Adam-type optimizers (the update's noise scales with 1/sqrt(batch));
    'linear' is SGD's rule; 'none' keeps the lr.
    """
    if rule not in LR_RULES:
        raise ConfigError(f"lr_scaling={rule!r}: use one of {', '.join(map(repr, LR_RULES))} "
                          "(--cfg-options lr_scaling=sqrt)")
    ratio = batch / ref_batch
    return {"sqrt": math.sqrt(ratio), "linear": ratio, "none": 1.0}[rule]


@dataclass(frozen=True)
class Recipe:
    """The schedule names of a config (top-level values), before fitting."""
    base_lr: float
    lr_ref_batch: int
    lr_scaling: str
    warmup_iters: int
    warmup_max_ratio: float
    max_epochs: int
    recipe_epochs: int
    stage2_num_epochs: int
    stage2_epoch: int
    val_interval: int
    val_count: int
    stage2_max_ratio: float = 1.0


@dataclass(frozen=True)
class FittedSchedule:
    lr: float
    warmup_iters: int
    stage2_epoch: int
    val_interval: int
    max_iters: int
    rows: tuple  # (name, recipe value, this run's value, why) for the start-of-training table
    val_stage2: bool = True  # also after every stage-2 epoch (a short stage 2, as the recipe's; not set by you)

    def as_dict(self) -> dict:
        """Plain values for checkpoint meta (the fitted schedule is never written back into the config)."""
        return dict(lr=self.lr, warmup_iters=self.warmup_iters, stage2_epoch=self.stage2_epoch,
                    val_interval=self.val_interval, max_iters=self.max_iters, val_stage2=self.val_stage2)

    def val_epochs(self, max_epochs: int) -> list[int]:
        """1-based epochs after which validation runs: every val_interval, the last, and (val_stage2)
        every stage-2 epoch."""
        return [e for e in range(1, max_epochs + 1) if e % self.val_interval == 0 or e == max_epochs
                or (self.val_stage2 and e > self.stage2_epoch)]


def fit_schedule(r: Recipe, batch: int, iters_per_epoch: int, explicit=frozenset()) -> FittedSchedule:
    """Fit recipe `r` to a run of `r.max_epochs` x `iters_per_epoch` iterations at global batch `batch`.

    `explicit`: names the user typed (config.typed); those keep their value. Rules:
    lr = base_lr * batch_lr_scale(batch, lr_ref_batch, lr_scaling);
    warmup = min(warmup_iters, warmup_max_ratio * iterations);
    stage 2 = the last min(stage2_num_epochs, round(stage2_max_ratio * max_epochs)) epochs (at least 1);
    val_interval = min(val_interval, max_epochs // val_count) (at least 1); every stage-2 epoch is validated
    too while stage 2 is at most 1/val_count of the run (the recipe: 20 of 300 epochs).
    """
    if r.val_interval < 1:
        raise ConfigError(f"val_interval={r.val_interval}: must be >= 1 (validation every N epochs; the last "
                          "epoch is always validated)")
    total = r.max_epochs * iters_per_epoch
    rows = []
    if "base_lr" in explicit:
        lr, why = r.base_lr, "set by you"
    else:
        scale = batch_lr_scale(batch, r.lr_ref_batch, r.lr_scaling)
        lr, why = r.base_lr * scale, f"{r.lr_scaling} rule: batch {batch} vs recipe {r.lr_ref_batch} (x{scale:.3g})"
    rows.append(("peak lr", f"{r.base_lr:.3g}", f"{lr:.3g}", why))
    if "warmup_iters" in explicit:
        warmup, why = r.warmup_iters, "set by you"
    else:
        cap = int(round(r.warmup_max_ratio * total))
        warmup = min(r.warmup_iters, cap)
        why = f"capped at {r.warmup_max_ratio:g} of the run" if warmup < r.warmup_iters else "recipe"
    rows.append(("warmup iters", str(r.warmup_iters), str(warmup), why))
    if explicit & {"stage2_epoch", "stage2_num_epochs"}:
        stage2, why = r.stage2_epoch, "set by you"
    else:
        n2 = max(min(r.stage2_num_epochs, int(round(r.stage2_max_ratio * r.max_epochs))), 1)
        stage2 = max(r.max_epochs - n2, 0)
        why = "recipe" if n2 == r.stage2_num_epochs else f"capped at {r.stage2_max_ratio:g} of the run"
        why = f"last {r.max_epochs - stage2} epochs ({why})"
    rows.append(("stage-2 epoch", str(max(r.recipe_epochs - r.stage2_num_epochs, 0)), str(stage2), why))
    if "val_interval" in explicit:
        val, val_stage2, why = r.val_interval, False, "set by you (no extra stage-2 validations)"
    else:
        val = max(min(r.val_interval, r.max_epochs // max(r.val_count, 1)), 1)
        val_stage2 = (r.max_epochs - stage2) * max(r.val_count, 1) <= r.max_epochs
        why = f"about {r.val_count} validations" + (", every epoch in stage 2" if val_stage2 else "")
    rows.append(("val interval", str(r.val_interval), str(val), why))
    fitted = FittedSchedule(lr, warmup, stage2, val, total, (), val_stage2)
    rows.insert(0, ("iterations", "", f"{total} ({r.max_epochs} x {iters_per_epoch})", ""))
    rows.append(("val epochs", "", "", _ranges(fitted.val_epochs(r.max_epochs))))
    return FittedSchedule(lr, warmup, stage2, val, total, tuple(rows), val_stage2)


def format_schedule_table(rows) -> str:
    """The fitted schedule as aligned text lines (name, recipe, this run, why)."""
    head = ("", "recipe", "this run", "")
    widths = [max(len(str(row[i])) for row in (head, *rows)) for i in range(3)]
    lines = []
    for row in (head, *rows):
        cells = [str(c).ljust(w) for c, w in zip(row[:3], widths)]
        lines.append("  ".join(cells) + ("  " + row[3] if row[3] else ""))
    return "\n".join(line.rstrip() for line in lines)


def _ranges(epochs: list[int]) -> str:
    """[5, 10, 15, 47, 48, 49, 50] -> '5, 10, 15, 47-50'."""
    parts, i = [], 0
    while i < len(epochs):
        j = i
        while j + 1 < len(epochs) and epochs[j + 1] == epochs[j] + 1:
            j += 1
        parts.append(str(epochs[i]) if j == i else f"{epochs[i]}-{epochs[j]}")
        i = j + 1
    return ", ".join(parts)


def fit_config_schedule(cfg, batch: int, iters_per_epoch: int) -> FittedSchedule:
    """`fit_schedule` on a Config's top-level names; the typed names are the explicit ones. Fitting never
    writes into the config, so fitting the config a run wrote gives the same result again."""
    from ..config.typed import typed_names

    explicit = set(typed_names(cfg))
    values = {"base_lr": cfg["base_lr"], "warmup_iters": cfg["warmup_iters"],
              "stage2_epoch": cfg["stage2_epoch"], "val_interval": cfg["val_interval"]}
    recipe = Recipe(base_lr=float(values["base_lr"]), lr_ref_batch=int(cfg.get("lr_ref_batch", batch)),
                    lr_scaling=str(cfg.get("lr_scaling", "none")), warmup_iters=int(values["warmup_iters"]),
                    warmup_max_ratio=float(cfg.get("warmup_max_ratio", 1.0)),
                    max_epochs=int(cfg["max_epochs"]), recipe_epochs=int(cfg.get("recipe_epochs", cfg["max_epochs"])),
                    stage2_num_epochs=int(cfg.get("stage2_num_epochs", 0)),
                    stage2_epoch=int(values["stage2_epoch"]), val_interval=int(values["val_interval"]),
                    val_count=int(cfg.get("val_count", 1)),
                    stage2_max_ratio=float(cfg.get("stage2_max_ratio", 1.0)))
    return fit_schedule(recipe, batch, iters_per_epoch, frozenset(explicit))
