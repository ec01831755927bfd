"""ONNX -> TFLite (float32 / float16 / full-int8) via onnx2tf's SavedModel and TFLiteConverter.

onnx2tf only builds the SavedModel (NHWC input); the TFLite files come from `TFLiteConverter.from_saved_model`
(~10x faster than onnx2tf's int8 path, same accuracy, and its failures raise instead of being logged).
Each file gets a sidecar with the NHWC layout, the signature-key -> output-name map and quantization params.
Every export is checked against onnxruntime on calibration samples, output by output, by name.
"""
from __future__ import annotations

import copy
import re
import tempfile
import warnings
from pathlib import Path
from typing import Iterable

import numpy as np

from ..errors import UserError
from ..runtime.backends import load_backend
from ..runtime.metadata import input_offset_of, read_metadata, write_metadata
from ..utils.fileio import atomic_write
from ..utils.native import quiet_native
from .int8 import full_int8
from .saved_model import ExportError, onnx_to_saved_model, quiet_tf
from .xnnpack import float32_scalars, nearest_resize_as_concat

FORMATS = ("float32", "float16", "int8")
# Error vs onnxruntime as a fraction of each output's range above which an export is refused; int8 by its mean
# and p99 (single elements legitimately err by 20-30%). Measurements behind the numbers: docs/design.md.
VERIFY_TOL = {"float32": {"max": 1e-4}, "float16": {"max": 2e-2}, "int8": {"mean": 0.15, "p99": 0.35}}
# Absolute floors (scores are probabilities, boxes pixels): near-constant outputs have a tiny range.
VERIFY_ATOL = {"float32": 1e-5, "float16": 2e-3, "int8": 0.0}


def convert_saved_model(saved: Path, precision: str, calib: np.ndarray | None,
                        pixel_offset: int | None = None, layout: str = "sscma") -> bytes:
    """SavedModel -> TFLite flatbuffer. int8 = full integer: int8 in/out, per-channel weights, SiLU inputs
    floored, a pixel input (pixel - `pixel_offset`) quantized so its int8 value is pixel - 128 (export.int8).
    calib: (N,H,W,3) in the graph's input domain. Nearest resizes become ops XNNPACK runs (export.xnnpack);
    float16 keeps scalar constants (the gates' 1/6) in float32."""
    if precision == "int8":
        return full_int8(saved, calib, pixel_offset, layout)

    tf = quiet_tf()
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved))
    if precision == "float16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    with quiet_native():
        flat = nearest_resize_as_concat(conv.convert())
    return float32_scalars(flat) if precision == "float16" else flat


def _signature_info(path: Path) -> tuple[str, dict, dict, object]:
    from ai_edge_litert.interpreter import Interpreter

    with quiet_native():
        interp = Interpreter(model_path=str(path))
        sigs = interp.get_signature_list()
        if len(sigs) != 1:
            raise ExportError(f"{path}: expected one signature, found {list(sigs)}")
        key = next(iter(sigs))
        runner = interp.get_signature_runner(key)
    return key, runner.get_input_details(), runner.get_output_details(), interp


def map_outputs(keys: Iterable[str], names: list[str]) -> dict[str, str]:
    """Signature output key -> our name: keys equal to an ONNX name map to it, `output_k` to names[k]."""
    mapping = {}
    for key in keys:
        m = re.fullmatch(r"output_(\d+)", key)
        if key in names:
            mapping[key] = key
        elif m and int(m.group(1)) < len(names):
            mapping[key] = names[int(m.group(1))]
        else:
            raise ExportError(f"TFLite output {key!r} matches none of the ONNX outputs {names}")
    if sorted(mapping.values()) != sorted(names):
        raise ExportError(f"TFLite outputs {sorted(mapping)} do not cover the ONNX outputs {names} one-to-one")
    return mapping


def check_full_int8(interp, path: Path) -> None:
    """Full-integer means no float tensor anywhere (a half-quantized graph would run slowly on CPU)."""
    floats = [d["name"] for d in interp.get_tensor_details() if d["dtype"] in (np.float32, np.float16)]
    if floats:
        raise ExportError(f"{path}: int8 conversion left float tensors {floats[:5]}"
                          f"{' ...' if len(floats) > 5 else ''}; an op has no int8 kernel")


def pixel_qparams(offset: int) -> dict:
    """A pixel int8 input's quantization: q = pixel - 128 for raw pixels (offset 0) and centred ones (128)."""
    return {"scale": 1.0, "zero_point": offset - 128}


def _qparams(detail) -> dict | None:
    scale, zp = detail["quantization"]
    return None if scale == 0 else {"scale": float(scale), "zero_point": int(zp)}


