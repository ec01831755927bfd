"""ExpMomentumEMA (mmdet/mmyolo): exponential moving average of parameters AND buffers.

momentum(step) = (1 - m) * exp(-(1 + step) / gamma) + m: large early (the average follows the model),
`m` later. The first update copies the model. Evaluated and exported weights are the averaged ones.
"""
from __future__ import annotations

import copy
import math

import torch
from torch import nn


class ExpMomentumEMA:
    def __init__(self, model: nn.Module, momentum: float = 0.0002, gamma: float = 2000):
        # always the ordinary layout, whatever the training model's memory format: checkpoints, validation and
        # export see plain contiguous tensors (the average itself does not depend on strides)
        self.module = copy.deepcopy(unwrap(model)).to(memory_format=torch.contiguous_format).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self.momentum = float(momentum)
        self.gamma = float(gamma)
        self.steps = 0

    def momentum_at(self, step: int) -> float:
        return (1 - self.momentum) * math.exp(-(1 + step) / self.gamma) + self.momentum

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        # named_parameters/named_buffers list a shared tensor once; state_dict() repeats it under every
        # name that refers to it (RTMDet's shared head convs), which would average it several times.
        src = _tensors(unwrap(model))
        m = self.momentum_at(self.steps)
        avg_f, cur_f, avg_o, cur_o = [], [], [], []
        for name, avg in _tensors(self.module).items():
            cur = src[name].detach()
            if self.steps == 0 or not avg.dtype.is_floating_point:
                avg_o.append(avg)
                cur_o.append(cur)
            else:
                avg_f.append(avg)
                cur_f.append(cur.to(avg.dtype))
        # one foreach call per op instead of two per tensor: the same mul_/add_ arithmetic, fewer dispatches
        if avg_o:
            torch._foreach_copy_(avg_o, cur_o)
        if avg_f:
            torch._foreach_mul_(avg_f, 1 - m)
            torch._foreach_add_(avg_f, cur_f, alpha=m)
        self.steps += 1

    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "steps": self.steps,
                "momentum": self.momentum, "gamma": self.gamma}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.steps = int(state["steps"])


def _tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    return {**dict(model.named_parameters()), **dict(model.named_buffers())}


def unwrap(model: nn.Module) -> nn.Module:
    """The bare model inside DistributedDataParallel/DataParallel."""
    return model.module if hasattr(model, "module") and isinstance(model.module, nn.Module) else model
