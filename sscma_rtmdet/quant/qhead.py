"""Fake-quant head and detector: the output tensors of the exported graph and its quantized input
normalisation (see qmodules for the blocks), and the float <-> QAT class tables `prepare_qat` swaps with."""
from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from ..runtime.wrapper import first_conv
from ..models.detector import RTMDet
from ..models.head import RTMDetSepBNHead, box_values
from ..models.layers import CSPLayer, CSPNeXtBlock, ChannelAttention, ConvModule, SPPBottleneck
from ..models.pafpn import CSPNeXtPAFPN
from ..runtime.layout import SCORE_RANGE_MIN
from ..targets import HALF_CELL
from .fake_quant import ActQuant, fake_quant, qparams_from_range
from .qmodules import (SIGMOID_QPARAMS, QChannelAttention, QConv2d, QConvModule, QCSPLayer, QCSPNeXtBlock,
                       QCSPNeXtPAFPN, QSPPBottleneck)

LOGIT_FLOOR = -30.0  # logit of a sigmoid output that int8 rounds to 0: far below any score_thr


class QRTMDetSepBNHead(RTMDetSepBNHead):
    """Logits come from quantized QConv2d preds; the box output quantizes where the exported graph's box
    tensor is (TFLite folds the stride multiply, or the half-cell add, into the reg conv): in pixels for
    layout 'nchw', in grid units plus the half cell for 'sscma' (`layout`, set by prepare_qat).

    In eval mode the logits are what the file outputs: 'nchw' maps them through the int8 sigmoid (1/256 grid)
    and back (0 -> LOGIT_FLOOR), 'sscma' quantizes the logits themselves (learned range); training keeps plain
    fake-quant logits for the loss.
    """

    layout = "nchw"

    def _init_quant(self) -> None:
        levels = len(self.strides)
        for conv in self.reg_preds:  # the reg conv's own output is the box tensor: box_q
            if isinstance(conv, QConv2d):
                del conv.out_q
        self.box_q = nn.ModuleList(ActQuant() for _ in range(levels))
        if self.layout == "nchw":
            self.score_q = nn.ModuleList(ActQuant(fixed=SIGMOID_QPARAMS) for _ in range(levels))
        else:  # logits on a learned grid floored like the exporter's (export.int8.score_floor_ranges)
            self.score_q = nn.ModuleList(ActQuant(floor=SCORE_RANGE_MIN) for _ in range(levels))

    def _quantized(self, feats):
        """(logits per level, quantized box values of the layout per level)."""
        cls_scores, reg = super().forward(feats, grid_units=True)
        return cls_scores, [q(b) for q, b in zip(self.box_q, box_values(reg, self.strides, self.layout))]

    def _eval_logits(self, cls_scores):
        if self.layout == "sscma":
            return [q(c) for q, c in zip(self.score_q, cls_scores)]
        scores = [q(c.sigmoid()) for q, c in zip(self.score_q, cls_scores)]
        return [torch.where(s > 0, torch.logit(s.clamp(max=1 - 1e-7)), torch.full_like(s, LOGIT_FLOOR))
                for s in scores]

    def forward(self, feats, grid_units: bool = False):
        cls_scores, values = self._quantized(feats)
        pixels = values if self.layout == "nchw" else [
            (v - v.new_tensor(HALF_CELL).view(1, 4, 1, 1)) * s for v, s in zip(values, self.strides)]
        boxes = [p / s for p, s in zip(pixels, self.strides)] if grid_units else pixels
        return (cls_scores if self.training else self._eval_logits(cls_scores)), boxes

    def deploy_outputs(self, feats, layout: str):
        if layout != self.layout:
            raise ConfigError(f"this QAT model was prepared for output layout {self.layout!r}, not {layout!r}")
        cls_scores, values = self._quantized(feats)
        return (cls_scores if self.training else self._eval_logits(cls_scores)), values


class QRTMDet(RTMDet):
    """The detector with its (normalised) input quantized: TFLite quantizes the in-graph normalisation.

    After `set_input_normalization`, the input is quantized as the exported graph computes it: MUL by
    1/std then ADD of -mean/std, each output quantized (in_mul_q, in_q), and both constants int8 themselves
    (per-tensor, as the converter stores them: 1/std is off by up to 0.2%). Modelling only the last rounding
    left 1-step input differences that later layers magnify (SiLU's sigmoid ~5x per layer).
    """

    def _init_quant(self) -> None:
        self.in_q = ActQuant()
        self.in_mul_q = None

    def set_input_normalization(self, scale, bias, exact: bool = False) -> None:
        """scale, bias (3,): network input = pixel * scale + bias (data.preprocess.Preprocess.affine).
        exact: a centred normalisation, folded into the first conv; the file's int8 input holds pixel - 128
        exactly, so nothing before the first conv is quantized."""
        object.__setattr__(self, "in_exact", bool(exact))  # a plain attribute: state_dict unchanged
        if exact:  # the first conv's weights are quantized as the file has them: times 1/std per input channel
            conv = first_conv(self)
            owner = next(m for m in self.modules() if getattr(m, "conv", None) is conv)
            object.__setattr__(owner, "in_fold", torch.as_tensor(scale, dtype=torch.float32).view(1, 3, 1, 1))
            return
        scale = torch.as_tensor(scale, dtype=torch.float32).view(1, 3, 1, 1)
        bias = torch.as_tensor(bias, dtype=torch.float32).view(1, 3, 1, 1)
        self.in_mul_q = ActQuant()
        for name, value in (("in_scale", scale), ("in_bias", bias)):
            self.register_buffer(name, value, persistent=False)
            self.register_buffer(name + "_q", _int8_constant(value), persistent=False)

    def forward(self, x: torch.Tensor, grid_units: bool = False):
        """x: (N,3,H,W) normalised input."""
        return self.head(self.quantized_features(x), grid_units=grid_units)

    def deploy_outputs(self, x: torch.Tensor, layout: str):
        return self.head.deploy_outputs(self.quantized_features(x), layout)

    def quantized_features(self, x: torch.Tensor):
        """Neck maps of the input quantized as the exported graph computes it (see the class docstring)."""
        if self.in_mul_q is not None:
            raw = (x - self.in_bias) / self.in_scale
            if bool(self.in_mul_q.enabled):
                x = self.in_mul_q(raw * self.in_scale_q) + self.in_bias_q
            else:  # the float graph with its exact constants; in_mul_q still sees the MUL (tensor matching)
                x = self.in_mul_q(raw * self.in_scale) + self.in_bias
        return self.extract_feats(x if self.__dict__.get("in_exact") else self.in_q(x))


def _int8_constant(c: torch.Tensor) -> torch.Tensor:
    """A constant tensor as the converter stores it: int8, one asymmetric scale over [min(c, 0), max(c, 0)]."""

    s, zp = qparams_from_range(min(float(c.min()), 0.0), max(float(c.max()), 0.0))
    return fake_quant(c, s, zp)


QAT_CLASSES = {ConvModule: QConvModule, nn.Conv2d: QConv2d, CSPNeXtBlock: QCSPNeXtBlock,
               ChannelAttention: QChannelAttention, CSPLayer: QCSPLayer, SPPBottleneck: QSPPBottleneck,
               CSPNeXtPAFPN: QCSPNeXtPAFPN, RTMDetSepBNHead: QRTMDetSepBNHead, RTMDet: QRTMDet}
FLOAT_CLASSES = {q: f for f, q in QAT_CLASSES.items()}
