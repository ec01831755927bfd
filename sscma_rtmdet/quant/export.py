"""Export a QAT model to int8 TFLite with the quantization ranges QAT learned.

Route (same torch -> ONNX -> onnx2tf SavedModel -> TFLiteConverter pipeline as `export/`):
1. `deploy_model`: the QAT float weights with BN folded -> `export_onnx` -> onnx2tf SavedModel.
   The converter quantizes weights per channel with max|w|/127, the rule QAT's weight fake-quant uses,
   so the int8 weights are the QAT ones.
2. The converter calibrates (`_experimental_calibrate_only`): a float flatbuffer with a min/max per tensor.
3. Every activation tensor of that flatbuffer is matched by value (one calibration image through the float
   TFLite interpreter and through the QAT model with quantization off) to a QAT quantizer, and its min/max
   is replaced by the grid QAT learned. Tensors QAT does not model keep the converter's calibration.
4. `mlir_quantize` turns it into the full-int8 model; biases become int32 with in_scale * w_scale.
Metadata and the onnxruntime check come from `export.tflite_export` like any other export.
"""
from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data.preprocess import to_color
from ..export.int8 import (calibrate_only, pixel_range, calibrated_tensors, input_tensor, measured_ranges,
                           override_ranges, ptq_ranges, quantize_calibrated)
from ..export.onnx_export import export_onnx
from ..export.saved_model import onnx_to_saved_model
from ..export.tflite_export import tflite_metadata, verify_against_onnx
from ..runtime.backends import load_backend
from ..runtime.deployment import Deployment
from ..runtime.metadata import write_metadata
from ..runtime.wrapper import ExportWrapper, input_offset
from ..utils.fileio import atomic_write
from ..utils.native import quiet_native
from .qmodel import deploy_model, quantizers
from .qmodules import QConv2d, QConvModule

MATCH_RTOL = 2e-3  # max |tflite - torch| / value range for a float tensor to be "the same tensor"
INPUT_QUANTIZERS = ("in_mul_q", "in_q")  # QRTMDet's: tensors before the first conv, in the input's channel order


@contextlib.contextmanager
def quant_disabled(qmodel: nn.Module):
    """QAT model computing in float (no weight or activation fake-quant): equals the deploy graph."""
    qs = list(quantizers(qmodel).values())
    convs = [m for m in qmodel.modules() if isinstance(m, (QConvModule, QConv2d))]
    saved = [bool(q.enabled) for q in qs]
    for q in qs:
        q.enabled.fill_(False)
    for m in convs:
        m.quant_weights = False
    try:
        yield qmodel
    finally:
        for q, e in zip(qs, saved):
            q.enabled.fill_(e)
        for m in convs:
            del m.quant_weights


