"""Torch -> ONNX: the deploy wrapper (runtime.wrapper) traced at static shape, onnxsim, embedded metadata.

Per-level, separately named outputs keep int8 quantization per output (one concatenated tensor lost ~11 AP
at int8).

Hard-sigmoid gates are exported as relu6(x + 3) * (1/6) (`xnnpack_gates`): the same function, but TFLite
turns it into conv (bias + 3) with a fused RELU6 and a MUL, which XNNPACK runs; ONNX HardSigmoid becomes
RELU_0_TO_1, which XNNPACK does not run, so each gate split the CPU graph in two partitions.
"""
from __future__ import annotations

import contextlib
import json
import warnings
from pathlib import Path
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UserError
from ..utils.fileio import atomic_write
from ..runtime.metadata import ONNX_PROPS_KEY, build_metadata, write_metadata
from ..runtime.deployment import Deployment
from ..runtime.wrapper import ExportWrapper

DEFAULT_OPSET = 13  # the TorchScript exporter's well-trodden opset; onnx2tf handles it fully
INPUT_NAME = "images"


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


def export_onnx(model: nn.Module, deployment: Deployment, out_path: str | Path, fold_normalization: bool = True,
                opset: int = DEFAULT_OPSET, *, source_checkpoint: str | None = None, simplify: bool = True,
                layout: str | None = None) -> dict:
    """Export `model` at static shape (1,3,H,W) to `out_path` (+ `out_path.json` sidecar).

    The deployment record gives the input size, preprocessing, input colour order, classes and output
    layout (`layout` overrides the last). Uses the TorchScript exporter (`dynamo=False`): static graph,
    opset 13. The same metadata JSON is embedded in the ONNX `metadata_props[sscma_rtmdet]`. Returns it.
    """
    import onnx

    dep = deployment if layout is None else deployment.with_(layout=layout)
    if not fold_normalization:
        dep = dep.with_(input_color=dep.preprocess.color)
    h, w = dep.imgsz
    if h % 32 or w % 32:
        raise UserError(f"imgsz {(h, w)}: height and width must be multiples of 32 (the largest stride)")
    out_path = Path(out_path)
    wrapper = ExportWrapper(model, dep.preprocess, fold_normalization, dep.layout, dep.input_color).eval()
    if wrapper.model.num_classes != dep.num_classes:
        raise UserError(f"the model predicts {wrapper.model.num_classes} classes but the deployment record "
                        f"lists {dep.num_classes} {list(dep.classes)}")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            shapes = [list(t.shape) for t in wrapper(torch.zeros(1, 3, h, w))]
        with atomic_write(out_path, suffix=".onnx") as tmp, xnnpack_gates(wrapper.model):
            _torch_export(wrapper, (h, w), tmp, opset)
            proto = onnx.load(str(tmp))
            if simplify:
                proto = _simplify(proto)
            meta = build_metadata(fmt="onnx", precision="float32", deployment=dep,
                                  fold_normalization=fold_normalization, output_names=wrapper.output_names,
                                  layout="NCHW", input_name=INPUT_NAME, source_checkpoint=source_checkpoint,
                                  input_offset=wrapper.input_offset)
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
