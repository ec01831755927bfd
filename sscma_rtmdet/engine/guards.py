"""Divergence detection: stop a run whose loss, gradients or weights explode, before anything is saved.

A diverging run does not always reach NaN at once: its loss can sit at 1e14..1e19 for epochs while the
weights grow to ~1e35. `DivergenceGuard` stops it at the first sign, with one message for every cause:

- the loss is not finite, exceeds LOSS_CEILING, or exceeds RATIO x its running median (of the last
  WINDOW steps, once MIN_HISTORY steps are known);
- the gradient norm (unscaled, before clipping) exceeds RATIO x its running median the same way
  (non-finite gradients are left to the AMP GradScaler, which skips those steps);
- a weight or float buffer is non-finite or larger than WEIGHT_LIMIT in magnitude (checked before every
  save, so exploded weights never become `last.pth`; the checkpoints already written stay intact).
"""
from __future__ import annotations

import math
from collections import deque

import torch

from ..errors import UserError

RATIO = 1e3          # x running median of loss / grad norm
LOSS_CEILING = 1e6   # RTMDet's normalised losses are O(1); 1e6 is broken whatever the history
WEIGHT_LIMIT = 1e10  # |weight| or |buffer|: AdamW moves a weight by ~lr per step, trained nets stay far below
WINDOW = 200
MIN_HISTORY = 10


class TrainingDiverged(UserError):
    """The loss, gradients or weights exploded (or became NaN/inf); nothing was saved from the broken state."""


def diverged_message(what: str, epoch: int, iteration: int, work_dir, detail: str = "") -> str:
    return (f"{what} at epoch {epoch + 1}, iteration {iteration + 1}{f' ({detail})' if detail else ''}; "
            f"stopped without saving. Checkpoints already in {work_dir} are intact. Lower base_lr, "
            "set grad_clip (e.g. --cfg-options grad_clip=10.0) or check the annotations.")


class DivergenceGuard:
    """Call `check_loss` after the forward pass, `check_grad_norm` after backward (before the optimizer
    step) and `check_weights` before saving; each raises TrainingDiverged with `diverged_message`."""

    def __init__(self, work_dir, ratio: float = RATIO, window: int = WINDOW, min_history: int = MIN_HISTORY):
        self.work_dir, self.ratio, self.min_history = work_dir, ratio, min_history
        self.losses: deque = deque(maxlen=window)
        self.norms: deque = deque(maxlen=window)

    def _above_running(self, history: deque, value: float) -> float | None:
        """The running median when `value` exceeds ratio x it, else None."""
        if len(history) < self.min_history:
            return None
        median = float(torch.tensor(list(history)).median())
        return median if median > 0 and value > self.ratio * median else None

    def check_loss(self, out: dict, epoch: int, iteration: int) -> None:
        """out: the criterion's dict (scalar tensors `loss`, `loss_cls`, `loss_bbox`)."""
        loss = float(out["loss"].detach())
        detail = f"loss_cls={float(out['loss_cls'].detach()):.4g}, loss_bbox={float(out['loss_bbox'].detach()):.4g}"
        if not math.isfinite(loss):
            raise TrainingDiverged(diverged_message(f"loss became {loss}", epoch, iteration, self.work_dir, detail))
        running = self._above_running(self.losses, loss)
        if loss > LOSS_CEILING or running is not None:
            level = f"its running median {running:.4g}" if running is not None else f"the ceiling {LOSS_CEILING:g}"
            raise TrainingDiverged(diverged_message(f"loss exploded to {loss:.4g} (above {level})", epoch,
                                                    iteration, self.work_dir, detail))
        self.losses.append(loss)

    def check_grad_norm(self, norm: float, epoch: int, iteration: int) -> None:
        """norm: total L2 norm of the unscaled gradients."""
        if not math.isfinite(norm):
            return
        running = self._above_running(self.norms, norm)
        if running is not None:
            raise TrainingDiverged(diverged_message(
                f"gradient norm exploded to {norm:.4g} (above {self.ratio:g} x its running median {running:.4g})",
                epoch, iteration, self.work_dir))
        self.norms.append(norm)

    @torch.no_grad()
    def check_weights(self, modules: dict, epoch: int, iteration: int) -> None:
        """modules: {label: nn.Module}; every parameter and float buffer must be finite and <= WEIGHT_LIMIT."""
        for label, module in modules.items():
            tensors = list(module.named_parameters()) + list(module.named_buffers())
            for name, t in tensors:
                if not t.dtype.is_floating_point or t.numel() == 0:
                    continue
                peak = float(t.detach().abs().max())
                if not math.isfinite(peak) or peak > WEIGHT_LIMIT:
                    raise TrainingDiverged(diverged_message(
                        f"{label} weights exploded ({name}: max |value| {peak:.4g})", epoch - 1, iteration - 1,
                        self.work_dir))


def grad_norm(parameters, scale: float = 1.0) -> float:
    """Total L2 norm of the gradients divided by `scale` (the AMP loss scale)."""
    norms = [p.grad.detach().float().norm() for p in parameters if p.grad is not None]
    if not norms:
        return 0.0
    return float(torch.stack(norms).norm()) / scale
