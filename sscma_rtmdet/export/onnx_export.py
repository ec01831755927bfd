"""Torch -> ONNX: a deploy wrapper with named per-level outputs, onnxsim, embedded metadata.

Output order (fixed): `score_s8, score_s16, score_s32, box_s8, box_s16, box_s32` (for strides 8/16/32),
i.e. all score maps in stride order, then all box maps. Per-level, separately named tensors keep int8
quantization per output (one concatenated tensor lost ~11 AP at int8).

Hard-sigmoid gates are exported as relu6(x + 3) * (1/6) (`xnnpack_gates`): the same function, but TFLite
turns it into conv (bias + 3) with a fused RELU6 and a MUL, which XNNPACK runs; ONNX HardSigmoid becomes
RELU_0_TO_1, which XNNPACK does not run, so each gate split the CPU graph in two partitions.
"""
from __future__ import annotations

import contextlib
import json
import warnings
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError
from ..utils.fileio import atomic_write
from .metadata import ONNX_PROPS_KEY, build_metadata, write_metadata

DEFAULT_OPSET = 13  # the TorchScript exporter's well-trodden opset; onnx2tf handles it fully
INPUT_NAME = "images"


def output_names(strides: Sequence[int]) -> list[str]:
    """Graph output names in graph order: scores per stride, then boxes per stride."""
    return [f"score_s{s}" for s in strides] + [f"box_s{s}" for s in strides]


def model_strides(model: nn.Module) -> tuple[int, ...]:
    """Strides from the head (design: RTMDetSepBNHead.strides), falling back to the model attribute."""
    for owner in (getattr(model, "head", None), model):
        strides = getattr(owner, "strides", None)
        if strides is not None:
            return tuple(int(s[0] if isinstance(s, (tuple, list)) else s) for s in strides)
    return (8, 16, 32)


def _preprocess_dict(preprocess) -> dict:
    if isinstance(preprocess, dict):
        return preprocess
    if hasattr(preprocess, "to_dict"):  # data.preprocess.Preprocess
        return preprocess.to_dict()
    return {k: getattr(preprocess, k) for k in ("color", "mean", "std", "pad_value") if hasattr(preprocess, k)}


