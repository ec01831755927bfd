"""AdamW with no weight decay on normalisation parameters and biases, and an optional lr multiplier for the
backbone (mmdet paramwise_cfg)."""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.SyncBatchNorm, nn.GroupNorm, nn.LayerNorm)


def param_groups(model: nn.Module, weight_decay: float, norm_decay: bool = False,
                 bias_decay: bool = False, backbone_lr_mult: float = 1.0) -> list[dict]:
    """Split trainable params into decayed and non-decayed groups (each param once). With
    `backbone_lr_mult` != 1 the params under `model.backbone` get their own two groups carrying `lr_mult`
    (the trainer multiplies the scheduled lr by it); at 1 the layout stays two groups, so old runs resume."""
    split = backbone_lr_mult != 1.0
    # by qualified name, so graph-rewritten (QAT) copies that keep submodule names split the same way
    in_backbone = {id(p) for n, p in model.named_parameters() if n.startswith("backbone.")} if split else set()
    if split and not in_backbone:
        raise ConfigError("optimizer.backbone_lr_mult is set but the model has no backbone parameters; "
                          "remove the option")
    keys = [(False, True), (False, False)] + ([(True, True), (True, False)] if split else [])
    buckets: dict[tuple[bool, bool], list] = {k: [] for k in keys}  # (in backbone, decayed) -> params
    seen: set[int] = set()
    for module in model.modules():
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            exempt = (isinstance(module, _NORMS) and not norm_decay) or (name == "bias" and not bias_decay)
            buckets[(id(p) in in_backbone, not exempt)].append(p)
    groups = [{"params": params, "weight_decay": weight_decay if decayed else 0.0}
              for (_, decayed), params in buckets.items()]
    if split:
        for group, (backbone, _) in zip(groups, buckets):
            group["lr_mult"] = backbone_lr_mult if backbone else 1.0
    return groups


def build_optimizer(model: nn.Module, cfg, lr: float, **kernel) -> torch.optim.Optimizer:
    """AdamW from the config's `optimizer` dict (type, betas, norm_decay, bias_decay, backbone_lr_mult) and
    `weight_decay`, at learning rate `lr` (the fitted one; the schedule sets it per step, times each group's
    `lr_mult`). `kernel`: torch's implementation choice (fused=True / foreach=True / foreach=False;
    engine/speed.py); none by default (torch picks)."""
    opt = cfg.get("optimizer") or {}
    kind = opt.get("type", "AdamW")
    if kind != "AdamW":
        raise ConfigError(f"optimizer.type={kind!r} is not supported; use 'AdamW'")
    mult = opt.get("backbone_lr_mult", 1.0)
    if isinstance(mult, bool) or not isinstance(mult, (int, float)) or not 0.0 <= mult <= 10.0:
        raise ConfigError(f"optimizer.backbone_lr_mult={mult!r}: use a number from 0 to 10 "
                          "(--cfg-options optimizer.backbone_lr_mult=0.5)")
    groups = param_groups(model, float(cfg["weight_decay"]), opt.get("norm_decay", False),
                          opt.get("bias_decay", False), float(mult))
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=tuple(opt.get("betas", (0.9, 0.999))), **kernel)
    set_lr(optimizer, lr)
    return optimizer


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """The scheduled `lr` into every group, times the group's `lr_mult` (backbone_lr_mult; 1 elsewhere)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_mult", 1.0)
