"""Predictors (see runner.py) for every model format, and the checks of a model file against a config."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.preprocess import to_color
from ..runtime.backends import load_backend
from ..runtime.deployment import Deployment
from ..runtime.file_kinds import check_runtime
from ..runtime.torch_model import load_model
from .runner import Predictor, torch_predictor


def backend_predictor(backend) -> Predictor:
    """Predictor for an exported file: its graph takes NHWC pixels in the deployment's input colour order
    (normalised inside when folded, else here); outputs go through the layout's conversion."""
    dep = backend.deployment
    folded = bool(backend.meta["normalization_folded"])

    def predict(inputs):
        if folded:
            x = np.ascontiguousarray(to_color(inputs.permute(0, 2, 3, 1).numpy(), dep.input_color), np.float32)
        else:
            x = dep.preprocess.normalize(inputs).permute(0, 2, 3, 1).numpy()
        return backend.head_outputs(backend(x))
    return predict


def build_predictor(path: Path, device: str = "cpu", threads: int = 1, runtime: str = "litert", cfg=None,
                    allow_arch_mismatch: bool = False) -> tuple[Predictor, Deployment]:
    """(predictor, deployment) for a .pth, .onnx or .tflite file. A .pth of ours builds from its own stored
    config unless `cfg` is given (then its architecture must match unless `allow_arch_mismatch`)."""
    check_runtime(path, runtime)  # a Vela file, or --runtime tflm on a file TFLite Micro does not run
    suffix = path.suffix.lower()
    if suffix in (".pth", ".pt"):
        model, meta = load_model(path, device, cfg=cfg, allow_arch_mismatch=allow_arch_mismatch)
        dep = Deployment.from_dict(meta["deployment"], str(path))
        return torch_predictor(model, dep.preprocess, device), dep
    backend = load_backend(path, threads=threads, runtime=runtime)
    return backend_predictor(backend), backend.deployment
