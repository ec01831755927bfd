"""Runtime backends for .pth / .onnx / .tflite with one calling convention.

    backend = load_backend("model_int8.tflite")
    out = backend(batch)   # batch (N,H,W,3) uint8 or float, in the model's input domain
    out["score_s8"]        # float32 in the file's layout (runtime/layout.py), keyed by our output names

Input domain: raw pixels 0..255 in the deployment's `input_color` order when `meta['normalization_folded']`,
else already normalised. Outputs are keyed by our output names through the metadata's output_map, never
matched by position or shape; 4-D TFLite outputs (NHWC) come back NCHW like the ONNX graph's.
`backend.head_outputs(out)` turns them into what the decoder reads (runtime.layout.to_canonical).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, UserError
from ..utils import jsonsafe
from ..utils.native import quiet_native
from .backend_base import Backend, dequantize, quantize
from .deployment import Deployment
from .metadata import ONNX_PROPS_KEY, build_metadata, read_metadata, record_as_read, sidecar_path, validate_metadata
from .torch_model import load_model
from .validate import (check_folding, check_onnx, check_tflite, onnx_input_folded, onnx_session,
                       tflite_input_folded)
from .wrapper import ExportWrapper

RUNTIMES = ("litert", "tflm")


class TorchBackend(Backend):
    """An nn.Module through ExportWrapper: the float reference the exported files are compared with."""

    def __init__(self, model, deployment: Deployment, fold_normalization: bool = True, layout: str | None = None):
        import torch

        dep = deployment if layout is None else deployment.with_(layout=layout)
        if not fold_normalization:
            dep = dep.with_(input_color=dep.preprocess.color)
        self.wrapper = ExportWrapper(model, dep.preprocess, fold_normalization, dep.layout, dep.input_color).eval()
        self.meta = build_metadata(fmt="torch", precision="float32", deployment=dep,
                                   fold_normalization=fold_normalization, output_names=self.wrapper.output_names,
                                   input_offset=self.wrapper.input_offset)
        self._deployment = dep
        with torch.no_grad():
            self.wrapper(torch.zeros(1, 3, *dep.imgsz))

    def _run_one(self, x):
        import torch

        with torch.no_grad():
            outs = self.wrapper.named(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous())
        return {k: v.numpy() for k, v in outs.items()}


class OnnxBackend(Backend):
    """onnxruntime CPU session; metadata from the sidecar, else from the graph's metadata_props."""

    def __init__(self, path: Path, threads: int = 1):
        import onnxruntime as ort

        proto = check_onnx(path)  # a corrupt file gives a clear error, not a protobuf traceback
        self.path = path
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = onnx_session(path, opts)  # onnxruntime's own refusals as CheckpointError
        self.meta = _onnx_meta(path, self.session)
        check_folding(self.meta, onnx_input_folded(proto), path)
        del proto
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        expect = [1, 3, *self.input_hw] if self.meta["input"]["layout"] == "NCHW" else [1, *self.input_hw, 3]
        if list(inp.shape) != expect:
            raise CheckpointError(f"{path}: graph input {inp.name} has shape {inp.shape} but its sidecar says "
                                  f"{expect}; the sidecar belongs to another model")
        graph_outs = {o.name: o.shape for o in self.session.get_outputs()}
        missing = set(self.meta["output_map"]) - set(graph_outs)
        if missing:
            raise CheckpointError(f"{path}: graph lacks outputs {sorted(missing)} named in its metadata")
        self._check_output_shapes({self.meta["output_map"][k]: graph_outs[k] for k in self.meta["output_map"]})

    def _run_one(self, x):
        if self.meta["input"]["layout"] == "NCHW":
            x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        keys = list(self.meta["output_map"])
        res = self.session.run(keys, {self.input_name: x})
        return {self.meta["output_map"][k]: v for k, v in zip(keys, res)}


def _onnx_meta(path: Path, session) -> dict:
    if sidecar_path(path).is_file():
        return read_metadata(path)
    props = session.get_modelmeta().custom_metadata_map
    if ONNX_PROPS_KEY not in props:
        raise CheckpointError(f"{path}: no metadata (neither {sidecar_path(path).name} nor embedded "
                              f"'{ONNX_PROPS_KEY}'); export it with this toolkit")
    try:
        meta = jsonsafe.loads(props[ONNX_PROPS_KEY])
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"{path}: unreadable embedded metadata ({type(e).__name__}); re-export the model") \
            from None
    return validate_metadata(meta, str(path))


