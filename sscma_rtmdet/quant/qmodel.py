"""Turn a float RTMDet into its fake-quant twin, drive the observer/BN schedule, and fold it for export.

    qmodel = prepare_qat(model)          # deep copy; same forward outputs (logits, boxes), fake-quantized
    calibrate(qmodel, batches)           # global min/max over eval-preprocessed images (TFLite's rule)
    set_observer_mode(qmodel, MODE_AVERAGE) ... MODE_FROZEN; freeze_bn(qmodel)
    float_model = deploy_model(qmodel)   # BN folded into conv biases: what goes to ONNX/TFLite
    learned_qparams(qmodel)              # {quant point name: (scale, zero_point)}
"""
from __future__ import annotations

import contextlib
import copy
from typing import Iterable

import torch
from torch import nn

from ..errors import ConfigError
from ..models.detector import RTMDet
from ..runtime.layout import check_layout
from .fake_quant import MODE_AVERAGE, MODE_CALIBRATE, ActQuant
from .qhead import FLOAT_CLASSES, QAT_CLASSES
from .qmodules import QConvModule, fold_bn, tie_inputs


def prepare_qat(model: nn.Module, preprocess=None, layout: str = "nchw") -> nn.Module:
    """Deep copy of `model` (an RTMDet) with every block swapped for its fake-quant version.

    preprocess (mean/std): the exported graph normalises in two quantized steps, raw * (1/std) then
    + (-mean/std); given it, the fake-quant input does the same (without, one quantizer after normalising).
    layout: the output layout of the file it will be exported to (runtime/layout.py): where the head's
    outputs quantize.

    Raises ConfigError for a model with layers the int8 path does not model (e.g. another backbone).
    """
    if not isinstance(model, RTMDet):
        raise ConfigError(f"QAT needs an RTMDet detector, got {type(model).__name__}")
    qmodel = copy.deepcopy(model)
    unknown = sorted({type(m).__name__ for m in qmodel.modules() if _unsupported(m)})
    if unknown:
        raise ConfigError(f"the model has layers QAT cannot quantize: {unknown}; quantization-aware training "
                          "supports the CSPNeXt backbone, CSPNeXtPAFPN neck and RTMDetSepBNHead")
    swapped: dict[int, nn.Module] = {}
    for m in qmodel.modules():
        qcls = QAT_CLASSES.get(type(m))
        if qcls is not None:
            m.__class__ = qcls
            swapped[id(m)] = m
    # convs inside ConvModules are run by the QConvModule itself: undo their QConv2d swap
    for m in qmodel.modules():
        if isinstance(m, QConvModule) and type(m.conv) is not nn.Conv2d:
            m.conv.__class__ = nn.Conv2d
            swapped.pop(id(m.conv), None)
    qmodel.head.layout = check_layout(layout)
    # children first, so a parent can adjust its children's quantizers
    for m in reversed(list(swapped.values())):
        m._init_quant()
    for m in qmodel.modules():
        if hasattr(m, "tie_quant"):
            m.tie_quant()
    _tie_backbone_outputs(qmodel)
    if preprocess is not None:
        qmodel.set_input_normalization(*preprocess.affine(), exact=preprocess.centred)
    return qmodel


def _tie_backbone_outputs(qmodel: nn.Module) -> None:
    """Backbone maps feeding the neck's top-down concats get those concats' grid (as the converter does)."""

    backbone, neck = qmodel.backbone, qmodel.neck
    if not hasattr(backbone, "stages") or not hasattr(neck, "td_cat_q"):
        return
    outs = [backbone.stem if i == 0 else backbone.stages[i - 1].csp for i in backbone.out_indices]
    n = len(outs)
    for j, i in enumerate(range(n - 1, 0, -1)):
        tie_inputs(neck.td_cat_q[j], [outs[i - 1]])


_LEAF_OK = (nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.Hardsigmoid, nn.Identity,
            nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.Upsample)


