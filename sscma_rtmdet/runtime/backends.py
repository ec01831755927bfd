"""Runtime backends for .pth / .onnx / .tflite with one calling convention.

    backend = load_backend("model_int8.tflite")
    out = backend(batch)   # batch (N,H,W,3) uint8 or float, in the model's input domain
    out["score_s8"]        # (N,C,H/8,W/8) float32, sigmoid scores; "box_s8" (N,4,H/8,W/8) distances*stride

Input domain: raw pixels 0..255 in the training colour order when `meta['normalization_folded']`, else
already normalised. Outputs are always NCHW float32 keyed by our output names (see runtime.wrapper),
matched by name through the metadata's output_map, never by position or shape.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..data.preprocess import Preprocess
from ..errors import CheckpointError, UserError
from .metadata import ONNX_PROPS_KEY, build_metadata, read_metadata, sidecar_path, validate_metadata
from .torch_model import model_from_checkpoint
from .validate import check_onnx, check_tflite
from .wrapper import ExportWrapper, preprocess_dict


class Backend:
    """Common interface: `__call__(batch NHWC) -> {name: NCHW float32}`, `.input_hw`, `.num_classes`."""

    meta: dict

    @property
    def input_hw(self) -> tuple[int, int]:
        return tuple(self.meta["input"]["hw"])

    @property
    def num_classes(self) -> int:
        return int(self.meta["num_classes"])

    @property
    def output_names(self) -> list[str]:
        return list(self.meta["output_names"])

    def _check_batch(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch)
        h, w = self.input_hw
        if batch.ndim != 4 or batch.shape[1:] != (h, w, 3):
            raise UserError(f"input batch has shape {batch.shape}; this model takes (N, {h}, {w}, 3) "
                            "letterboxed images")
        return batch

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        batch = self._check_batch(batch)
        per_image = [self._run_one(batch[i:i + 1].astype(np.float32)) for i in range(batch.shape[0])]
        return {n: np.concatenate([o[n] for o in per_image]).astype(np.float32) for n in self.output_names}

    def _run_one(self, x: np.ndarray) -> dict[str, np.ndarray]:  # x (1,H,W,3) float32
        raise NotImplementedError


class TorchBackend(Backend):
    """An nn.Module through ExportWrapper: the float reference the exported files are compared with."""

    def __init__(self, model, preprocess, imgsz, fold_normalization: bool = True, class_names=None,
                 num_classes: int | None = None):
        import torch

        self.wrapper = ExportWrapper(model, preprocess, fold_normalization).eval()
        with torch.no_grad():
            probe = self.wrapper(torch.zeros(1, 3, int(imgsz[0]), int(imgsz[1])))
        pre = preprocess_dict(preprocess)
        self.meta = build_metadata(fmt="torch", precision="float32", imgsz=imgsz, preprocess=pre,
                                   fold_normalization=fold_normalization, strides=self.wrapper.strides,
                                   output_names=self.wrapper.output_names,
                                   num_classes=num_classes or int(probe[0].shape[1]), class_names=class_names)

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
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, int(threads))
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.meta = _onnx_meta(path, self.session)
        self.input_name = self.session.get_inputs()[0].name
        graph_outs = {o.name for o in self.session.get_outputs()}
        missing = set(self.meta["output_map"]) - graph_outs
        if missing:
            raise CheckpointError(f"{path}: graph lacks outputs {sorted(missing)} named in its metadata")

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
        self.output_details = self.runner.get_output_details()
        missing = set(self.meta["output_map"]) - set(self.output_details)
        if missing:
            raise CheckpointError(f"{path}: signature outputs {sorted(self.output_details)} lack {sorted(missing)} "
                                  "named in the metadata; the sidecar belongs to another model")

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
    model, meta = model_from_checkpoint(path, "cpu")
    return TorchBackend(model, Preprocess.from_config(meta["preprocess"]), meta["imgsz"],
                        class_names=meta.get("classes"), num_classes=meta.get("num_classes"))


def load_backend(path: str | os.PathLike, threads: int = 1) -> Backend:
    """Backend chosen by suffix: .onnx, .tflite or .pth/.pt (our checkpoints, which carry their config)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model file {path} not found")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return OnnxBackend(path, threads)
    if suffix == ".tflite":
        return TFLiteBackend(path, threads)
    if suffix in (".pth", ".pt"):
        return _checkpoint_backend(path, threads)
    raise UserError(f"{path}: unknown model type {suffix!r}; expected .pth, .onnx or .tflite")
