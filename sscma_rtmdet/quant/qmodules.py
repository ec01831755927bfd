"""Fake-quant versions of the model's blocks, placed where the TFLite int8 graph quantizes.

Each class subclasses the float block and is installed by swapping `__class__` on an existing instance
(see `quant.qmodel.prepare_qat`), so parameter names and state_dict keys stay those of the float model plus
the quantizers' buffers. Quantization points (= TFLite tensors):
  conv+BN+act: BN folded into the conv, per-channel weights, output after the fused activation (ReLU/ReLU6/
  none); SiLU is LOGISTIC + MUL in TFLite, so conv output, sigmoid (1/256, -128) and product each quantize;
  residual add, concat (inputs requantized to the output grid), channel attention (mean, fc, hard-sigmoid,
  mul), box outputs (after the stride multiply), class logits and their sigmoid (eval only).
Max-pool and nearest resize keep their input's grid, so they need no quantizer. The head, the detector
(input normalisation) and the class tables are in qhead.py.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError
from ..export.int8 import SILU_INPUT_FLOOR
from ..models.fuse import fold_bn
from ..models.layers import CSPLayer, CSPNeXtBlock, ChannelAttention, ConvModule, SPPBottleneck
from ..models.pafpn import CSPNeXtPAFPN
from .fake_quant import ActQuant, fake_quant_weight

SIGMOID_QPARAMS = (1.0 / 256.0, -128)  # TFLite's fixed int8 grid of LOGISTIC outputs


class QConvModule(ConvModule):
    """ConvModule with BN folded (running stats) and fake-quantized weights/activations.

    While `bn_frozen` is False and training, BN running statistics still follow the batches (measured on
    the float conv output, without gradient); the forward always uses the folded running statistics,
    exactly what the exported graph computes.
    """

    quant_weights = True  # export.quant_disabled turns it off per instance to compare with the float graph

    def _init_quant(self) -> None:
        kind = type(self.act).__name__
        if kind not in ("ReLU", "ReLU6", "Identity", "SiLU", "Hardswish"):
            raise ConfigError(f"activation {kind} cannot be quantized; use relu, relu6, silu or hardswish")
        self.register_buffer("bn_frozen", torch.tensor(False))
        self.out_q = ActQuant()
        if kind in ("SiLU", "Hardswish"):  # not fused into the conv in TFLite: conv output is a tensor
            self.pre_q = ActQuant(floor=SILU_INPUT_FLOOR if kind == "SiLU" else None)
        if kind == "SiLU":
            self.sig_q = ActQuant(fixed=SIGMOID_QPARAMS)

    @torch.no_grad()
    def _update_bn(self, x: torch.Tensor) -> None:
        y = F.conv2d(x, self.conv.weight, self.conv.bias, self.conv.stride, self.conv.padding,
                     self.conv.dilation, self.conv.groups)
        mean, var = y.mean(dim=(0, 2, 3)), y.var(dim=(0, 2, 3), unbiased=True)
        m = self.bn.momentum
        self.bn.running_mean.mul_(1 - m).add_(mean, alpha=m)
        self.bn.running_var.mul_(1 - m).add_(var, alpha=m)
        self.bn.num_batches_tracked += 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and not bool(self.bn_frozen):
            self._update_bn(x)
        weight, bias = fold_bn(self.conv, self.bn)
        fold = self.__dict__.get("in_fold")  # (1, 3, 1, 1): the exporter folds 1/std into these weights
        if self.quant_weights:
            weight = fake_quant_weight(weight) if fold is None else fake_quant_weight(weight * fold) / fold
        y = F.conv2d(x, weight, bias, self.conv.stride, self.conv.padding,
                     self.conv.dilation, self.conv.groups)
        kind = type(self.act).__name__
        if kind == "SiLU":
            y = self.pre_q(y)
            y = y * self.sig_q(torch.sigmoid(y))
        elif kind == "Hardswish":
            y = self.act(self.pre_q(y))
        else:
            y = self.act(y)
        return self.out_q(y)


class QConv2d(nn.Conv2d):
    """Plain conv with bias (attention fc, prediction convs): per-channel weights, quantized output."""

    quant_weights = True

    def _init_quant(self) -> None:
        self.out_q = ActQuant()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = fake_quant_weight(self.weight) if self.quant_weights else self.weight
        y = self._conv_forward(x, weight, self.bias)
        return self.out_q(y) if hasattr(self, "out_q") else y


class QCSPNeXtBlock(CSPNeXtBlock):
    def _init_quant(self) -> None:
        self.add_q = ActQuant()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.pw(self.dw(self.conv1(x)))
        return self.add_q(x + out) if self.add_identity else out


class QChannelAttention(ChannelAttention):
    """mean -> fc -> hard-sigmoid -> mul, each TFLite tensor quantized."""

    def _init_quant(self) -> None:
        # The exporter writes hard-sigmoid as relu6(fc + 3) * (1/6) (export.onnx_export.xnnpack_gates):
        # TFLite folds the + 3 into the fc conv's bias and fuses the RELU6 (one tensor, gate_pre_q, on
        # [0, 6]), then MULs by the int8 constant 1/6 (exact: 127 steps of (1/6)/255 above zero point -128)
        # into a second tensor, gate_q.
        self.pool_q, self.gate_pre_q, self.gate_q, self.mul_q = ActQuant(), ActQuant(), ActQuant(), ActQuant()
        if isinstance(self.fc, QConv2d):
            del self.fc.out_q

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.gate_pre_q(F.relu6(self.fc(self.pool_q(self.pool(x))) + 3.0))
        return self.mul_q(x * self.gate_q(pre * (1.0 / 6.0)))


def _out_quant(m: nn.Module) -> ActQuant | None:
    """The quantizer of a block's output tensor (after prepare_qat swapped every class)."""
    if isinstance(m, QCSPNeXtBlock):
        return m.add_q if m.add_identity else _out_quant(m.pw)
    if isinstance(m, nn.Sequential) and len(m):
        return _out_quant(m[-1])
    if isinstance(m, (QConvModule, QCSPLayer)):
        return m.out_q if isinstance(m, QConvModule) else _out_quant(m.fuse)
    return None