@torch.no_grad()
def capture_points(qmodel: nn.Module, x: torch.Tensor, quantize: bool = False) -> dict[str, np.ndarray]:
    """{quantizer name: NHWC (or flat) float array it sees} for a normalised (1,3,H,W) input, in float
    (quantize=False) or with fake-quant on (outputs then, for the quantized values)."""
    captured, hooks = {}, []
    for name, q in quantizers(qmodel).items():
        def hook(mod, inp, out, name=name):
            v = (out if quantize else inp[0]).detach().float().cpu().numpy()
            captured[name] = v.transpose(0, 2, 3, 1) if v.ndim == 4 else v
        hooks.append(q.register_forward_hook(hook))
    was = qmodel.training
    qmodel.eval()
    try:
        ctx = contextlib.nullcontext() if quantize else quant_disabled(qmodel)
        with ctx:
            qmodel(x.to(next(qmodel.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
        qmodel.train(was)
    return captured


def tflite_activations(model_bytes: bytes, sample: np.ndarray) -> dict[int, np.ndarray]:
    """{tensor index: value} of every float activation tensor for one input (1,H,W,3)."""
    from ai_edge_litert.interpreter import Interpreter

    with quiet_native():
        interp = Interpreter(model_content=model_bytes, experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], sample.astype(np.float32))
    interp.invoke()
    out = {}
    for d in interp.get_tensor_details():
        if d["dtype"] != np.float32:
            continue
        with contextlib.suppress(ValueError):
            out[d["index"]] = interp.get_tensor(d["index"]).copy()
    return out


def match_tensors(tfl: dict[int, np.ndarray], ours: dict[str, np.ndarray],
                  tfl_ranges: dict[int, tuple[float, float]] | None = None,
                  our_ranges: dict[str, tuple[float, float]] | None = None) -> dict[int, str]:
    """Tensor index -> quantizer name whose float value is the same tensor (same shape, values within
    MATCH_RTOL of the value range); the closest one wins when several qualify. Values equal on the sample
    (a clamp that clamped nothing) are told apart by range: the tensor's range over the calibration images
    (`tfl_ranges`) against the quantizer's (`our_ranges`)."""
    by_shape: dict[tuple, list[str]] = {}
    for name, v in ours.items():
        by_shape.setdefault(tuple(v.shape), []).append(name)
    matches = {}
    for idx, v in tfl.items():
        cands = []
        for name in by_shape.get(tuple(v.shape), []):
            ref = ours[name]
            span = max(float(ref.max() - ref.min()), 1e-6)
            err = float(np.abs(ref - v).max()) / span
            if err <= MATCH_RTOL:
                cands.append((err, name))
        if not cands:
            continue
        best_err = min(cands)[0]
        tied = [n for e, n in cands if e <= best_err + 1e-5]
        if len(tied) > 1 and tfl_ranges and our_ranges and idx in tfl_ranges:
            lo, hi = tfl_ranges[idx]
            known = [n for n in tied if n in our_ranges]
            if known:
                tied = [min(known, key=lambda n: abs(our_ranges[n][0] - lo) + abs(our_ranges[n][1] - hi))]
        matches[idx] = tied[0] if len(tied) == 1 else min(cands)[1]
    return matches


def learned_ranges(qmodel: nn.Module, matches: dict[int, str]) -> dict[int, tuple[float, float]]:
    """Tensor index -> the (min, max) the matched quantizer hands the converter (fixed ones left to TFLite)."""
    qs = quantizers(qmodel)
    return {idx: qs[name].export_range() for idx, name in matches.items()
            if qs[name].fixed is None and qs[name].has_range()}


def _calibrate_and_match(qmodel: nn.Module, saved_model: Path, calib: np.ndarray, dep: Deployment):
    """For the SavedModel of `deploy_model(qmodel)`: (calibrate-only flatbuffer, {calibrated tensor index:
    its float value for calib[0]}, {tensor index: quantizer name}, {tensor index: (min, max) measured over
    calib by `measured_ranges`})."""
    raw = calib
    calib = calib - np.float32(input_offset(dep.preprocess))  # pixels -> the graph's input
    calibrated = calibrate_only(saved_model, calib)
    measured = measured_ranges(calibrated, calib)
    tfl = tflite_activations(calibrated, calib[:1].astype(np.float32))
    calibrated_idx = set(calibrated_tensors(calibrated))
    tfl = {i: v for i, v in tfl.items() if i in calibrated_idx}
    ours = {n: q.export_range() for n, q in quantizers(qmodel).items() if q.fixed is None and q.has_range()}
    points = capture_points(qmodel, dep.preprocess.from_input(raw[:1].astype(np.float32), dep.input_color))
    if dep.input_color != dep.preprocess.color:  # the file normalises its input in the file's channel order
        points.update({n: to_color(points[n], "rgb") for n in INPUT_QUANTIZERS if n in points})
    return calibrated, tfl, match_tensors(tfl, points, measured, ours), measured


@torch.no_grad()
def start_from_ptq(qmodel: nn.Module, dep: Deployment, calib: np.ndarray) -> dict:
    """Set every quantizer the int8 graph shows to the range the PTQ exporter measures for its tensor.

    The model goes through the export pipeline (BN-folded ONNX -> SavedModel -> calibration on `calib`,
    (N,H,W,3) raw pixels, ranges re-measured by `measured_ranges`), and each matched quantizer takes its
    tensor's measured min/max (the float32 values themselves). QAT then starts from the PTQ model: exported
    before any fine-tuning, it gives the PTQ int8 file. Quantizers not matched keep their own calibration.
    Returns {"tensors", "matched", "set"}.
    """

    with tempfile.TemporaryDirectory(prefix="sscma_qat_start_") as tmp:
        onnx_file = Path(tmp) / "start.onnx"
        export_onnx(deploy_model(qmodel).cpu(), dep, onnx_file)
        saved = onnx_to_saved_model(onnx_file, Path(tmp))
        calibrated, tfl, matches, measured = _calibrate_and_match(qmodel, saved, calib, dep)
    per_quantizer: dict[str, tuple[float, float]] = {}
    for idx, name in matches.items():
        lo, hi = measured[idx]
        if name in per_quantizer:  # one quantizer at several tensors: the tightest range is its own value
            lo, hi = max(lo, per_quantizer[name][0]), min(hi, per_quantizer[name][1])
        per_quantizer[name] = (lo, hi)
    qs = quantizers(qmodel)
    n = 0
    for name, (lo, hi) in per_quantizer.items():
        if qs[name].fixed is None and qs[name].tied is None:
            qs[name].set_range(lo, hi)
            n += 1
    return {"tensors": len(tfl), "matched": len(matches), "set": n}


def convert_qat(qmodel: nn.Module, saved_model: Path, calib: np.ndarray, dep: Deployment) -> tuple[bytes, dict]:
    """SavedModel of `deploy_model(qmodel)` -> (int8 flatbuffer, report of the range transfer).

    calib: (N,H,W,3) raw-pixel images (the graph folds normalisation); calib[0] drives the tensor matching.
    """
    calibrated, tfl, matches, measured = _calibrate_and_match(qmodel, saved_model, calib, dep)
    learned = learned_ranges(qmodel, matches)
    ranges = {**ptq_ranges(calibrated, measured), **learned}  # unmatched tensors keep PTQ's ranges
    ranges[input_tensor(calibrated)] = pixel_range(input_offset(dep.preprocess))  # the pixel input, as PTQ fixes it
    int8 = quantize_calibrated(override_ranges(calibrated, ranges))
    names = _tensor_names(calibrated)
    used = set(matches.values())
    report = {"tensors": len(tfl), "matched": len(matches), "overridden": len(learned),
              "unmatched_tensors": sorted(names[i] for i in tfl if i not in matches),
              "unused_quantizers": sorted(n for n, q in quantizers(qmodel).items()
                                          if n not in used and q.has_range()),
              "tensor_to_quantizer": {names[i]: n for i, n in matches.items()}}
    return int8, report


def _tensor_names(model_bytes: bytes) -> dict[int, str]:
    from ai_edge_litert.interpreter import Interpreter

    return {d["index"]: d["name"] for d in Interpreter(model_content=model_bytes).get_tensor_details()}


def output_agreement(qmodel: nn.Module, tflite_path: Path, dep: Deployment, samples: np.ndarray,
                     meta: dict | None = None) -> dict:
    """Per output: fraction of elements where the int8 file and the fake-quant model differ by at most
    one output quantization step, and the largest difference in steps. samples (N,H,W,3) raw pixels."""

    backend = load_backend(tflite_path, meta=meta)
    got = backend(samples)
    was = qmodel.training
    qmodel.eval()
    with torch.no_grad():
        wrapper = ExportWrapper(qmodel, dep.preprocess, True, dep.layout, dep.input_color)
        ref = wrapper.named(torch.from_numpy(samples.transpose(0, 3, 1, 2).copy()) - wrapper.input_offset)
    qmodel.train(was)
    res = {}
    for name, value in got.items():
        step = backend.meta["outputs"][name]["quantization"]["scale"]
        steps = np.abs(value - ref[name].numpy()) / step
        # one step of the file's grid: the fake-quant model's own output grid may differ from it by < 1%
        res[name] = {"within_one_step": float((steps <= 1.0 + 1e-2).mean()), "max_steps": float(steps.max())}
    return res


def export_qat_tflite(qmodel: nn.Module, dep: Deployment, calib: np.ndarray, out_path: str | Path, *,
                      source_checkpoint: str | None = None, onnx_path: str | Path | None = None,
                      state: dict | None = None) -> dict:
    """Write the int8 `out_path` (+ `.json` sidecar with `qat` section) from a QAT model; returns metadata.

    dep: the deployment record of the model (layout, input colour, classes); calib: raw-pixel calibration
    images in its input domain. state: which QAT state this is (epoch, fake-quant val mAP), recorded in the
    sidecar. The float graph (BN folded, QAT weights) goes to `onnx_path` when given (else a temp file).
    """

    qmodel = qmodel.cpu()
    out_path = Path(out_path)
    with tempfile.TemporaryDirectory(prefix="sscma_qat_") as tmp:
        onnx_file = Path(onnx_path) if onnx_path else Path(tmp) / "qat_model.onnx"
        meta = export_onnx(deploy_model(qmodel), dep, onnx_file, source_checkpoint=source_checkpoint)
        saved = onnx_to_saved_model(onnx_file, Path(tmp))
        int8, report = convert_qat(qmodel, saved, calib, dep)
        with atomic_write(out_path, suffix=".tflite") as part:
            part.write_bytes(int8)
            fmeta = tflite_metadata(meta, part, "int8")
        # checked with the record in memory: the sidecar is written once, below
        agreement = output_agreement(qmodel, out_path, dep, calib[:2], fmeta)
        errs = verify_against_onnx(out_path, onnx_file, calib[:2], ("max", "mean", "p99"), foreground_boxes=True,
                                   meta=fmeta)
        fmeta["verification"] = {"samples": 2, "foreground_boxes_only": True,
                                 **{f"{stat}_rel_err_vs_onnx": e for stat, e in errs.items()}}
    fmeta["qat"] = {"state": state or {},
                    "matched_tensors": report["matched"], "activation_tensors": report["tensors"],
                    "ranges_from_qat": report["overridden"], "unmatched_tensors": report["unmatched_tensors"],
                    "unused_quantizers": report["unused_quantizers"], "agreement_with_fake_quant": agreement,
                    "tensor_to_quantizer": report["tensor_to_quantizer"]}
    write_metadata(out_path, fmeta)
    return fmeta
