"""Fake quantization with TFLite int8 semantics (straight-through gradients).

* Activations: per-tensor asymmetric int8 [-128, 127]. (scale, zero_point) come from a float range
  [lo, hi] exactly as the TFLite MLIR quantizer derives them: the range is widened to contain 0,
  scale = (hi - lo) / 255, zero_point = round(-128 - lo / scale) clamped to [-128, 127].
* Weights: per-output-channel symmetric int8 [-127, 127], scale = max|w| / 127 (the converter's rule),
  rounding half away from zero (std::round).

`ActQuant` is an observer + fake-quantizer: it records a range while observing (global min/max while
calibrating, a moving average while training) and quantizes with the current range; `freeze()` stops the
range from moving. Its state lives in buffers so checkpoints and the EMA copy carry it.
"""
from __future__ import annotations

import torch
from torch import nn

QMIN, QMAX = -128, 127
W_QMAX = 127
MODE_CALIBRATE, MODE_AVERAGE, MODE_FROZEN = 0, 1, 2


def round_half_away(x: torch.Tensor) -> torch.Tensor:
    """std::round: ties away from zero (TFLite's quantize kernels and converter)."""
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


def qparams_from_range(lo: float, hi: float) -> tuple[float, int]:
    """TFLite (scale, zero_point) for a float range; a degenerate range gives scale 1.0 like the converter."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < 1e-12:
        return 1.0, 0
    scale = (hi - lo) / (QMAX - QMIN)
    zp_from_min = QMIN - lo / scale
    zp_from_max = QMAX - hi / scale
    # the quantizer picks whichever end loses less precision (TF's GetNudgedScaleAndZeroPoint)
    err_min = abs(QMIN) + abs(lo / scale)
    err_max = abs(QMAX) + abs(hi / scale)
    zp = zp_from_min if err_min < err_max else zp_from_max
    zp = int(min(max(round_half_away(torch.tensor(zp)).item(), QMIN), QMAX))
    return scale, zp


class _RoundSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return round_half_away(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


def fake_quant(x: torch.Tensor, scale: float, zero_point: int, qmin: int = QMIN, qmax: int = QMAX) -> torch.Tensor:
    """Quantize-dequantize with a straight-through gradient inside the clamp range (any shape)."""
    q = _RoundSTE.apply(x / scale) + zero_point
    q = torch.clamp(q, qmin, qmax)
    return (q - zero_point) * scale


def fake_quant_weight(w: torch.Tensor) -> torch.Tensor:
    """(O, I/g, kh, kw) -> same, per-output-channel symmetric int8 (scale = max|w_o| / 127)."""
    amax = w.detach().abs().flatten(1).amax(dim=1).clamp_min(1e-12)
    scale = (amax / W_QMAX).view(-1, *([1] * (w.dim() - 1)))
    return torch.clamp(_RoundSTE.apply(w / scale), -W_QMAX, W_QMAX) * scale


class ActQuant(nn.Module):
    """Observer + per-tensor asymmetric int8 fake quantizer. Any-shape tensor in, same shape out.

    fixed=(scale, zero_point) pins the parameters (TFLite LOGISTIC output: 1/256, -128).
    floor: the grid never reaches below it (SiLU inputs: export.int8.SILU_INPUT_FLOOR, as the exporter does).
    """

    def __init__(self, fixed: tuple[float, int] | None = None, averaging: float = 0.01,
                 floor: float | None = None):
        super().__init__()
        self.averaging = float(averaging)
        self.fixed = fixed
        self.floor = floor
        self.register_buffer("lo", torch.tensor(0.0))
        self.register_buffer("hi", torch.tensor(0.0))
        self.register_buffer("mode", torch.tensor(MODE_CALIBRATE))
        self.register_buffer("seen", torch.tensor(False))
        self.register_buffer("enabled", torch.tensor(True))

    def tie_to(self, other: "ActQuant") -> None:
        """Use `other`'s grid instead of an own range: a tensor feeding a TFLite CONCATENATION gets the
        concat's parameters from the converter. A plain attribute, so state_dict stays flat."""
        object.__setattr__(self, "_tie", other)

    @property
    def tied(self) -> "ActQuant | None":
        return self.__dict__.get("_tie")

    def has_range(self) -> bool:
        if self.tied is not None:
            return self.tied.has_range()
        return self.fixed is not None or bool(self.seen)

    def qparams(self) -> tuple[float, int]:
        if self.tied is not None:
            return self.tied.qparams()
        if self.fixed is not None:
            return float(self.fixed[0]), int(self.fixed[1])
        return qparams_from_range(*self.export_range())

    def export_range(self) -> tuple[float, float]:
        """The (min, max) handed to the TFLite converter, which derives `qparams()` from it by the same rule:
        the observed range with the SiLU floor applied (fixed quantizers: their grid). The observed float32
        values go through unchanged, so a range QAT took from the exporter's own measurement (`set_range`)
        reaches the file bit for bit, exactly as PTQ writes it."""
        if self.tied is not None:
            return self.tied.export_range()
        if self.fixed is not None:
            return self.range()
        lo, hi = float(self.lo), float(self.hi)
        if self.floor is not None and lo < self.floor < hi:
            lo = self.floor
        return lo, hi

    @torch.no_grad()
    def set_range(self, lo: float, hi: float) -> None:
        """Set the observed range (e.g. measured by the exporter) as if calibration had produced it."""
        self.lo.fill_(lo), self.hi.fill_(hi), self.seen.fill_(True)

    def range(self) -> tuple[float, float]:
        """The float range the int8 grid covers: [(qmin - zp) * s, (qmax - zp) * s]."""
        s, zp = self.qparams()
        return (QMIN - zp) * s, (QMAX - zp) * s

    @torch.no_grad()
    def observe(self, x: torch.Tensor) -> None:
        lo, hi = x.detach().min().float(), x.detach().max().float()
        mode = int(self.mode)
        if not bool(self.seen):
            self.lo.copy_(lo), self.hi.copy_(hi), self.seen.fill_(True)
        elif mode == MODE_CALIBRATE:  # TFLite calibration: global min/max over the calibration set
            self.lo.copy_(torch.minimum(self.lo, lo)), self.hi.copy_(torch.maximum(self.hi, hi))
        elif mode == MODE_AVERAGE:
            self.lo.add_((lo - self.lo) * self.averaging), self.hi.add_((hi - self.hi) * self.averaging)

    def set_mode(self, mode: int) -> None:
        self.mode.fill_(mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frozen = int(self.mode) == MODE_FROZEN
        own = self.fixed is None and self.tied is None
        if own and not frozen and (self.training or int(self.mode) == MODE_CALIBRATE):
            self.observe(x)
        if not bool(self.enabled) or not self.has_range():
            return x
        s, zp = self.qparams()
        return fake_quant(x, s, zp)

    def extra_repr(self) -> str:
        if self.tied is not None:
            return "tied"
        if self.fixed:
            return f"fixed={self.fixed}"
        floor = f", floor={self.floor}" if self.floor is not None else ""
        return f"range=({float(self.lo):.4g}, {float(self.hi):.4g}){floor}"