class TFLiteBackend(Backend):
    """ai_edge_litert signature runner: int8 input quantised (round, clip), outputs dequantised, NHWC->NCHW."""

    def __init__(self, path: Path, threads: int = 1, meta: dict | None = None):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        from ai_edge_litert.interpreter import Interpreter

        graph = check_tflite(path)  # LiteRT does not verify the flatbuffer: a truncated file would crash it
        self.path = path
        self.meta = read_metadata(path) if meta is None else record_as_read(meta, str(path))
        check_folding(self.meta, tflite_input_folded(graph), path)
        with quiet_native():  # "Created TensorFlow Lite XNNPACK delegate" and the like
            self.interpreter = Interpreter(model_path=str(path), num_threads=max(1, int(threads)))
            sigs = self.interpreter.get_signature_list()
            key = self.meta.get("signature_key") or next(iter(sigs), None)
            if key not in sigs:
                raise CheckpointError(f"{path}: signature {key!r} not in the model (has {list(sigs)}); re-export")
            self.runner = self.interpreter.get_signature_runner(key)
        in_details = self.runner.get_input_details()
        if len(in_details) != 1:
            raise CheckpointError(f"{path}: expected one input, found {list(in_details)}")
        self.input_key, self.input_detail = next(iter(in_details.items()))
        if list(self.input_detail["shape"]) != [1, *self.input_hw, 3]:
            raise CheckpointError(f"{path}: input shape {list(self.input_detail['shape'])} but its sidecar says "
                                  f"{[1, *self.input_hw, 3]}; the sidecar belongs to another model")
        self.output_details = self.runner.get_output_details()
        missing = set(self.meta["output_map"]) - set(self.output_details)
        if missing:
            raise CheckpointError(f"{path}: signature outputs {sorted(self.output_details)} lack {sorted(missing)} "
                                  "named in the metadata; the sidecar belongs to another model")
        self._check_output_shapes({n: tuple(self.output_details[k]["shape"]) for k, n in self.meta["output_map"].items()})

    def _run_one(self, x):
        det = self.input_detail
        if det["dtype"] != np.float32:
            x = quantize(x, det["quantization"], det["dtype"])
        raw = self.runner(**{self.input_key: x})
        out = {}
        for key, name in self.meta["output_map"].items():
            v, d = raw[key], self.output_details[key]
            if d["dtype"] != np.float32:
                v = dequantize(v, d["quantization"])
            out[name] = np.ascontiguousarray(v.transpose(0, 3, 1, 2)) if v.ndim == 4 else v
        return out


def _checkpoint_backend(path: Path, threads: int) -> "TorchBackend":
    """A self-describing checkpoint of ours, run through ExportWrapper like the files exported from it."""
    import torch

    torch.set_num_threads(threads)
    model, meta = load_model(path, "cpu")
    return TorchBackend(model, Deployment.from_dict(meta["deployment"], str(path)))


def load_backend(path: str | os.PathLike, threads: int = 1, runtime: str = "litert",
                 meta: dict | None = None) -> Backend:
    """Backend chosen by suffix: .onnx, .tflite (LiteRT with XNNPACK, or `runtime='tflm'`: TFLite Micro's
    kernels, as microcontrollers run them) or .pth/.pt (our checkpoints, which carry their config). `meta`: a
    .tflite's record held in memory by an exporter verifying the file before its sidecar is written."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file {path} not found")
    if runtime not in RUNTIMES:
        raise UserError(f"--runtime {runtime}: unknown; choose from {', '.join(RUNTIMES)}")
    suffix = path.suffix.lower()
    if runtime == "tflm" and suffix != ".tflite":
        raise UserError(f"--runtime tflm runs .tflite files only, not {path.name}")
    if suffix == ".onnx":
        return OnnxBackend(path, threads)
    if suffix == ".tflite":
        from .file_kinds import check_runtime
        check_runtime(path, runtime)  # a Vela file runs on the NPU only; TFLM has no float16 kernels
        if runtime == "tflm":
            from .tflm import load_tflm_backend
            return load_tflm_backend(path)
        return TFLiteBackend(path, threads, meta)
    if suffix in (".pth", ".pt"):
        return _checkpoint_backend(path, threads)
    raise UserError(f"{path}: unknown model type {suffix!r}; expected .pth, .onnx or .tflite")