def tflite_metadata(onnx_meta: dict, path: Path, precision: str, strict: bool = True) -> dict:
    """Sidecar for one .tflite: NHWC input, signature map, per-tensor quantization; validates int8
    (an error, or with strict=False a warning)."""
    key, ins, outs, interp = _signature_info(path)
    meta = copy.deepcopy(onnx_meta)
    (in_key, in_det), = ins.items()
    meta.update(format="tflite", precision=precision, signature_key=key,
                output_map=map_outputs(outs, onnx_meta["output_names"]))
    meta["input"].update(name=in_key, layout="NHWC", dtype=np.dtype(in_det["dtype"]).name,
                         quantization=_qparams(in_det))
    for k, name in meta["output_map"].items():
        meta["outputs"][name]["quantization"] = _qparams(outs[k])  # shape stays the ONNX one (backends give NCHW)
    if precision == "int8":
        try:
            check_full_int8(interp, path)
            if in_det["dtype"] != np.int8 or any(d["dtype"] != np.int8 for d in outs.values()):
                raise ExportError(f"{path}: int8 export must have int8 input and outputs")
            want = pixel_qparams(input_offset_of(meta))
            if meta["normalization_folded"] and _qparams(in_det) != want:
                raise ExportError(f"{path}: int8 input quantization {_qparams(in_det)} is not {want} "
                                  "(pixel - 128, as SSCMA-Micro feeds it)")
        except ExportError as e:
            if strict:
                raise
            warnings.warn(f"{e} (kept: verification is off)", stacklevel=2)
    return meta


# Box distances are compared only where the reference scores a possible detection: background distances
# are meaningless, so their int8 error says nothing about the file (docs/design.md).
FOREGROUND_SCORE = 0.05


def object_mask(ref: dict, name: str) -> np.ndarray | None:
    """For a `box_sK` output: True where `score_sK` of `ref` peaks at >= FOREGROUND_SCORE (sigmoid scores
    (N,C,H,W) of layout 'nchw', or logits (N,H*W,C) of 'sscma'); None for other outputs."""
    partner = name.replace("box_", "score_", 1)
    if not name.startswith("box_") or partner not in ref:
        return None
    scores = ref[partner]
    if scores.ndim == 3:  # 'sscma': (N, H*W, C) logits
        peak = scores.max(axis=2, keepdims=True) >= np.log(FOREGROUND_SCORE / (1 - FOREGROUND_SCORE))
    else:
        peak = scores.max(axis=1, keepdims=True) >= FOREGROUND_SCORE
    return np.broadcast_to(peak, ref[name].shape)


def relative_errors(ref: dict, got: dict, qparams: dict, stats: Iterable[str] = ("max",),
                    foreground_boxes: bool = False, span_floor: float = 0.0) -> dict[str, dict[str, float]]:
    """{stat: {output: abs error / output range}}, stat in 'max', 'p99' (99th percentile), 'mean'.

    ref/got: {name: array} in the file's layout; 'sscma' score logits (N,H*W,C) are compared as sigmoid scores
    (what the decoder makes of them: a logit error at -12 is nothing, at 0 everything). For int8 outputs
    (qparams[name] has a scale) the range is floored at 32 quantization steps (of the sigmoid grid for
    logits), so a near-constant output is not flagged for an error of one or two steps.
    foreground_boxes: judge `box_sK` only at positions where `score_sK` (N,K,H,W) of ref peaks at
    >= FOREGROUND_SCORE (skipped when there are none).
    span_floor: the range is at least this (so an absolute error `atol` stays within a relative limit `tol`
    with span_floor = atol / tol).
    """
    reduce = {"max": np.max, "mean": np.mean, "p99": lambda e: np.quantile(e, 0.99)}
    out = {stat: {} for stat in stats}
    for name, r in ref.items():
        g = got[name]
        if g.shape != r.shape:
            raise ExportError(f"output {name} has shape {g.shape}, ONNX {r.shape}")
        scale = (qparams.get(name) or {}).get("scale", 0.0)
        if name.startswith("score_") and r.ndim == 3:  # 'sscma' logits: judged as the scores they decode to
            r, g = _sigmoid(r), _sigmoid(g)
            scale = scale and SIGMOID_STEP
        err = np.abs(g - r)
        fg = object_mask(ref, name) if foreground_boxes else None
        if fg is not None:
            if not fg.any():
                continue
            err = err[fg]  # judged where objects are, against the whole output's range (its int8 grid)
        span = max(float(r.max() - r.min()), 32 * scale, span_floor) or 1.0
        for stat in stats:
            out[stat][name] = float(reduce[stat](err)) / span
    return out


SIGMOID_STEP = 1.0 / 256  # the int8 grid of a sigmoid output: the span floor of scores judged as sigmoids


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)