class ExportWrapper(nn.Module):
    """Deployable RTMDet: (N,3,H,W) input -> tuple of per-level maps named by `output_names`.

    With `fold_normalization` the input is raw pixels (float 0..255, training colour order, NCHW) and
    (x - mean) / std runs inside the graph as one multiply-add; otherwise the input is already normalised.
    Returns `score_s*` = sigmoid(logits) (N,C,H_i,W_i) then `box_s*` = l,t,r,b distances * stride (N,4,H_i,W_i).
    """

    def __init__(self, model: nn.Module, preprocess, fold_normalization: bool = True):
        super().__init__()
        pre = _preprocess_dict(preprocess)
        self.model = model
        self.fold_normalization = bool(fold_normalization)
        self.strides = model_strides(model)
        self.output_names = output_names(self.strides)
        mean = torch.tensor(pre["mean"], dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(pre["std"], dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("in_scale", 1.0 / std, persistent=False)
        self.register_buffer("in_bias", -mean / std, persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.fold_normalization:
            x = x * self.in_scale + self.in_bias
        cls_scores, bbox_preds = self.model(x)
        if len(cls_scores) != len(self.strides) or len(bbox_preds) != len(self.strides):
            raise UserError(f"model returned {len(cls_scores)} score / {len(bbox_preds)} box levels but the "
                            f"head declares strides {self.strides}")
        return tuple(c.sigmoid() for c in cls_scores) + tuple(bbox_preds)

    def named(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """forward() as {output name: tensor}; the reference the backends are compared with."""
        return dict(zip(self.output_names, self.forward(x)))


class Relu6HardSigmoid(nn.Module):
    """hardsigmoid(x) = relu6(x + 3) / 6 (PyTorch's own definition), with the division as a multiply so
    TFLite keeps it a MUL (XNNPACK and Vela run MUL, not DIV). Any shape in, same shape out."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(x + 3.0) * (1.0 / 6.0)


@contextlib.contextmanager
def xnnpack_gates(model: nn.Module):
    """Inside: every nn.Hardsigmoid child of `model` is a `Relu6HardSigmoid` (restored on exit)."""
    swapped = [(parent, name, child) for parent in list(model.modules())
               for name, child in parent.named_children() if type(child) is nn.Hardsigmoid]
    for parent, name, _ in swapped:
        setattr(parent, name, Relu6HardSigmoid())
    try:
        yield model
    finally:
        for parent, name, child in swapped:
            setattr(parent, name, child)


def _torch_export(wrapper: nn.Module, imgsz, path: Path, opset: int) -> None:
    dummy = torch.zeros(1, 3, int(imgsz[0]), int(imgsz[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice is not news
        torch.onnx.export(wrapper, (dummy,), str(path), input_names=[INPUT_NAME],
                          output_names=list(wrapper.output_names), opset_version=opset,
                          do_constant_folding=True, dynamo=False)


def _simplify(model_proto):
    import onnxsim

    simplified, ok = onnxsim.simplify(model_proto)
    if not ok:
        raise RuntimeError("onnxsim could not validate the simplified graph; export with simplify=False")
    return simplified


def export_onnx(model: nn.Module, preprocess, imgsz, out_path: str | Path, fold_normalization: bool = True,
                opset: int = DEFAULT_OPSET, *, num_classes: int | None = None, class_names=None,
                source_checkpoint: str | None = None, simplify: bool = True) -> dict:
    """Export `model` at static shape (1,3,H,W) to `out_path` (+ `out_path.json` sidecar).

    Uses the TorchScript exporter (`dynamo=False`): static graph, opset 13, no dynamo tracing surprises.
    The same metadata JSON is embedded in the ONNX `metadata_props[sscma_rtmdet]`. Returns the metadata.
    """
    import onnx

    h, w = (int(v) for v in imgsz)
    if h % 32 or w % 32:
        raise UserError(f"imgsz {(h, w)}: height and width must be multiples of 32 (the largest stride)")
    out_path = Path(out_path)
    wrapper = ExportWrapper(model, preprocess, fold_normalization).eval()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            shapes = [list(t.shape) for t in wrapper(torch.zeros(1, 3, h, w))]
        with atomic_write(out_path, suffix=".onnx") as tmp, xnnpack_gates(model):
            _torch_export(wrapper, (h, w), tmp, opset)
            proto = onnx.load(str(tmp))
            if simplify:
                proto = _simplify(proto)
            n_cls = num_classes if num_classes is not None else shapes[0][1]
            meta = build_metadata(fmt="onnx", precision="float32", imgsz=(h, w),
                                  preprocess=_preprocess_dict(preprocess), fold_normalization=fold_normalization,
                                  strides=wrapper.strides, output_names=wrapper.output_names,
                                  num_classes=n_cls, class_names=class_names, layout="NCHW",
                                  input_name=INPUT_NAME, source_checkpoint=source_checkpoint)
            for name, shape in zip(wrapper.output_names, shapes):
                meta["outputs"][name]["shape"] = shape
            _check_graph_io(proto, wrapper.output_names)
            del proto.metadata_props[:]
            onnx.helper.set_model_props(proto, {ONNX_PROPS_KEY: json.dumps(meta)})
            onnx.save(proto, str(tmp))
    finally:
        model.train(was_training)
    write_metadata(out_path, meta)
    return meta


def _check_graph_io(proto, names: list[str]) -> None:
    """The simplified graph must still expose exactly our outputs, in order."""
    got = [o.name for o in proto.graph.output]
    if got != list(names):
        raise RuntimeError(f"ONNX outputs {got} differ from the expected {names}")
