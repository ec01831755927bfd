"""The deploy wrapper: a detector as it is exported and run, (N,3,H,W) pixels -> named per-level outputs.

Output order (fixed): `score_s8, score_s16, score_s32, box_s8, box_s16, box_s32` (for strides 8/16/32),
i.e. all score outputs in stride order, then all box outputs ('yolov8': one `output0`); their shapes follow
the layout (runtime/layout.py). Every backend returns these names.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..data.preprocess import CENTRE, Preprocess
from ..errors import UserError
from ..models.fuse import folded_conv
from ..models.layers import ConvModule
from .layout import check_layout, graph_outputs, output_names

_INPUT_BUFFERS = ("in_scale", "in_bias", "in_scale_q", "in_bias_q")  # quant.qmodules.QRTMDet's




def model_strides(model: nn.Module) -> tuple[int, ...]:
    """Strides from the head (design: RTMDetSepBNHead.strides), falling back to the model attribute."""
    for owner in (getattr(model, "head", None), model):
        strides = getattr(owner, "strides", None)
        if strides is not None:
            return tuple(int(s[0] if isinstance(s, (tuple, list)) else s) for s in strides)
    return (8, 16, 32)


def as_preprocess(preprocess) -> Preprocess:
    return preprocess if isinstance(preprocess, Preprocess) else Preprocess.from_config(preprocess)


def first_conv(model: nn.Module) -> nn.Conv2d:
    """The convolution that reads the network input: the backbone's first Conv2d (3 input channels)."""
    for m in getattr(model, "backbone", model).modules():
        if isinstance(m, nn.Conv2d):
            if m.in_channels != 3 or m.groups != 1:
                break
            return m
    raise UserError(f"{type(model).__name__}: no 3-channel first convolution to fold the colour order into")


def with_input_flipped(model: nn.Module, scale: torch.Tensor | None = None) -> nn.Module:
    """Copy of `model` that takes its input channels reversed (RGB for a BGR-trained model): the first conv's
    input channels and any per-channel input constants reversed, so the flip costs no op in the graph.
    `scale` (3,) in the new input order multiplies the first conv's input channels (a folded 1/std)."""
    model = _scaled_input(model, scale.flip(0)) if scale is not None else copy.deepcopy(model)
    conv = first_conv(model)
    with torch.no_grad():
        conv.weight.copy_(conv.weight.flip(1))
    for name in _INPUT_BUFFERS:
        buf = getattr(model, name, None)
        if isinstance(buf, torch.Tensor) and buf.dim() == 4 and buf.shape[1] == 3:
            setattr(model, name, buf.flip(1))
    return model


def adapt_input_normalization(model: nn.Module, old: Preprocess, new: Preprocess) -> bool:
    """Re-express weights trained on `old`'s colour order and mean/std for `new`'s, in place: the first conv's
    input channels reordered and scaled by new.std / old.std, and the mean shift moved into its bias or the
    BatchNorm after it. Exact away from the image border (the conv's zero padding means another pixel value
    under each normalisation). Returns False when the two agree (nothing to do).

    old: x_o = (p - m_o) / s_o, new: x_n = (p - m_n) / s_n, so W x_o = W (s_n / s_o) x_n + W (m_n - m_o) / s_o.
    """
    same = [k for k in ("color", "mean", "std") if any(d.startswith(k + ":") for d in new.differences(old))]
    if not same:
        return False
    conv = first_conv(model)
    m_o, s_o = (torch.tensor(v, dtype=torch.float64) for v in (old.mean, old.std))
    m_n, s_n = (torch.tensor(v, dtype=torch.float64) for v in (new.mean, new.std))
    with torch.no_grad():
        w = conv.weight.double()
        if old.color != new.color:  # the old vectors and weights into the new channel order
            w, m_o, s_o = w.flip(1), m_o.flip(0), s_o.flip(0)
        shift = (w * ((m_n - m_o) / s_o).view(1, 3, 1, 1)).sum(dim=(1, 2, 3))  # (out,)
        conv.weight.copy_((w * (s_n / s_o).view(1, 3, 1, 1)).to(conv.weight))
        if conv.bias is not None:
            conv.bias.add_(shift.to(conv.bias))
        else:
            _bn_after(model, conv).running_mean.sub_(shift.to(conv.weight))
    return True