def _unsupported(m: nn.Module) -> bool:
    if type(m) in QAT_CLASSES or isinstance(m, (nn.ModuleList, nn.Sequential, ActQuant)):
        return False
    if next(m.children(), None) is None:
        return not isinstance(m, _LEAF_OK)
    # containers defined by our backbone (Stage, CSPNeXt, MaxPoolChain) only sequence supported blocks
    return type(m).__module__.split(".")[-1] not in ("cspnext", "layers")


def quantizers(model: nn.Module) -> dict[str, ActQuant]:
    return {name: m for name, m in model.named_modules() if isinstance(m, ActQuant)}


def set_observer_mode(model: nn.Module, mode: int) -> None:
    for q in quantizers(model).values():
        q.set_mode(mode)


def freeze_bn(model: nn.Module, frozen: bool = True) -> None:
    for m in model.modules():
        if isinstance(m, QConvModule):
            m.bn_frozen.fill_(frozen)


@torch.no_grad()
def calibrate(model: nn.Module, batches: Iterable[torch.Tensor]) -> int:
    """Set every observed range to the global min/max over `batches` (normalised (N,3,H,W)); then the
    observers switch to moving-average mode. Weights and BN statistics are untouched. Returns #batches."""
    was_training = model.training
    model.eval()
    for q in quantizers(model).values():
        q.seen.fill_(False)
    set_observer_mode(model, MODE_CALIBRATE)
    n = 0
    for x in batches:
        model(x)
        n += 1
    if n == 0:
        raise ConfigError("QAT calibration got no images; check the training set")
    set_observer_mode(model, MODE_AVERAGE)
    model.train(was_training)
    return n


def learned_qparams(model: nn.Module) -> dict[str, tuple[float, int]]:
    """{quantizer name: (scale, zero_point)} for every quantizer that has a range."""
    return {name: q.qparams() for name, q in quantizers(model).items() if q.has_range()}


@torch.no_grad()
def deploy_model(qmodel: nn.Module) -> nn.Module:
    """Float RTMDet computing what the int8 graph approximates: BN folded into each conv (bias added), BN
    replaced by Identity. Its weights are the float values the converter quantizes per channel with the same
    rule as `fake_quant_weight`, so the exported int8 weights equal the QAT ones."""
    model = copy.deepcopy(qmodel).eval()
    for m in list(model.modules()):
        if isinstance(m, QConvModule):
            weight, bias = fold_bn(m.conv, m.bn)
            conv = nn.Conv2d(m.conv.in_channels, m.conv.out_channels, m.conv.kernel_size, m.conv.stride,
                             m.conv.padding, m.conv.dilation, m.conv.groups, bias=True)
            conv.weight.copy_(weight)
            conv.bias.copy_(bias)
            m.conv, m.bn = conv, nn.Identity()
    for m in list(model.modules()):
        fcls = FLOAT_CLASSES.get(type(m))
        if fcls is not None:
            m.__class__ = fcls
        for name, child in list(m.named_children()):
            if isinstance(child, ActQuant):
                delattr(m, name)
            elif isinstance(child, nn.ModuleList) and len(child) and all(isinstance(c, ActQuant) for c in child):
                delattr(m, name)
    return model


@contextlib.contextmanager
def jittered_ranges(model: nn.Module, seed: int, rel: float = 1e-4):
    """Inside: every learned activation range scaled by (1 + e), e ~ U(-rel, rel) per quantizer (fixed and tied
    quantizers follow their own rule). A change far below anything that matters, it only moves values lying
    near a rounding boundary: another int8 realization of the same model, like the exported file is one.

    Measured on the demo nanos (60 val images): such realizations spread over 0.4 (ReLU) and 1.3 (SiLU) AP
    points, so one fake-quant AP and one file AP can differ by that much with nothing wrong.
    """
    gen = torch.Generator().manual_seed(int(seed))
    saved = []
    for q in quantizers(model).values():
        if q.fixed is not None or q.tied is not None or not q.has_range():
            continue
        e = float(torch.empty(1).uniform_(-rel, rel, generator=gen))
        saved.append((q, q.lo.clone(), q.hi.clone()))
        q.lo.mul_(1 + e), q.hi.mul_(1 + e)
    try:
        yield model
    finally:
        for q, lo, hi in saved:
            q.lo.copy_(lo), q.hi.copy_(hi)
