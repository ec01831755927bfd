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

from collections.abc import Sequence

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


def _dummy(model: nn.Module, imgsz: Sequence[int]) -> torch.Tensor:
    try:
        ref = next(model.parameters())
        dtype, device = ref.dtype, ref.device
    except StopIteration:
        dtype, device = torch.float32, torch.device("cpu")
    h, w = int(imgsz[0]), int(imgsz[1])
    return torch.zeros(1, 3, h, w, dtype=dtype, device=device)


@torch.no_grad()
def count_flops(model: nn.Module, imgsz: Sequence[int]) -> int:
    """FLOPs (mmdet get_flops convention, see module doc) of one eval forward on 1x3xHxW, imgsz = (H, W)."""
    total = [0]

    def hook(module, inputs, out):
        total[0] += _flops(module, inputs, out)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, COUNTED)]
    was_training = model.training
    try:
        model.eval()
        model(_dummy(model, imgsz))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return total[0]


def _shapes(out) -> list[tuple[int, ...]]:
    if isinstance(out, torch.Tensor):
        return [tuple(out.shape)]
    if isinstance(out, (list, tuple)):
        return [s for o in out for s in _shapes(o)]
    return []


@torch.no_grad()
def summarize(model: nn.Module, imgsz: Sequence[int]) -> list[dict]:
    """One row per top-level part (backbone, neck, head): name, type, params, flops, output shapes.

    Parameters shared between parts would be counted in each; RTMDet parts share none.
    """
    rows, flops = [], {}
    parts = list(model.named_children())
    owner = {id(m): name for name, part in parts for m in part.modules()}
    outputs: dict[str, list] = {}

    def conv_hook(module, inputs, out):
        flops[owner[id(module)]] = flops.get(owner[id(module)], 0) + _flops(module, inputs, out)

    def part_hook(name):
        return lambda _m, _i, out: outputs.__setitem__(name, _shapes(out))

    handles = [m.register_forward_hook(conv_hook) for m in model.modules()
               if isinstance(m, COUNTED) and id(m) in owner]
    handles += [part.register_forward_hook(part_hook(name)) for name, part in parts]
    was_training = model.training
    try:
        model.eval()
        model(_dummy(model, imgsz))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    for name, part in parts:
        rows.append(dict(name=name, type=type(part).__name__, params=count_params(part),
                         flops=flops.get(name, 0), shapes=outputs.get(name, [])))
    return rows
