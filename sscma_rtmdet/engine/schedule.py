"""Learning-rate schedule as a pure function of the iteration (mmdet RTMDet recipe).

Linear warmup from `warmup_ratio * base_lr` over `warmup_iters`, flat until `flat_iters`, then cosine
down to `min_lr_ratio * base_lr` at `max_iters`. Warmup multiplies whatever the main schedule gives, as
mmengine's chained LinearLR + CosineAnnealingLR do.
"""
from __future__ import annotations

import math


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


def schedule_from_config(schedule: dict, base_lr: float, iters_per_epoch: int):
    """Bind the config's `schedule` dict to `lr_at`; returns `f(it) -> lr`."""
    max_iters = schedule["max_epochs"] * iters_per_epoch
    kwargs = dict(base_lr=base_lr, max_iters=max_iters, warmup_iters=int(schedule["warmup_iters"]),
                  warmup_ratio=float(schedule["warmup_ratio"]),
                  flat_iters=int(schedule["flat_epochs"]) * iters_per_epoch,
                  min_lr_ratio=float(schedule["min_lr_ratio"]))
    return lambda it: lr_at(it, **kwargs)