def _bn_after(model: nn.Module, conv: nn.Conv2d) -> nn.BatchNorm2d:
    """The BatchNorm2d applied to `conv`'s output (models.layers.ConvModule: .conv then .bn)."""
    for m in model.modules():
        if getattr(m, "conv", None) is conv and isinstance(getattr(m, "bn", None), nn.BatchNorm2d):
            return m.bn
    raise UserError(f"{type(model).__name__}: the first convolution has no bias and no BatchNorm after it; its "
                    "input normalisation cannot be changed")


def input_offset(preprocess, fold_normalization: bool = True) -> int:
    """What a graph's input is, as pixel - offset: 128 when a centred normalisation (data.preprocess.CENTRE) is
    folded into the first convolution, 0 for raw pixels (MUL + ADD in the graph) or a normalised input."""
    return int(CENTRE) if fold_normalization and as_preprocess(preprocess).centred else 0


class ExportWrapper(nn.Module):
    """Deployable RTMDet: (N,3,H,W) input -> tuple of outputs named by `output_names`.

    With `fold_normalization` the input is pixels in `input_color` order (default: the training order), NCHW,
    minus `input_offset`: for a centred normalisation (mean 128) the input is pixel - 128 and 1/std is folded
    into the first convolution's weights (exact: its zero padding is pixel 128, normalised 0), so the graph
    starts with that convolution; otherwise the input is raw pixels 0..255 and the normalisation runs as one
    multiply-add. A different `input_color` is folded into the first convolution. Without folding the input
    is `Preprocess.normalize`'s output (training order). `layout` picks the output shapes (runtime/layout.py).
    """

    def __init__(self, model: nn.Module, preprocess, fold_normalization: bool = True, layout: str = "nchw",
                 input_color: str | None = None):
        super().__init__()
        pre = as_preprocess(preprocess)
        self.input_color = input_color or pre.color
        if not fold_normalization and self.input_color != pre.color:
            raise UserError("an input colour order other than the training one needs the normalisation folded "
                            "into the graph (drop --no-fold-normalization)")
        self.fold_normalization = bool(fold_normalization)
        self.input_offset = input_offset(pre, fold_normalization)
        self.layout = check_layout(layout)
        flip = self.input_color != pre.color
        scale, bias = (torch.from_numpy(v).view(1, 3, 1, 1) for v in pre.affine())
        if flip:
            scale, bias = scale.flip(1), bias.flip(1)
        if self.input_offset:  # (pixel - 128) / std: 1/std into the first conv, nothing left for the graph
            self.model = with_input_flipped(model, scale.view(3)) if flip else _scaled_input(model, scale.view(3))
        else:
            self.model = with_input_flipped(model) if flip else model
        self.strides = model_strides(model)
        self.output_names = output_names(self.strides, self.layout)
        self.register_buffer("in_scale", scale, persistent=False)
        self.register_buffer("in_bias", bias, persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.fold_normalization and not self.input_offset:
            x = x * self.in_scale + self.in_bias
        cls_logits, boxes = self.model.deploy_outputs(x, self.layout)
        if len(cls_logits) != len(self.strides) or len(boxes) != len(self.strides):
            raise UserError(f"model returned {len(cls_logits)} score / {len(boxes)} box levels but the "
                            f"head declares strides {self.strides}")
        return graph_outputs(cls_logits, boxes, self.layout)

    def named(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """forward() as {output name: tensor}; the reference the backends are compared with."""
        return dict(zip(self.output_names, self.forward(x)))


def _scaled_input(model: nn.Module, scale: torch.Tensor) -> nn.Module:
    """Copy of `model` whose first convolution's input channels are multiplied by `scale` (3,), after its
    BatchNorm is folded in (models.fuse, as QAT's deploy model has it: the same float weights either way)."""
    model = copy.deepcopy(model)
    conv = first_conv(model)
    for m in model.modules():
        if type(m) is ConvModule and m.conv is conv and isinstance(m.bn, nn.BatchNorm2d):
            m.conv, m.bn = folded_conv(m.conv, m.bn), nn.Identity()
            conv = m.conv
    with torch.no_grad():
        conv.weight.mul_(scale.to(conv.weight).view(1, 3, 1, 1))
    _drop_input_fold(model, conv)
    return model


def _drop_input_fold(model: nn.Module, conv: nn.Conv2d) -> None:
    """A QAT model quantizes its first conv's weights as if 1/std were folded in (quant.qhead); once it is,
    they are quantized as they are."""
    for m in model.modules():
        if getattr(m, "conv", None) is conv:
            m.__dict__.pop("in_fold", None)
