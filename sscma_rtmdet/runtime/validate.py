"""Check model files before a native runtime sees them: a truncated or garbage .tflite crashed LiteRT
(segfault, exit 139) and a corrupt .onnx gave a protobuf traceback. Both now raise CheckpointError.

.tflite: size, the `TFL3` file identifier at bytes 4..8, then every table, vector and string of the
flatbuffer is read through the TFLite schema in pure Python (bounds-checked, so an offset past the end is
an error instead of a wild read), and the indices the interpreter follows (tensor -> buffer, operator ->
opcode / tensors, subgraph inputs / outputs, buffers stored after the flatbuffer) must point inside the model.
.onnx: every external-data file must be a regular file inside the model's folder once symlinks are
resolved (a symlink to /etc/passwd would be read as weights), then `onnx.load` and `onnx.checker.check_model`,
and no operator of a domain onnxruntime does not run; `onnx_session` turns onnxruntime's refusal of a file
that passed all this into a CheckpointError too.
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


def check_tflite(path: str | Path):
    """CheckpointError unless `path` is a structurally sound TFLite flatbuffer; returns it parsed (ModelT)."""
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
    return model


def _check_external_data(model, path: Path) -> None:
    """CheckpointError naming a tensor whose external data lies outside the model's folder (an absolute or
    `..` location, or a symlink leading out) or is not a regular file."""
    from onnx.external_data_helper import ExternalDataInfo, _get_all_tensors, uses_external_data

    folder = path.resolve().parent
    for tensor in _get_all_tensors(model):
        if not uses_external_data(tensor):
            continue
        location = ExternalDataInfo(tensor).location
        target = (folder / location).resolve()
        inside = not Path(location).is_absolute() and target.is_relative_to(folder)
        if not (inside and target.is_file()):
            where = "is not a file in" if inside else "leads outside"
            raise CheckpointError(f"{path}: tensor {tensor.name!r} takes its data from {location!r}, which "
                                  f"{where} the model's folder {folder} (symlinks resolved); refused: external "
                                  "data must be a file next to the model")


def check_onnx(path: str | Path):
    """CheckpointError unless `path` loads with onnx (external data only from its own folder) and passes
    onnx.checker; returns the ModelProto."""
    import onnx

    path = Path(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
        _check_external_data(model, path)
        onnx.load_external_data_for_model(model, str(path.resolve().parent))
        onnx.checker.check_model(model)
        _check_domains(model, path)
        return model
    except CheckpointError:
        raise
    except Exception as e:  # DecodeError, ValidationError, ...
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise CheckpointError(f"{path} is not a valid ONNX model ({type(e).__name__}: {first}); re-export it "
                              "(tools/export.py)") from None


# the operator sets onnxruntime's CPU build runs; a custom domain needs a library we never register
ORT_DOMAINS = ("", "ai.onnx", "ai.onnx.ml", "com.microsoft")


def _check_domains(model, path: Path) -> None:
    custom = sorted({f"{n.domain}:{n.op_type}" for n in model.graph.node if n.domain not in ORT_DOMAINS})
    if custom:
        raise CheckpointError(f"{path} uses operator(s) of a custom domain onnxruntime does not run: "
                              f"{', '.join(custom[:5])}; export the model with standard ONNX operators "
                              "(tools/export.py)")


def onnx_session(path: Path, options):
    """onnxruntime's CPU session of a file check_onnx passed; CheckpointError with onnxruntime's reason when
    it still refuses it (e.g. Constant nodes kept in external data, which its shape inference cannot read)."""
    import onnxruntime as ort

    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime's Fail, InvalidGraph, ... (pybind classes, no common base)
        why = (str(e).strip().splitlines() or [type(e).__name__])[0]
        why = why.split(" failed:", 1)[-1].strip()[:300]  # drop "Load model from <path>": the path comes first
        hint = "; keep the constants inside the .onnx (save without external data)" if "external" in why else ""
        raise CheckpointError(f"{path}: onnxruntime cannot load it ({why}){hint}; re-export it "
                              "(tools/export.py)") from None


# ---- normalisation folded into the graph or not: read from the file, not trusted from the sidecar -------
# runtime.wrapper.ExportWrapper folds (x - mean) / std as `x * (1/std) + (-mean/std)`: the graph input feeds a
# Mul by a constant. An unfolded graph feeds its first convolution directly. A folded int8 input holds raw
# pixels (scale 1, zero point -128: export.int8); a normalised one spans about -2.1..2.6 (scale ~0.02).
_PIXEL_SCALE_MIN = 0.5


def onnx_input_folded(model) -> bool:
    """True when every node reading the graph input multiplies it by a constant (ModelProto)."""
    inp = model.graph.input[0].name
    constants = {i.name for i in model.graph.initializer}
    constants |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    users = [n for n in model.graph.node if inp in n.input]
    return bool(users) and all(n.op_type == "Mul" and any(i in constants for i in n.input if i != inp)
                               for n in users)


def tflite_input_folded(model) -> bool:
    """The same for a TFLite ModelT: an int8 input by its scale, a float one by MUL-by-constant readers."""
    from ai_edge_litert import schema_py_generated as schema

    sub = model.subgraphs[0]
    inp = int(sub.inputs[0])
    quant = sub.tensors[inp].quantization
    if sub.tensors[inp].type == schema.TensorType.INT8 and quant is not None and quant.scale is not None \
            and len(quant.scale):
        return float(quant.scale[0]) >= _PIXEL_SCALE_MIN
    code = {i: max(c.builtinCode, c.deprecatedBuiltinCode) for i, c in enumerate(model.operatorCodes)}
    ops = sub.operators or []
    dequantized = {int(t) for o in ops if code[o.opcodeIndex] == schema.BuiltinOperator.DEQUANTIZE
                   for t in o.outputs}

    def constant(t: int) -> bool:
        buf = model.buffers[sub.tensors[t].buffer]
        return t in dequantized or (buf.data is not None and len(buf.data) > 0) or (buf.offset or 0) > 1
    users = [o for o in ops if inp in [int(t) for t in o.inputs]]
    return bool(users) and all(code[o.opcodeIndex] == schema.BuiltinOperator.MUL
                               and any(constant(int(t)) for t in o.inputs if int(t) != inp) for o in users)


def check_folding(meta: dict, folded: bool, path) -> None:
    """CheckpointError when the sidecar's normalization_folded disagrees with what the graph does. `folded`:
    the graph multiplies its input by a constant (float) or takes pixels (int8, by its scale). A float graph
    with the centred normalisation folded into its first conv (input.offset 128) starts with that conv, like
    an unfolded one: there the structure shows nothing to check."""
    claims = bool(meta["normalization_folded"])
    offset = meta["input"].get("offset", 0)
    if not claims and offset:  # only a folded export takes pixel - offset: the flag was edited
        raise CheckpointError(f"{path}: its sidecar says normalization_folded=False but input.offset={offset}: the "
                              "graph takes pixels (pixel - 128, the normalisation folded into its first conv); the "
                              "sidecar was edited or belongs to another export (every score would be wrong): "
                              "re-export the model")
    if claims and offset and meta["input"].get("dtype") != "int8":
        return
    if claims == folded:
        return
    does = "normalises its raw-pixel input itself" if folded else "takes already normalised input"
    raise CheckpointError(f"{path}: its sidecar says normalization_folded={meta['normalization_folded']} but "
                          f"the graph {does}; the sidecar was edited or belongs to another export (every score "
                          "would be wrong): re-export the model")
