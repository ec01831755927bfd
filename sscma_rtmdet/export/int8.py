"""Full-integer TFLite from an onnx2tf SavedModel, with control over the activation ranges.

The converter's one-call int8 path is split in its two halves (TF 2.19, pinned; private entry points):
`calibrate_only` gives a float flatbuffer carrying a calibration min/max per activation tensor, which we may
edit (`override_ranges`) before `quantize_calibrated` makes the int8 model. PTQ uses it to narrow the inputs
of SiLU (below); QAT to put in the ranges it learned (quant/export.py).

SiLU is LOGISTIC(x) and MUL(x, sigmoid) in TFLite, so its input x, the conv output, is a quantized tensor.
Calibration spans its whole range, often [-14, 14], although SiLU is flat below about -8
(|silu(x)| < 0.0027 there). Flooring that tensor's range at SILU_INPUT_FLOOR gives the values that matter a
finer grid; inputs below it saturate to -8, changing SiLU's output by < 0.0027, under half a step of the
product's grid. Measured on the demo SiLU nano (192x192, 60 val images): int8 AP 0.389 -> 0.403 with float
0.400 (floors at -4 / -5 / -6 gave 0.379 / 0.398 / 0.400).

The calibrator's own min/max are not all trustworthy: it logs some tensors after the next op has reused
their buffer in place (TF 2.19). The input MUL(pixels, 1/std) was logged with the following ADD's minimum
(-2.12 instead of 0: a 1.5x coarser input grid), and the last conv of each residual block with the residual
sum's range (up to 1.7x too wide). `measured_ranges` re-measures every calibrated tensor by running the
calibrated float model with all tensors preserved (no buffer sharing) over the same images.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..runtime.layout import SCORE_RANGE_MIN, YOLO_RANGE_MAX
from ..utils.native import quiet_native
from .saved_model import quiet_tf
from .xnnpack import nearest_resize_as_concat

SILU_INPUT_FLOOR = -8.0


def pixel_range(offset: int = 0) -> tuple[float, float]:
    """A pixel input's real range, pixel - offset: (0, 255) gives int8 scale 1 / zero point -128, (-128, 127)
    (the centred input) scale 1 / zero point 0; either way the int8 value is pixel - 128 exactly."""
    return (0.0 - offset, 255.0 - offset)


def _tf():
    return quiet_tf()


def calibrate_only(saved_model: Path, calib: np.ndarray) -> bytes:
    """SavedModel -> float flatbuffer carrying per-tensor calibration min/max (not yet quantized).

    calib: (N,H,W,3) float32 in the graph's input domain.
    """
    tf = _tf()
    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([calib[i:i + 1].astype(np.float32)] for i in range(len(calib)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    conv._experimental_calibrate_only = True
    with quiet_native():
        return conv.convert()


def _model(model_bytes: bytes):
    from tensorflow.lite.tools import flatbuffer_utils as fbu

    return fbu.convert_bytearray_to_object(bytearray(model_bytes))


def calibrated_tensors(model_bytes: bytes) -> dict[int, tuple[float, float]]:
    """{subgraph-0 tensor index: (min, max)} of the tensors that carry calibration (activations)."""
    out = {}
    for i, t in enumerate(_model(model_bytes).subgraphs[0].tensors):
        q = t.quantization
        if q is not None and q.min is not None and len(q.min):
            out[i] = (float(q.min[0]), float(q.max[0]))
    return out


def silu_inputs(model_bytes: bytes) -> set[int]:
    """Indices of tensors x used as LOGISTIC(x) and in MUL(x, LOGISTIC(x)): the inputs of SiLUs."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = _model(model_bytes)
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    ops = [(codes[op.opcodeIndex], list(op.inputs), list(op.outputs)) for op in model.subgraphs[0].operators]
    muls = {frozenset(ins) for code, ins, _ in ops if code == schema.BuiltinOperator.MUL}
    return {ins[0] for code, ins, outs in ops
            if code == schema.BuiltinOperator.LOGISTIC and frozenset((ins[0], outs[0])) in muls}


def measured_ranges(calibrated: bytes, calib: np.ndarray) -> dict[int, tuple[float, float]]:
    """{tensor index: (min, max)} of every calibrated tensor, measured over calib (N,H,W,3) float32 by the
    float flatbuffer itself with every tensor kept (reference kernels, no in-place buffer reuse)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    indices = list(calibrated_tensors(calibrated))
    with quiet_native():
        interp = Interpreter(model_content=calibrated, experimental_preserve_all_tensors=True,
                             experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        interp.allocate_tensors()
    inp = interp.get_input_details()[0]["index"]
    lo = dict.fromkeys(indices, np.inf)
    hi = dict.fromkeys(indices, -np.inf)
    for i in range(len(calib)):
        interp.set_tensor(inp, calib[i:i + 1].astype(np.float32))
        interp.invoke()
        for t in indices:
            v = interp.get_tensor(t)
            lo[t], hi[t] = min(lo[t], float(v.min())), max(hi[t], float(v.max()))
    return {t: (lo[t], hi[t]) for t in indices}


def override_ranges(calibrated: bytes, ranges: dict[int, tuple[float, float]]) -> bytes:
    """Replace the calibration min/max of the given tensors (index in subgraph 0) in the flatbuffer."""
    from tensorflow.lite.tools import flatbuffer_utils as fbu

    model = _model(calibrated)
    tensors = model.subgraphs[0].tensors
    for idx, (lo, hi) in ranges.items():
        q = tensors[idx].quantization
        if q is None or q.min is None:
            continue
        q.min = np.asarray([lo], np.float32)
        q.max = np.asarray([hi], np.float32)
    return bytes(fbu.convert_object_to_bytearray(model))


def silu_floor_ranges(calibrated: bytes, ranges: dict[int, tuple[float, float]] | None = None
                      ) -> dict[int, tuple[float, float]]:
    """New (min, max) for every SiLU input whose min (from `ranges`, else the flatbuffer) lies below
    SILU_INPUT_FLOOR."""
    cal = ranges if ranges is not None else calibrated_tensors(calibrated)
    return {i: (SILU_INPUT_FLOOR, cal[i][1]) for i in silu_inputs(calibrated)
            if i in cal and cal[i][0] < SILU_INPUT_FLOOR < cal[i][1]}


def logit_outputs(model_bytes: bytes) -> set[int]:
    """Tensors holding an 'sscma' layout's score logits: each 3-D graph output whose last dim is not 4 (the
    firmware's own rule; runtime.layout pads 4 classes to 5), and the tensors a RESHAPE chain feeds into it."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = _model(model_bytes)
    sub = model.subgraphs[0]
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    producer = {o: (codes[op.opcodeIndex], list(op.inputs)) for op in sub.operators for o in op.outputs}
    out = set()
    for t in sub.outputs:
        shape = list(sub.tensors[t].shape)
        if len(shape) != 3 or shape[-1] == 4:
            continue
        while t is not None:
            out.add(int(t))
            code, ins = producer.get(t, (None, []))
            t = ins[0] if code == schema.BuiltinOperator.RESHAPE else None
    return out