def verify_against_onnx(tflite_path: Path, onnx_path: Path, samples: np.ndarray, stats: Iterable[str] = ("max",),
                        foreground_boxes: bool = False, span_floor: float = 0.0,
                        meta: dict | None = None) -> dict[str, dict[str, float]]:
    """Run both files on `samples` (N,H,W,3) and return `relative_errors` (outputs matched by name); `meta`:
    the .tflite's record when its sidecar is not written yet."""

    ref = load_backend(onnx_path)(samples)
    tfl = load_backend(tflite_path, meta=meta)
    got = tfl(samples)
    qparams = {name: o.get("quantization") for name, o in tfl.meta["outputs"].items()}
    try:
        return relative_errors(ref, got, qparams, stats, foreground_boxes, span_floor)
    except ExportError as e:
        raise ExportError(f"{tflite_path}: {e}") from None


def export_tflite(onnx_path: str | Path, out_stem: str | Path, formats: Iterable[str] = FORMATS,
                  calib: np.ndarray | None = None, metadata: dict | None = None,
                  verify_samples: int = 8) -> dict[str, Path]:
    """Write `<out_stem>_<precision>.tflite` (+ `.json` sidecars) for each requested precision.

    calib: (N,H,W,3) float32 pixels, or normalised values for an unfolded graph (export.calibration); required
    for int8.
    metadata: the ONNX export's metadata (default: its sidecar). Returns {precision: path}.
    verify_samples: calibration images each file is checked against ONNX on; 0 skips that check (and makes
    a not fully integer int8 file a warning instead of an error).
    """
    formats = list(dict.fromkeys(formats))
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise UserError(f"unknown TFLite format(s) {bad}; choose from {list(FORMATS)}")
    onnx_path, out_stem = Path(onnx_path), Path(out_stem)
    meta = metadata if metadata is not None else read_metadata(onnx_path)
    h, w = meta["input"]["hw"]
    if calib is None and "int8" in formats:
        raise UserError("int8 export needs calibration images; pass a calibration folder")
    if calib is not None and (calib.ndim != 4 or calib.shape[1:] != (h, w, 3)):
        raise UserError(f"calibration array has shape {calib.shape}; expected (N, {h}, {w}, 3)")
    # enough samples that a small stride-32 map gives a stable p99 (docs/design.md)
    samples = calib[:verify_samples] if calib is not None and verify_samples else None
    try:
        return _convert_all(onnx_path, out_stem, formats, calib, meta, samples, strict=False)
    except ExportError:
        if samples is None:
            raise
        return _convert_all(onnx_path, out_stem, formats, calib, meta, samples, strict=True)


def _convert_all(onnx_path, out_stem, formats, calib, meta, samples, strict: bool) -> dict[str, Path]:
    results = {}
    with tempfile.TemporaryDirectory(prefix="sscma_tflite_") as tmp:
        saved = onnx_to_saved_model(onnx_path, Path(tmp), strict=strict)
        for precision in formats:
            path = out_stem.with_name(f"{out_stem.name}_{precision}.tflite")
            with atomic_write(path, suffix=".tflite") as part:
                offset = input_offset_of(meta) if meta["normalization_folded"] else None
                graph_calib = None if calib is None else calib - np.float32(offset or 0)  # pixels -> graph input
                part.write_bytes(convert_saved_model(saved, precision, graph_calib, offset,
                                                     meta["deployment"]["layout"]))
                fmeta = tflite_metadata(meta, part, precision, strict=samples is not None)
                if samples is not None:  # verified with the record in memory: the sidecar is written once
                    fmeta["verification"] = _verify(part, onnx_path, samples, precision, fmeta)
            fmeta["onnx2tf_strict"] = strict
            write_metadata(path, fmeta)
            results[precision] = path
    return results


def _verify(path: Path, onnx_path: Path, samples: np.ndarray, precision: str, meta: dict | None = None) -> dict:
    floor = VERIFY_ATOL[precision] / VERIFY_TOL[precision]["max"] if "max" in VERIFY_TOL[precision] else 0.0
    errs = verify_against_onnx(path, onnx_path, samples, ("max", *VERIFY_TOL[precision]),
                               foreground_boxes=precision == "int8", span_floor=floor, meta=meta)
    report = {"samples": int(len(samples)), "foreground_boxes_only": precision == "int8"}
    for stat, per_output in errs.items():
        report[f"{stat}_rel_err_vs_onnx"] = per_output
    for stat, tol in VERIFY_TOL[precision].items():
        worst = max(errs[stat], key=errs[stat].get)
        if errs[stat][worst] > tol:
            raise ExportError(f"{precision} TFLite output {worst} differs from ONNX by {errs[stat][worst]:.3g} of its "
                              f"range ({stat}; limit {tol}, or {VERIFY_ATOL[precision]:g} absolute); conversion "
                              "is wrong (tools/export.py --no-verify skips this check)")
    return report
