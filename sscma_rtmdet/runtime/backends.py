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

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CheckpointError, UserError
from .deployment import Deployment
from .layout import output_shapes, to_canonical
from .metadata import ONNX_PROPS_KEY, build_metadata, deployment_of, read_metadata, sidecar_path, validate_metadata
from .torch_model import load_model
from .validate import check_onnx, check_tflite
from .wrapper import ExportWrapper

RUNTIMES = ("litert", "tflm")


@dataclass
class HeadOutputs:
    """Per-level scores (N,C,H,W) (logits or sigmoid), pixel distances (N,4,H,W), and for int8 logit outputs
    the quantization step of each score output (the firmware thresholds on that grid)."""
    scores: list
    boxes: list
    are_logits: bool
    score_steps: list | None = None


class Backend:
    """Common interface: `__call__(batch NHWC) -> {name: array}`, `.input_hw`, `.num_classes`, `.deployment`."""

    meta: dict
    path: Path | None = None

    @property
    def deployment(self) -> Deployment:
        if getattr(self, "_deployment", None) is None:
            self._deployment = deployment_of(self.meta, str(self.path or "model"))
        return self._deployment

    @property
    def input_hw(self) -> tuple[int, int]:
        return tuple(self.meta["input"]["hw"])

    @property
    def num_classes(self) -> int:
        return self.deployment.num_classes

    @property
    def output_names(self) -> list[str]:
        return list(self.meta["output_names"])

    def _check_batch(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch)
        h, w = self.input_hw
        if batch.ndim != 4 or batch.shape[1:] != (h, w, 3):
            raise UserError(f"input batch has shape {batch.shape}; this model takes (N, {h}, {w}, 3) "
                            "prepared images")
        return batch

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        batch = self._check_batch(batch)
        per_image = [self._run_one(batch[i:i + 1].astype(np.float32)) for i in range(batch.shape[0])]
        return {n: np.concatenate([o[n] for o in per_image]).astype(np.float32) for n in self.output_names}

    def _run_one(self, x: np.ndarray) -> dict[str, np.ndarray]:  # x (1,H,W,3) float32
        raise NotImplementedError

    def head_outputs(self, out: dict) -> HeadOutputs:
        dep = self.deployment
        scores, boxes, logits = to_canonical(out, dep.strides, dep.layout, dep.num_classes, dep.imgsz)
        steps = None
        if logits and self.meta["precision"] == "int8":
            steps = [(self.meta["outputs"][f"score_s{s}"].get("quantization") or {}).get("scale")
                     for s in dep.strides]
        return HeadOutputs(scores, boxes, logits, steps)

    def _check_output_shapes(self, shapes: dict[str, tuple]) -> None:
        """The graph's own output shapes must be those its sidecar's deployment describes."""
        dep = self.deployment
        want = output_shapes(dep.layout, dep.imgsz, dep.strides, dep.num_classes)
        for name, shape in shapes.items():
            got = list(shape)
            exp = want[name]
            if len(got) == 4 and self.meta["input"]["layout"] == "NHWC" and dep.layout == "nchw":
                exp = [exp[0], exp[2], exp[3], exp[1]]
            if got[1:] != exp[1:]:
                raise CheckpointError(f"{self.path}: output {name} has shape {got} but its sidecar describes "
                                      f"{exp} ({dep.num_classes} classes, layout {dep.layout}, "
                                      f"{dep.imgsz[0]}x{dep.imgsz[1]}); the sidecar belongs to another model")


class TorchBackend(Backend):
    """An nn.Module through ExportWrapper: the float reference the exported files are compared with."""

    def __init__(self, model, deployment: Deployment, fold_normalization: bool = True, layout: str | None = None):
        import torch

        dep = deployment if layout is None else deployment.with_(layout=layout)
        if not fold_normalization:
            dep = dep.with_(input_color=dep.preprocess.color)
        self.wrapper = ExportWrapper(model, dep.preprocess, fold_normalization, dep.layout, dep.input_color).eval()
        self.meta = build_metadata(fmt="torch", precision="float32", deployment=dep,
                                   fold_normalization=fold_normalization, output_names=self.wrapper.output_names)
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

        check_onnx(path)  # a corrupt file gives a clear error, not a protobuf traceback
        self.path = path
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.meta = _onnx_meta(path, self.session)
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
    return validate_metadata(json.loads(props[ONNX_PROPS_KEY]), str(path))


class TFLiteBackend(Backend):
    """ai_edge_litert signature runner: int8 input quantised (round, clip), outputs dequantised, NHWC->NCHW."""

    def __init__(self, path: Path, threads: int = 1):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        from ai_edge_litert.interpreter import Interpreter

        check_tflite(path)  # LiteRT does not verify the flatbuffer: a truncated file would crash it
        self.path = path
        self.meta = read_metadata(path)
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


def quantize(x: np.ndarray, qparams, dtype) -> np.ndarray:
    """float -> integer with round-half-even and clipping to the dtype range. qparams (scale, zero_point)."""
    scale, zp = qparams
    if scale == 0:
        raise CheckpointError("quantized input has scale 0; the model was not calibrated")
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zp, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, qparams) -> np.ndarray:
    scale, zp = qparams
    return ((q.astype(np.float32) - zp) * scale).astype(np.float32)


def _checkpoint_backend(path: Path, threads: int) -> "TorchBackend":
    """A self-describing checkpoint of ours, run through ExportWrapper like the files exported from it."""
    import torch

    torch.set_num_threads(threads)
    model, meta = load_model(path, "cpu")
    return TorchBackend(model, Deployment.from_dict(meta["deployment"], str(path)))


def load_backend(path: str | os.PathLike, threads: int = 1, runtime: str = "litert") -> Backend:
    """Backend chosen by suffix: .onnx, .tflite (LiteRT with XNNPACK, or `runtime='tflm'`: TFLite Micro's
    kernels, as microcontrollers run them) or .pth/.pt (our checkpoints, which carry their config)."""
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
        if runtime == "tflm":
            from .tflm import load_tflm_backend
            return load_tflm_backend(path)
        return TFLiteBackend(path, threads)
    if suffix in (".pth", ".pt"):
        return _checkpoint_backend(path, threads)
    raise UserError(f"{path}: unknown model type {suffix!r}; expected .pth, .onnx or .tflite")
