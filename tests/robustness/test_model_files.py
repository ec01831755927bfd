"""Issue 18: what a model file says is checked against the file itself: external data stays in the model's
folder, the sidecar's normalization_folded matches the graph, a .pth may not inflate far beyond its size."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from sscma_rtmdet.errors import CheckpointError
from sscma_rtmdet.runtime.checkpoint import check_inflation
from sscma_rtmdet.runtime.validate import check_onnx, onnx_input_folded, tflite_input_folded


def _external(tiny_exports, folder, location="weights.bin"):
    import onnx

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ext.onnx"
    onnx.save_model(onnx.load(str(tiny_exports["onnx"])), str(path), save_as_external_data=True,
                    all_tensors_to_one_file=True, location=location, size_threshold=1024)
    return path


def test_external_data_inside_the_folder_loads(tiny_exports, tmp_path):
    path = _external(tiny_exports, tmp_path / "m")
    (tmp_path / "m" / "weights.bin").rename(tmp_path / "m" / "real.bin")
    (tmp_path / "m" / "weights.bin").symlink_to("real.bin")  # a symlink that stays inside is fine
    assert [i.name for i in check_onnx(path).graph.input] == ["images"]


@pytest.mark.parametrize("how", ["symlink out", "dotdot", "absolute", "folder"])
def test_external_data_outside_the_folder_is_refused(how, tiny_exports, tmp_path):
    import onnx

    path = _external(tiny_exports, tmp_path / "m")
    weights = tmp_path / "m" / "weights.bin"
    if how == "symlink out":
        weights.rename(tmp_path / "secret.bin")
        weights.symlink_to(tmp_path / "secret.bin")
    elif how == "folder":
        weights.unlink()
        weights.mkdir()
    else:
        shutil.move(weights, tmp_path / "secret.bin")
        location = "../secret.bin" if how == "dotdot" else str(tmp_path / "secret.bin")
        proto = onnx.load(str(path), load_external_data=False)
        for t in proto.graph.initializer:
            for entry in t.external_data:
                if entry.key == "location":
                    entry.value = location
        onnx.save(proto, str(path))
    with pytest.raises(CheckpointError, match=r"ext\.onnx: tensor .* takes its data from .*, which (leads outside|is "
                                              r"not a file in) the model's folder"):
        check_onnx(path)


def _int8_input_model(scale: float, zero_point: int):
    """A one-tensor TFLite ModelT whose int8 input has the given quantization."""
    from ai_edge_litert import schema_py_generated as schema

    q = schema.QuantizationParametersT()
    q.scale, q.zeroPoint = [scale], [zero_point]
    t = schema.TensorT()
    t.type, t.quantization, t.shape, t.buffer = schema.TensorType.INT8, q, [1, 8, 8, 3], 0
    sub = schema.SubGraphT()
    sub.tensors, sub.inputs, sub.outputs, sub.operators = [t], [0], [0], []
    model = schema.ModelT()
    model.subgraphs, model.buffers, model.operatorCodes = [sub], [schema.BufferT()], []
    return model


def test_int8_folding_is_read_from_the_input_scale():
    assert tflite_input_folded(_int8_input_model(1.0, -128))  # raw pixels: q = pixel - 128
    assert not tflite_input_folded(_int8_input_model(0.0187, -14))  # normalised input, ~-2.1..2.6


def test_folding_is_read_from_the_graph(tiny_exports):
    """The float files: a folded graph with a raw-pixel input multiplies it by 1/std first; an unfolded one, and
    one whose centred normalisation is folded into its first convolution (the tiny exports: the nano's mean of
    128), feed that convolution (hand-built graphs, so both branches are seen); the sidecar's input.offset
    tells the centred one, and a flag edited against it is refused."""
    from onnx import TensorProto, helper

    from sscma_rtmdet.runtime.metadata import read_metadata
    from sscma_rtmdet.runtime.validate import check_folding, check_tflite

    assert not onnx_input_folded(check_onnx(tiny_exports["onnx"]))
    assert not tflite_input_folded(check_tflite(tiny_exports["float32"]))
    meta = read_metadata(tiny_exports["onnx"])
    assert meta["normalization_folded"] and meta["input"]["offset"] == 128
    with pytest.raises(CheckpointError, match="normalization_folded=False but input.offset=128"):
        check_folding({**meta, "normalization_folded": False}, False, tiny_exports["onnx"])
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 1, 1], [0.1] * 12)
    s = helper.make_tensor("s", TensorProto.FLOAT, [1, 3, 1, 1], [0.02] * 3)

    def graph(nodes, inits):
        g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
        return helper.make_model(g)
    assert not onnx_input_folded(graph([helper.make_node("Conv", ["x", "w"], ["y"])], [w]))
    assert onnx_input_folded(graph([helper.make_node("Mul", ["x", "s"], ["m"]),
                                    helper.make_node("Conv", ["m", "w"], ["y"])], [w, s]))
    assert not onnx_input_folded(graph([helper.make_node("Mul", ["x", "x"], ["m"]),  # not by a constant
                                        helper.make_node("Conv", ["m", "w"], ["y"])], [w]))


def _float_tflite(first_op: str, constant: bool = True):
    """A TFLite ModelT: float input -> `first_op` (with a second operand, constant or not)."""
    from ai_edge_litert import schema_py_generated as schema

    def tensor(buffer):
        t = schema.TensorT()
        t.type, t.shape, t.buffer = schema.TensorType.FLOAT32, [1, 8, 8, 3], buffer
        return t
    const = schema.BufferT()
    const.data = list(np.ones(3, np.float32).tobytes()) if constant else None
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = getattr(schema.BuiltinOperator, first_op)
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1], [2]
    sub = schema.SubGraphT()
    sub.tensors, sub.inputs, sub.outputs, sub.operators = [tensor(0), tensor(1), tensor(0)], [0], [2], [op]
    model = schema.ModelT()
    model.subgraphs, model.buffers, model.operatorCodes = [sub], [schema.BufferT(), const], [code]
    return model


def test_float_tflite_folding_is_read_from_its_first_op():
    assert tflite_input_folded(_float_tflite("MUL"))
    assert not tflite_input_folded(_float_tflite("CONV_2D"))
    assert not tflite_input_folded(_float_tflite("MUL", constant=False))


def test_a_normal_checkpoint_passes_the_inflation_check(tiny_run):
    check_inflation(tiny_run["ckpt"])


def test_a_zip_bomb_checkpoint_is_refused(tmp_path):
    import zipfile

    import torch

    path = tmp_path / "b.pth"
    torch.save({"w": torch.zeros(3)}, path)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("b/data/7", np.zeros(40 << 20, np.uint8).tobytes())
    with pytest.raises(CheckpointError, match=r"b\.pth is 0\.0 MiB but its members inflate to 40 MiB"):
        check_inflation(path)
