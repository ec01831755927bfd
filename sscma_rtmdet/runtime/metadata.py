"""Sidecar metadata for exported models: `<model file>.json` next to each .onnx/.tflite.

Everything a runtime needs to feed the model and read its outputs without the training config:
    schema            int, SCHEMA_VERSION (1: before the deployment record; read and upgraded)
    format            'onnx' | 'tflite';  precision 'float32' | 'float16' | 'int8'
    deployment        runtime.deployment.Deployment.to_dict(): target, imgsz, preprocess, input_color, layout,
                      classes, num_classes, strides, test_cfg -- the same record a checkpoint's meta holds
    input             {name, hw: [H, W], layout: 'NCHW'|'NHWC', dtype: 'float32'|'int8',
                       quantization: {scale, zero_point} | None, offset: 0 | 128 (absent: 0)}
    normalization_folded  bool: True -> graph input is pixels in deployment.input_color order minus
                      input.offset (128: the centred normalisation folded into the first conv, runtime.wrapper)
    output_names      our names in graph order: score_s8.., box_s8.. ('yolov8': output0; runtime.layout)
    outputs           {our name: {shape, quantization: {scale, zero_point} | None}}
    output_map        {runtime key (TFLite signature key / ONNX name): our name}
    signature_key     TFLite signature name or None
    source_checkpoint, toolkit_version, created (and, where measured: verification, board, qat)
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ..data.preprocess import DEFAULT_PAD_VALUE
from ..errors import CheckpointError
from ..utils import jsonsafe
from ..utils.fileio import atomic_write_text
from ..version import __version__
from .deployment import Deployment
from .layout import output_names

SCHEMA_VERSION = 2
_REQUIRED = ("schema", "format", "input", "normalization_folded", "deployment", "output_names", "output_map")
ONNX_PROPS_KEY = "sscma_rtmdet"  # key in ONNX metadata_props holding the same JSON
MAX_SIDECAR_BYTES = 4 << 20
INPUT_OFFSETS = (0, 128)  # graph input = pixel - offset (runtime.wrapper.input_offset)  # a sidecar is a few KiB; refuse a huge file before parsing it


def sidecar_path(model_path: str | Path) -> Path:
    """`model.tflite` -> `model.tflite.json` (keeps .onnx and .tflite of one stem apart)."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + ".json")


