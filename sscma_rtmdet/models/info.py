"""Model size: parameter count, FLOPs and a per-module summary.

FLOPs convention = mmdet's tools/analysis_tools/get_flops.py (mmengine's fvcore-style FlopAnalyzer)
at batch 1, eval mode, 1 multiply-add = 1 FLOP:
- Conv2d: out elements x in_ch/groups x kh x kw (bias not counted); Linear: out elements x in_features
- BatchNorm2d (eval, affine): 2 x elements; nearest Upsample: output elements;
  AdaptiveAvgPool2d: input elements
- not counted: activations, max-pools, concat, residual adds, the channel-attention multiply.
With these rules RTMDet-tiny at 640x640 gives exactly mmdet's 8,089,002,240.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import nn


def count_params(model: nn.Module) -> int:
    """Number of distinct parameters (shared head convs counted once, as torch and mmdet do)."""
    return sum(p.numel() for p in model.parameters())


COUNTED = (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.Upsample, nn.AdaptiveAvgPool2d)


def _flops(module: nn.Module, inputs: tuple, out: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return out.numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return out.numel() * module.in_features
    if isinstance(module, nn.BatchNorm2d):
        return out.numel() * (2 if module.affine else 1)
    if isinstance(module, nn.Upsample):
        return out.numel()
    if isinstance(module, nn.AdaptiveAvgPool2d):
        return inputs[0].numel()
    return 0


def _shadow(model: nn.Module) -> nn.Module:
    """Eval-mode copy on the meta device: shapes without arithmetic, the caller's model untouched."""
    shadow = copy.deepcopy(model)
    return shadow.to("meta").eval()


def _forward(model: nn.Module, imgsz: Sequence[int], hooks: dict[nn.Module, Callable]) -> None:
    """Run `model` on a zero 1x3xHxW input with forward hooks attached, then detach them."""
    handles = [m.register_forward_hook(fn) for m, fn in hooks.items()]
    try:
        ref = next(model.parameters(), torch.empty(0))
        with torch.no_grad():
            model(torch.zeros(1, 3, int(imgsz[0]), int(imgsz[1]), dtype=ref.dtype, device=ref.device))
    finally:
        for h in handles:
            h.remove()


def count_flops(model: nn.Module, imgsz: Sequence[int]) -> int:
    """FLOPs (mmdet get_flops convention, see module doc) of one eval forward on 1x3xHxW, imgsz = (H, W)."""
    shadow = _shadow(model)
    total = [0]

    def hook(module, inputs, out):
        total[0] += _flops(module, inputs, out)

    _forward(shadow, imgsz, {m: hook for m in shadow.modules() if isinstance(m, COUNTED)})
    return total[0]


def _shapes(out) -> list[tuple[int, ...]]:
    if isinstance(out, torch.Tensor):
        return [tuple(out.shape)]
    if isinstance(out, (list, tuple)):
        return [s for o in out for s in _shapes(o)]
    return []


def summarize(model: nn.Module, imgsz: Sequence[int]) -> list[dict]:
    """One row per top-level part (backbone, neck, head): name, type, params, flops, output shapes
    (a flat list of (N, C, H, W); the head gives all cls maps, then all bbox maps)."""
    shadow = _shadow(model)
    parts = list(shadow.named_children())
    owner = {id(m): name for name, part in parts for m in part.modules()}
    flops: dict[str, int] = {}
    outputs: dict[str, list] = {}

    def count(module, inputs, out):
        flops[owner[id(module)]] = flops.get(owner[id(module)], 0) + _flops(module, inputs, out)

    def record(name):
        return lambda _m, _i, out: outputs.__setitem__(name, _shapes(out))

    hooks: dict[nn.Module, Callable] = {m: count for m in shadow.modules()
                                        if isinstance(m, COUNTED) and id(m) in owner}
    hooks.update({part: record(name) for name, part in parts})  # parts are containers, never COUNTED
    _forward(shadow, imgsz, hooks)
    return [dict(name=name, type=type(part).__name__, params=count_params(part), flops=flops.get(name, 0),
                 shapes=outputs.get(name, [])) for name, part in parts]
