"""Predictors (see runner.py) for every model format, built from a config and a model file."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from ..config import Config
from ..errors import CheckpointError
from ..runtime.backends import load_backend
from ..runtime.torch_model import load_torch_model
from .runner import Predictor, torch_predictor


def backend_predictor(backend, preprocess) -> Predictor:
    """Predictor for an exported file. Its graph takes NHWC pixels in the training colour order (normalised
    inside when folded, else here); outputs are sigmoid scores, taken by name per stride."""
    meta = backend.meta
    strides = list(meta["strides"])
    folded = bool(meta.get("normalization_folded", True))

    def predict(inputs: torch.Tensor):
        x = inputs.permute(0, 2, 3, 1).numpy()  # uint8 BGR NHWC
        if folded:
            x = x[..., ::-1] if preprocess.color == "rgb" else x
            x = np.ascontiguousarray(x, dtype=np.float32)
        else:
            x = preprocess.normalize(inputs).permute(0, 2, 3, 1).numpy()
        out = backend(x)
        return ([out[f"score_s{s}"] for s in strides], [out[f"box_s{s}"] for s in strides], False)
    return predict


def check_exported(meta: dict, path: Path, cfg: Config, imgsz: tuple[int, int], preprocess) -> None:
    """The file must fit the config: input size, class count and preprocessing (never a silent resize)."""
    hw = tuple(meta["input"]["hw"])
    if hw != tuple(imgsz):
        raise CheckpointError(f"{path} takes {hw[0]}x{hw[1]} input but the config's imgsz is {imgsz}; "
                              f"pass --cfg-options imgsz='({hw[0]},{hw[1]})'")
    if int(meta["num_classes"]) != cfg.num_classes:
        raise CheckpointError(f"{path} predicts {meta['num_classes']} classes {meta.get('class_names')} but the "
                              f"config says num_classes={cfg.num_classes}")
    pre = {"color": meta["color"], "mean": meta["mean"], "std": meta["std"],
           "pad_value": meta["letterbox"]["pad_value"]}
    mine = preprocess.to_dict()
    for key in ("color", "mean", "std", "pad_value"):
        a, b = pre[key], mine[key]
        same = a == b if key == "color" else np.allclose(np.asarray(a, float), np.asarray(b, float))
        if not same:
            raise CheckpointError(f"{path} was exported with preprocess.{key}={a!r} but the config has {b!r}; "
                                  "evaluate with the config it was exported from")


def build_predictor(cfg: Config, path: Path, imgsz, preprocess, device: str = "cpu", threads: int = 1,
                    allow_arch_mismatch: bool = False):
    """(predictor, strides, classes or None) for a .pth, .onnx or .tflite file (a .pth of ours must have
    the config's architecture unless `allow_arch_mismatch`)."""
    suffix = path.suffix.lower()
    if suffix in (".pth", ".pt"):
        model, meta = load_torch_model(cfg, path, device, allow_arch_mismatch=allow_arch_mismatch)
        if meta.get("imgsz") and tuple(meta["imgsz"]) != tuple(imgsz):
            warnings.warn(f"{path} was trained at imgsz {tuple(meta['imgsz'])} but is evaluated at {imgsz}",
                          stacklevel=2)
        return torch_predictor(model, preprocess, device), list(model.head.strides), meta.get("classes")
    backend = load_backend(path, threads=threads)
    check_exported(backend.meta, path, cfg, imgsz, preprocess)
    return backend_predictor(backend, preprocess), list(backend.meta["strides"]), backend.meta.get("class_names")