def build_metadata(*, fmt: str, precision: str, deployment: Deployment, fold_normalization: bool,
                   output_names: list[str], layout: str = "NCHW", input_name: str = "images",
                   input_dtype: str = "float32", source_checkpoint: str | None = None,
                   input_offset: int = 0) -> dict[str, Any]:
    """Metadata for a float graph whose runtime keys equal our output names (ONNX)."""
    h, w = deployment.imgsz
    return {
        "schema": SCHEMA_VERSION, "format": fmt, "precision": precision,
        "deployment": deployment.to_dict(),
        "input": {"name": input_name, "hw": [h, w], "layout": layout, "dtype": input_dtype, "quantization": None,
                  "offset": int(input_offset)},
        "normalization_folded": bool(fold_normalization),
        "output_names": list(output_names),
        "outputs": {n: {"shape": None, "quantization": None} for n in output_names},
        "output_map": {n: n for n in output_names},
        "signature_key": None,
        "source_checkpoint": str(source_checkpoint) if source_checkpoint else None,
        "toolkit_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def input_offset_of(meta: dict) -> int:
    """The pixel value a graph's input is shifted by (0 for files before the centred fold)."""
    return int(meta["input"].get("offset", 0)) if meta["normalization_folded"] else 0


def deployment_of(meta: dict, origin: str = "model file") -> Deployment:
    return Deployment.from_dict(meta["deployment"], origin)


def upgrade_v1(meta: dict) -> dict:
    """A schema-1 sidecar (letterbox, training colour order, 'nchw' layout, mmdet decode) in schema 2."""
    from ..targets import TARGETS

    meta = dict(meta)
    pre = {"color": meta.get("color", "bgr"), "mean": meta.get("mean"), "std": meta.get("std"),
           "pad_value": (meta.get("letterbox") or {}).get("pad_value", DEFAULT_PAD_VALUE), "resize": "letterbox",
           "interpolation": "linear"}
    n = meta.get("num_classes")
    classes = meta.get("class_names") or ([str(i) for i in range(n)] if isinstance(n, int) and n > 0 else None)
    meta["deployment"] = {"target": TARGETS["generic"].name, "imgsz": (meta.get("input") or {}).get("hw"),
                          "preprocess": pre, "input_color": pre["color"], "layout": "nchw", "classes": classes,
                          "strides": meta.get("strides"),
                          "test_cfg": dict(score_thr=0.001, nms_pre=30000, iou_threshold=0.65, max_per_img=300)}
    for key in ("color", "mean", "std", "letterbox", "strides", "num_classes", "class_names"):
        meta.pop(key, None)
    meta["schema"] = SCHEMA_VERSION
    return meta


def validate_metadata(meta: dict, origin: str) -> dict:
    """Check the fields, the deployment record and that output_map covers output_names; returns meta (a
    schema-1 one upgraded)."""
    if not isinstance(meta, dict):
        raise CheckpointError(f"{origin}: metadata must be a JSON object; re-export the model")
    if meta.get("schema") == 1:
        meta = upgrade_v1(meta)
    missing = [k for k in _REQUIRED if k not in meta]
    if missing:
        raise CheckpointError(f"{origin}: metadata lacks {missing}; re-export the model with this toolkit")
    if not isinstance(meta["schema"], int) or meta["schema"] > SCHEMA_VERSION:
        raise CheckpointError(f"{origin}: metadata schema {meta['schema']!r} is newer than this toolkit "
                              f"understands ({SCHEMA_VERSION}); upgrade sscma-rtmdet")
    _check_types(meta, origin)
    dep = deployment_of(meta, origin)
    if list(meta["input"]["hw"]) != list(dep.imgsz):
        raise CheckpointError(f"{origin}: input hw {meta['input']['hw']} differs from the deployment imgsz "
                              f"{list(dep.imgsz)}; re-export the model")
    expected = output_names(dep.strides, dep.layout)
    if list(meta["output_names"]) != expected:
        raise CheckpointError(f"{origin}: output_names {meta['output_names']} do not match strides "
                              f"{list(dep.strides)} ({expected}); re-export the model")
    mapped = sorted(meta["output_map"].values())
    if mapped != sorted(meta["output_names"]):
        raise CheckpointError(f"{origin}: output_map {meta['output_map']} does not cover output_names "
                              f"{meta['output_names']} one-to-one; re-export the model")
    return meta


def _check_types(meta: dict, origin: str) -> None:
    """The fields runtimes index into must have their documented types (a hand-edited or corrupt sidecar
    is an error naming the field, not a TypeError later)."""
    def positive_int(v):
        return isinstance(v, int) and not isinstance(v, bool) and v > 0

    def seq(v, ok, n=None):
        return isinstance(v, (list, tuple)) and (n is None or len(v) == n) and all(ok(x) for x in v)
    inp = meta["input"]
    checks = {
        "input": isinstance(inp, dict) and seq(inp.get("hw"), positive_int, 2)
        and inp.get("layout") in ("NCHW", "NHWC") and isinstance(inp.get("name"), str)
        and inp.get("offset", 0) in INPUT_OFFSETS and not isinstance(inp.get("offset", 0), bool),
        "normalization_folded": isinstance(meta["normalization_folded"], bool),
        "output_names": seq(meta["output_names"], lambda x: isinstance(x, str)),
        "output_map": isinstance(meta["output_map"], dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in meta["output_map"].items()),
        "outputs": isinstance(meta.get("outputs", {}), dict),
        "deployment": isinstance(meta["deployment"], dict),
    }
    bad = [k for k, ok in checks.items() if not ok]
    if bad:
        raise CheckpointError(f"{origin}: metadata field(s) {bad} have the wrong type or shape (see "
                              "runtime/metadata.py); re-export the model with this toolkit")


def write_metadata(model_path: str | Path, meta: dict) -> Path:
    """Write the sidecar atomically; returns its path."""
    validate_metadata(meta, str(model_path))
    return atomic_write_text(sidecar_path(model_path), json.dumps(meta, indent=2) + "\n")


def record_as_read(meta: dict, origin: str) -> dict:
    """A record held in memory exactly as read_metadata would return it from its sidecar (JSON round trip)."""
    return validate_metadata(json.loads(json.dumps(meta)), origin)


def read_metadata(model_path: str | Path) -> dict:
    """Read `<model>.json`; CheckpointError naming the file when absent, oversized or unreadable."""
    path = sidecar_path(model_path)
    if not path.is_file():
        raise CheckpointError(f"{path} not found: exported models need their metadata sidecar; "
                              "keep it next to the model file or re-export")
    if path.stat().st_size > MAX_SIDECAR_BYTES:
        raise CheckpointError(f"{path} is {path.stat().st_size} bytes, not a sidecar of this toolkit "
                              f"(at most {MAX_SIDECAR_BYTES}); re-export the model")
    try:
        meta = jsonsafe.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise CheckpointError(f"{path}: unreadable metadata ({type(e).__name__}: {e}); re-export the model") \
            from None
    return validate_metadata(meta, str(path))