def score_floor_ranges(calibrated: bytes, ranges: dict[int, tuple[float, float]]) -> dict[int, tuple[float, float]]:
    """New (min, max) for logit score tensors whose range reaches below SCORE_RANGE_MIN (runtime.layout):
    scores under 4.5e-5 saturate there and those that matter get a finer int8 grid."""
    return {i: (SCORE_RANGE_MIN, ranges[i][1]) for i in logit_outputs(calibrated)
            if i in ranges and ranges[i][0] < SCORE_RANGE_MIN < ranges[i][1]}


def input_tensor(model_bytes: bytes) -> int:
    """Index of the graph input tensor (subgraph 0)."""
    return int(_model(model_bytes).subgraphs[0].inputs[0])


def yolo_output_ranges(model_bytes: bytes) -> dict[int, tuple[float, float]]:
    """A 'yolov8' graph's output and the tensors a TRANSPOSE / RESHAPE / CONCATENATION chain builds it from, all
    on [0, YOLO_RANGE_MAX] (runtime.layout): one grid, the sigmoid's own, so nothing is requantized and boxes
    and scores share the scale < 0.1 the firmware reads as 'normalised'."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = _model(model_bytes)
    sub = model.subgraphs[0]
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    producer = {o: (codes[op.opcodeIndex], list(op.inputs)) for op in sub.operators for o in op.outputs}
    passes = {schema.BuiltinOperator.TRANSPOSE: 1, schema.BuiltinOperator.RESHAPE: 1,
              schema.BuiltinOperator.CONCATENATION: None}
    out, todo = {}, [int(t) for t in sub.outputs]
    while todo:
        t = todo.pop()
        if t in out:
            continue
        out[t] = (0.0, YOLO_RANGE_MAX)
        code, ins = producer.get(t, (None, []))
        if code in passes:
            todo += [int(i) for i in (ins if passes[code] is None else ins[:passes[code]])]
    return out


def ptq_ranges(calibrated: bytes, measured: dict[int, tuple[float, float]],
               pixel_offset: int | None = None, layout: str = "sscma") -> dict[int, tuple[float, float]]:
    """The ranges PTQ quantizes with: the re-measured ones (`measured_ranges`), SiLU inputs and logit score
    outputs floored ('yolov8': its output on the sigmoid's grid), and for a pixel input (`pixel_offset` not
    None) the input fixed to `pixel_range`, so pixel - 128 is the int8 value exactly (what SSCMA-Micro writes,
    never reading the input's quantization)."""
    ranges = {**measured, **silu_floor_ranges(calibrated, measured)}
    if layout == "yolov8":
        ranges.update({i: r for i, r in yolo_output_ranges(calibrated).items() if i in ranges})
    else:
        ranges.update(score_floor_ranges(calibrated, ranges))
    if pixel_offset is not None:
        ranges[input_tensor(calibrated)] = pixel_range(pixel_offset)
    return ranges


def quantize_calibrated(calibrated: bytes) -> bytes:
    """Calibrated float flatbuffer -> full-int8 flatbuffer (int8 input/output, per-channel weights), nearest
    resizes rewritten as ops XNNPACK runs (export.xnnpack; same int8 values)."""
    tf = _tf()
    from tensorflow.lite.python import convert


    with quiet_native():  # mlir_quantize prints its settings on stdout
        flat = convert.mlir_quantize(calibrated, disable_per_channel=False, input_data_type=tf.int8,
                                     output_data_type=tf.int8)
    return nearest_resize_as_concat(flat)


def full_int8(saved_model: Path, calib: np.ndarray, pixel_offset: int | None = None, layout: str = "sscma") -> bytes:
    """PTQ: calibrate on `calib` (in the graph's input domain), re-measure the ranges, floor SiLU inputs (and
    fix a pixel input's range, `pixel_offset`, and the output grid of `layout`: see ptq_ranges), quantize.
    Returns the int8 flatbuffer."""
    calibrated = calibrate_only(saved_model, calib)
    ranges = ptq_ranges(calibrated, measured_ranges(calibrated, calib), pixel_offset, layout)
    return quantize_calibrated(override_ranges(calibrated, ranges))
