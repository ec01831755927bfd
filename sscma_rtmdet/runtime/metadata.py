"""Sidecar metadata for exported models: `<model file>.json` next to each .onnx/.tflite.

Everything a runtime needs to feed the model and read its outputs without the training config:
    schema            int, SCHEMA_VERSION
    format            'onnx' | 'tflite'
    precision         'float32' | 'float16' | 'int8'
    input             {name, hw: [H, W], layout: 'NCHW'|'NHWC', dtype: 'float32'|'int8',
                       quantization: {scale, zero_point} | None}
    color             'bgr' | 'rgb'   channel order the graph expects (the training order)
    mean, std         [3] floats in that channel order
    normalization_folded  bool: True -> graph input is raw pixels 0..255, (x-mean)/std is inside
    letterbox         {keep_ratio: True, pad: 'bottom_right', pad_value}
    strides           [8, 16, 32]
    output_names      our names in graph order: score_s8.., box_s8.. (see onnx_export.output_names)
    outputs           {our name: {shape: NCHW list, quantization: {scale, zero_point} | None}}
    output_map        {runtime key (TFLite signature key / ONNX name): our name}
    signature_key     TFLite signature name or None
    num_classes, class_names, source_checkpoint, toolkit_version, created
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..errors import CheckpointError
from ..utils.fileio import atomic_write_text
from ..version import __version__

SCHEMA_VERSION = 1
_REQUIRED = ("schema", "format", "input", "color", "mean", "std", "normalization_folded", "letterbox",
             "strides", "output_names", "output_map", "num_classes")
ONNX_PROPS_KEY = "sscma_rtmdet"  # key in ONNX metadata_props holding the same JSON


def sidecar_path(model_path: str | Path) -> Path:
    """`model.tflite` -> `model.tflite.json` (keeps .onnx and .tflite of one stem apart)."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + ".json")


def build_metadata(*, fmt: str, precision: str, imgsz, preprocess: dict, fold_normalization: bool,
                   strides, output_names: list[str], num_classes: int, class_names=None,
                   layout: str = "NCHW", input_name: str = "images", input_dtype: str = "float32",
                   source_checkpoint: str | None = None) -> dict[str, Any]:
    """Metadata for a float graph whose runtime keys equal our output names (ONNX)."""

    h, w = (int(v) for v in imgsz)
    if class_names is not None and len(class_names) != num_classes:
        raise CheckpointError(f"class_names has {len(class_names)} entries but num_classes={num_classes}; "
                              "pass one name per class")
    return {
        "schema": SCHEMA_VERSION, "format": fmt, "precision": precision,
        "input": {"name": input_name, "hw": [h, w], "layout": layout, "dtype": input_dtype,
                  "quantization": None},
        "color": preprocess.get("color", "bgr"),
        "mean": [float(v) for v in preprocess["mean"]],
        "std": [float(v) for v in preprocess["std"]],
        "normalization_folded": bool(fold_normalization),
        "letterbox": {"keep_ratio": True, "pad": "bottom_right",
                      "pad_value": float(preprocess.get("pad_value", 114))},
        "strides": [int(s) for s in strides],
        "output_names": list(output_names),
        "outputs": {n: {"shape": None, "quantization": None} for n in output_names},
        "output_map": {n: n for n in output_names},
        "signature_key": None,
        "num_classes": int(num_classes),
        "class_names": list(class_names) if class_names is not None else None,
        "source_checkpoint": str(source_checkpoint) if source_checkpoint else None,
        "toolkit_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def validate_metadata(meta: dict, origin: str) -> dict:
    """Check required fields and that output_map covers output_names exactly; returns meta."""
    missing = [k for k in _REQUIRED if k not in meta]
    if missing:
        raise CheckpointError(f"{origin}: metadata lacks {missing}; re-export the model with this toolkit")
    if meta["schema"] > SCHEMA_VERSION:
        raise CheckpointError(f"{origin}: metadata schema {meta['schema']} is newer than this toolkit "
                              f"understands ({SCHEMA_VERSION}); upgrade sscma-rtmdet")
    _check_types(meta, origin)
    mapped = sorted(meta["output_map"].values())
    if mapped != sorted(meta["output_names"]):
        raise CheckpointError(f"{origin}: output_map {meta['output_map']} does not cover output_names "
                              f"{meta['output_names']} one-to-one; re-export the model")
    return meta


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _seq(v, ok, n: int | None = None) -> bool:
    """v is a list/tuple (of length n) whose items all pass ok."""
    return isinstance(v, (list, tuple)) and (n is None or len(v) == n) and all(ok(x) for x in v)


def _check_types(meta: dict, origin: str) -> None:
    """The fields runtimes index into must have their documented types (a hand-edited or corrupt sidecar
    is an error naming the field, not a TypeError later)."""
    def positive_int(v):
        return isinstance(v, int) and not isinstance(v, bool) and v > 0
    checks = {
        "input": isinstance(meta["input"], dict) and _seq(meta["input"].get("hw"), positive_int, 2),
        "mean": _seq(meta["mean"], _is_num, 3),
        "std": _seq(meta["std"], _is_num, 3),
        "letterbox": isinstance(meta["letterbox"], dict) and _is_num(meta["letterbox"].get("pad_value")),
        "strides": _seq(meta["strides"], positive_int),
        "output_names": _seq(meta["output_names"], lambda x: isinstance(x, str)),
        "output_map": isinstance(meta["output_map"], dict),
        "num_classes": positive_int(meta["num_classes"]),
        "schema": isinstance(meta["schema"], int),
    }
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise CheckpointError(f"{origin}: metadata field(s) {bad} have the wrong type or shape (see "
                              "runtime/metadata.py); re-export the model with this toolkit")


def write_metadata(model_path: str | Path, meta: dict) -> Path:
    """Write the sidecar atomically; returns its path."""
    validate_metadata(meta, str(model_path))
    return atomic_write_text(sidecar_path(model_path), json.dumps(meta, indent=2) + "\n")


def read_metadata(model_path: str | Path) -> dict:
    """Read `<model>.json`; CheckpointError naming the file when absent or unreadable."""
    path = sidecar_path(model_path)
    if not path.is_file():
        raise CheckpointError(f"{path} not found: exported models need their metadata sidecar; "
                              "keep it next to the model file or re-export")
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: unreadable metadata ({e}); re-export the model") from e
    return validate_metadata(meta, str(path))