def tie_inputs(cat_q: ActQuant, producers) -> None:
    for p in producers:
        q = _out_quant(p)
        if q is not None:
            q.tie_to(cat_q)


class QCSPLayer(CSPLayer):
    def _init_quant(self) -> None:
        self.cat_q = ActQuant()

    def tie_quant(self) -> None:
        tie_inputs(self.cat_q, [self.blocks, self.short])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.cat_q(torch.cat([self.blocks(self.main(x)), self.short(x)], dim=1))
        return self.fuse(self.attn(y))


class QSPPBottleneck(SPPBottleneck):
    def _init_quant(self) -> None:
        self.cat_q = ActQuant()

    def tie_quant(self) -> None:
        tie_inputs(self.cat_q, [self.reduce])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.reduce(x)
        pooled = self.pools(x) if not isinstance(self.pools, nn.ModuleList) else [p(x) for p in self.pools]
        return self.fuse(self.cat_q(torch.cat([x, *pooled], dim=1)))


class QCSPNeXtPAFPN(CSPNeXtPAFPN):
    def _init_quant(self) -> None:
        n = len(self.in_channels)
        self.td_cat_q = nn.ModuleList(ActQuant() for _ in range(n - 1))
        self.bu_cat_q = nn.ModuleList(ActQuant() for _ in range(n - 1))

    def tie_quant(self, backbone_stages=None) -> None:
        """Down-sampling convs share their bottom-up concat's grid. A reduce conv feeds two concats: the
        converter gives it the bottom-up one's grid (direct input) and requantizes its resized copy into
        the top-down concat, which td_cat_q models."""
        n = len(self.bu_cat_q)
        for i, q in enumerate(self.bu_cat_q):
            tie_inputs(q, [self.downsample[i], self.reduce[n - 1 - i]])

    def forward(self, feats):
        n = len(feats)
        inner = [feats[-1]]
        for j, i in enumerate(range(n - 1, 0, -1)):
            high = self.reduce[j](inner[0])
            inner[0] = high
            cat = self.td_cat_q[j](torch.cat([self.upsample(high), feats[i - 1]], dim=1))
            inner.insert(0, self.top_down[j](cat))
        outs = [inner[0]]
        for i in range(n - 1):
            down = self.downsample[i](outs[-1])
            outs.append(self.bottom_up[i](self.bu_cat_q[i](torch.cat([down, inner[i + 1]], dim=1))))
        return tuple(conv(x) for conv, x in zip(self.out_convs, outs))
