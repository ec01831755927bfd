"""TFLite graphs that LiteRT's XNNPACK delegate (the fast x86/Arm CPU path) runs whole, and a count of it.

XNNPACK takes the ops it supports and leaves the rest to LiteRT's reference kernels; every op left out
splits the graph into separate delegate partitions, with slow kernels and tensor copies between them
(RTMDet ReLU nano at 192x192, 1 thread: int8 8.8 ms with 7 partitions). In TF 2.19 / ai-edge-litert 2.1
the exporter used to leave two kinds of ops outside:
- RELU_0_TO_1 from the channel-attention hard-sigmoid: fixed in the ONNX graph
  (`onnx_export.xnnpack_gates` writes it as conv + RELU6 + MUL);
- RESIZE_NEAREST_NEIGHBOR from the neck's 2x nearest upsample: `nearest_resize_as_concat` rewrites each
  one in the flatbuffer as CONCATENATION + RESHAPE pairs (exact: nearest upsampling by an integer factor
  repeats each value; int8 tensors keep the resize's own scale and zero point, so the values are
  bit-for-bit those of the resize). XNNPACK and Vela both run CONCATENATION and RESHAPE.

float16 files also get `float32_scalars` (exactness of the gates' 1/6, see there).
`xnnpack_delegation(path)` says how much of a .tflite XNNPACK takes.
"""
from __future__ import annotations

import collections
from pathlib import Path
from typing import NamedTuple

import numpy as np


class Delegation(NamedTuple):
    """XNNPACK's share of a graph: `delegated` of `total` nodes in `partitions` delegate kernels;
    `undelegated` counts the op types left to LiteRT's own kernels."""

    delegated: int
    total: int
    partitions: int
    undelegated: dict[str, int]


def xnnpack_delegation(model: str | Path | bytes, threads: int = 1) -> Delegation:
    """Apply LiteRT's default XNNPACK delegate to `model` (a path or flatbuffer bytes) and count its share.

    Python cannot read the interpreter's execution plan, and LiteRT logs its "Replacing N out of M node(s)
    ... yielding K partitions" line only at VERBOSE severity (K there also counts the runs of ops left
    outside). So each DELEGATE node's partition is rebuilt from the graph: walking back from the
    partition's output tensors to its input tensors visits exactly the nodes it replaced.
    """
    from ai_edge_litert.interpreter import Interpreter

    kwargs = {"model_content": bytes(model)} if isinstance(model, (bytes, bytearray)) else {
        "model_path": str(model)}
    interp = Interpreter(num_threads=max(1, int(threads)), **kwargs)
    interp.allocate_tensors()
    ops = interp._get_ops_details()  # original nodes, then one DELEGATE node per partition
    nodes = [op for op in ops if op["op_name"] != "DELEGATE"]
    kernels = [op for op in ops if op["op_name"] == "DELEGATE"]
    producer = {int(t): op["index"] for op in nodes for t in op["outputs"]}
    inside: set[int] = set()
    for kernel in kernels:
        stop = {int(t) for t in kernel["inputs"]}
        todo, seen = [int(t) for t in kernel["outputs"]], set()
        while todo:
            t = todo.pop()
            if t in stop or t in seen or t not in producer:
                continue
            seen.add(t)
            node = producer[t]
            inside.add(node)
            todo.extend(int(i) for i in ops[node]["inputs"] if i >= 0)
    left = collections.Counter(op["op_name"] for op in nodes if op["index"] not in inside)
    return Delegation(len(inside), len(nodes), len(kernels), dict(left))


def _opcode(model, builtin: int, version: int) -> int:
    """Index of the operator code for `builtin` in model.operatorCodes (added when missing)."""
    from tensorflow.lite.python import schema_py_generated as schema

    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return i
    code = schema.OperatorCodeT()
    code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), version
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1


def _new_tensor(model, like, name: str, shape, data: np.ndarray | None = None) -> int:
    """Append a tensor to subgraph 0: dtype and quantization of `like`, or an int32 constant `data`."""
    import copy

    from tensorflow.lite.python import schema_py_generated as schema

    sg = model.subgraphs[0]
    t = schema.TensorT()
    t.name, t.shape = name.encode(), np.asarray(shape, np.int32)
    if data is None:
        t.type, t.quantization, t.buffer = like.type, copy.deepcopy(like.quantization), 0
    else:
        buf = schema.BufferT()
        buf.data = np.frombuffer(data.astype("<i4").tobytes(), np.uint8)
        model.buffers.append(buf)
        t.type, t.buffer = schema.TensorType.INT32, len(model.buffers) - 1
    sg.tensors.append(t)
    return len(sg.tensors) - 1


def _op(model, opcode: int, inputs, outputs, options_type: int, options):
    from tensorflow.lite.python import schema_py_generated as schema

    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = opcode, list(inputs), list(outputs)
    op.builtinOptionsType, op.builtinOptions = options_type, options
    return op


