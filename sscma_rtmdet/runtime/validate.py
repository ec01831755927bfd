"""Check model files before a native runtime sees them: a truncated or garbage .tflite crashed LiteRT
(segfault, exit 139) and a corrupt .onnx gave a protobuf traceback. Both now raise CheckpointError.

.tflite: size, the `TFL3` file identifier at bytes 4..8, then every table, vector and string of the
flatbuffer is read through the TFLite schema in pure Python (bounds-checked, so an offset past the end is
an error instead of a wild read), and the indices the interpreter follows (tensor -> buffer, operator ->
opcode / tensors, subgraph inputs / outputs, buffers stored after the flatbuffer) must point inside the model.
.onnx: `onnx.load` and `onnx.checker.check_model`.
"""
from __future__ import annotations

import struct
from pathlib import Path

from ..errors import CheckpointError

MIN_TFLITE_BYTES = 32


def _fail(path: Path, why: str) -> CheckpointError:
    return CheckpointError(f"{path} is not a valid TFLite model: {why}; re-export it (tools/export.py)")


def _indices_ok(values, size: int, allow_minus_one: bool = True) -> bool:
    return all((allow_minus_one and int(v) == -1) or 0 <= int(v) < size for v in (values if values is not None else []))


def _check_graph(model, path: Path, nbytes: int) -> None:
    if not model.subgraphs:
        raise _fail(path, "it has no subgraph")
    nbuf, nops = len(model.buffers or []), len(model.operatorCodes or [])
    for b, buf in enumerate(model.buffers or []):
        if (buf.offset or 0) > 1 and buf.offset + (buf.size or 0) > nbytes:
            raise _fail(path, f"buffer {b} lies past the end of the file (truncated?)")
    for g, sub in enumerate(model.subgraphs):
        tensors = sub.tensors or []
        if any(t.buffer >= nbuf and t.buffer != 0 for t in tensors):
            raise _fail(path, f"subgraph {g} has a tensor whose buffer index is out of range")
        if not (_indices_ok(sub.inputs, len(tensors), False) and _indices_ok(sub.outputs, len(tensors), False)):
            raise _fail(path, f"subgraph {g} inputs/outputs name tensors that do not exist")
        for o, op in enumerate(sub.operators or []):
            if not 0 <= op.opcodeIndex < nops:
                raise _fail(path, f"operator {o} of subgraph {g} has an unknown opcode index {op.opcodeIndex}")
            if not (_indices_ok(op.inputs, len(tensors)) and _indices_ok(op.outputs, len(tensors))):
                raise _fail(path, f"operator {o} of subgraph {g} names tensors that do not exist")


def check_tflite(path: str | Path) -> None:
    """CheckpointError unless `path` is a structurally sound TFLite flatbuffer."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e}") from None
    if len(data) < MIN_TFLITE_BYTES:
        raise _fail(path, f"{len(data)} bytes is too small for a model")
    if data[4:8] != b"TFL3":
        raise _fail(path, f"no TFL3 identifier at bytes 4..8 (found {data[4:8]!r})")
    (root,) = struct.unpack_from("<I", data, 0)
    if root + 4 > len(data):
        raise _fail(path, "its root table lies past the end of the file (truncated?)")
    from ai_edge_litert import schema_py_generated as schema

    try:
        model = schema.ModelT.InitFromPackedBuf(data, 0)
    except Exception as e:  # any out-of-bounds read or malformed table
        raise _fail(path, f"the flatbuffer does not verify ({type(e).__name__}: {e}); truncated or corrupt") \
            from None
    _check_graph(model, path, len(data))


def check_onnx(path: str | Path) -> None:
    """CheckpointError unless `path` loads with onnx and passes onnx.checker."""
    import onnx

    path = Path(path)
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except Exception as e:  # DecodeError, ValidationError, ...
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise CheckpointError(f"{path} is not a valid ONNX model ({type(e).__name__}: {first}); re-export it "
                              "(tools/export.py)") from None
