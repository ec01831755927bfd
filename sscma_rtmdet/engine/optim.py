"""AdamW with no weight decay on normalisation parameters and biases (mmdet paramwise_cfg)."""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.SyncBatchNorm, nn.GroupNorm, nn.LayerNorm)


def param_groups(model: nn.Module, weight_decay: float, norm_decay: bool = False,
                 bias_decay: bool = False) -> list[dict]:
    """Split trainable params into decayed and non-decayed groups (each param once)."""
    decay, no_decay, seen = [], [], set()
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            is_norm = isinstance(module, _NORMS)
            is_bias = name == "bias"
            if (is_norm and not norm_decay) or (is_bias and not bias_decay):
                no_decay.append(p)
            else:
                decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, cfg, lr: float, **kernel) -> torch.optim.Optimizer:
    """AdamW from the config's `optimizer` dict (type, betas, norm_decay, bias_decay) and `weight_decay`, at
    learning rate `lr` (the fitted one; the schedule sets it per step). `kernel`: torch's implementation choice
    (fused=True / foreach=True / foreach=False; engine/speed.py); none by default (torch picks)."""
    opt = cfg.get("optimizer") or {}
    kind = opt.get("type", "AdamW")
    if kind != "AdamW":
        raise ConfigError(f"optimizer.type={kind!r} is not supported; use 'AdamW'")
    groups = param_groups(model, float(cfg["weight_decay"]), opt.get("norm_decay", False), opt.get("bias_decay", False))
    return torch.optim.AdamW(groups, lr=lr, betas=tuple(opt.get("betas", (0.9, 0.999))), **kernel)