def _repeat_ops(model, x: int, y: int, factors: tuple[int, int]) -> list:
    """Ops computing y = x (1,H,W,C) with every value repeated fh x fw times, as concat + reshape pairs:
    concat fw copies on channels + reshape to (1,H,fw*W,C), then fh copies on width + reshape."""
    from tensorflow.lite.python import schema_py_generated as schema

    sg = model.subgraphs[0]
    src = sg.tensors[x]
    _, h, w, c = (int(v) for v in src.shape)
    (fh, fw), base = factors, src.name.decode(errors="replace")
    concat = _opcode(model, schema.BuiltinOperator.CONCATENATION, 1)
    reshape = _opcode(model, schema.BuiltinOperator.RESHAPE, 1)
    ops, cur = [], x
    for step, (copies, axis, shape) in enumerate(((fw, 3, (1, h, fw * w, c)), (fh, 2, (1, fh * h, fw * w, c)))):
        cat_shape = (1, h, w, fw * c) if axis == 3 else (1, h, fh * fw * w, c)
        cat = _new_tensor(model, src, f"{base}/repeat{step}_concat", cat_shape)
        copt = schema.ConcatenationOptionsT()
        copt.axis = axis
        ops.append(_op(model, concat, [cur] * copies, [cat], schema.BuiltinOptions.ConcatenationOptions, copt))
        out = y if step == 1 else _new_tensor(model, src, f"{base}/repeat{step}", shape)
        new_shape = _new_tensor(model, None, f"{base}/repeat{step}_shape", (4,), np.asarray(shape))
        ropt = schema.ReshapeOptionsT()
        ropt.newShape = list(shape)
        ops.append(_op(model, reshape, [cat, new_shape], [out], schema.BuiltinOptions.ReshapeOptions, ropt))
        cur = out
    return ops


def _same_grid(a, b) -> bool:
    qa, qb = a.quantization, b.quantization
    if qa is None or qa.scale is None or qb is None or qb.scale is None:
        return (qa is None or qa.scale is None) and (qb is None or qb.scale is None)
    return np.array_equal(qa.scale, qb.scale) and np.array_equal(qa.zeroPoint, qb.zeroPoint)


def _rewrite_ops(model_bytes: bytes, code: int, replace) -> bytes:
    """The flatbuffer with each op of builtin `code` in subgraph 0 replaced by `replace(model, sg, op)`: a
    list of ops (empty: drop it) or None (keep it). Unchanged bytes when nothing was replaced."""
    from tensorflow.lite.tools import flatbuffer_utils as fbu

    model = fbu.convert_bytearray_to_object(bytearray(model_bytes))
    sg = model.subgraphs[0]
    new_ops, changed = [], False
    for op in sg.operators:
        oc = model.operatorCodes[op.opcodeIndex]
        ops = replace(model, sg, op) if max(oc.builtinCode, oc.deprecatedBuiltinCode) == code else None
        new_ops += [op] if ops is None else ops
        changed |= ops is not None
    if not changed:
        return model_bytes
    sg.operators = new_ops
    return bytes(fbu.convert_object_to_bytearray(model))


def nearest_resize_as_concat(model_bytes: bytes) -> bytes:
    """Rewrite every RESIZE_NEAREST_NEIGHBOR of subgraph 0 that upsamples a (1,H,W,C) tensor by integer
    factors (align_corners off; half-pixel centres pick the same pixels then) into concat + reshape ops.
    Resizes it cannot express exactly (other factors, a changed int8 grid) stay. Returns the flatbuffer."""
    from tensorflow.lite.python import schema_py_generated as schema

    def replace(model, sg, op):
        x, y = sg.tensors[op.inputs[0]], sg.tensors[op.outputs[0]]
        ins, outs = [int(v) for v in x.shape], [int(v) for v in y.shape]
        exact = (len(ins) == 4 and len(outs) == 4 and ins[0] == outs[0] == 1 and ins[3] == outs[3]
                 and outs[1] % ins[1] == 0 and outs[2] % ins[2] == 0 and not op.builtinOptions.alignCorners
                 and _same_grid(x, y))
        if not exact:
            return None
        return _repeat_ops(model, int(op.inputs[0]), int(op.outputs[0]), (outs[1] // ins[1], outs[2] // ins[2]))

    return _rewrite_ops(model_bytes, schema.BuiltinOperator.RESIZE_NEAREST_NEIGHBOR, replace)


def float32_scalars(model_bytes: bytes) -> bytes:
    """A float16 flatbuffer with every single-value float16 constant (DEQUANTIZE of one fp16 value) stored
    as float32 instead. The hard-sigmoid gates' MUL by 1/6 is one: fp16 rounds it 2.4e-4 low in every
    gate, a systematic shift (a trained SiLU nano's score_s32 error vs ONNX: 3.0% of its range, 1.2% with
    it in float32, 0.4% before the gates were exported as relu6). Weights stay float16."""
    from tensorflow.lite.python import schema_py_generated as schema

    def replace(model, sg, op):
        src, dst = sg.tensors[op.inputs[0]], sg.tensors[op.outputs[0]]
        data = model.buffers[src.buffer].data
        if not (src.type == schema.TensorType.FLOAT16 and data is not None and len(data) == 2):
            return None
        value = np.frombuffer(bytes(data), np.float16).astype(np.float32)
        if abs(float(value[0]) - 1.0 / 6.0) < 1e-3:  # the gate scale: exact in float32
            value = np.asarray([1.0 / 6.0], np.float32)
        buf = schema.BufferT()
        buf.data = np.frombuffer(value.astype("<f4").tobytes(), np.uint8)
        model.buffers.append(buf)
        dst.buffer = len(model.buffers) - 1
        return []  # the constant is float32 now: its DEQUANTIZE goes

    return _rewrite_ops(model_bytes, schema.BuiltinOperator.DEQUANTIZE, replace)
