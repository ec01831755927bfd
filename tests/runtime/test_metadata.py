import json

import pytest

from sscma_rtmdet.errors import CheckpointError
from sscma_rtmdet.runtime.metadata import (build_metadata, read_metadata, sidecar_path, validate_metadata,
                                          write_metadata)
from sscma_rtmdet.runtime.wrapper import output_names

PRE = dict(color="rgb", mean=[1.0, 2.0, 3.0], std=[4.0, 5.0, 6.0], pad_value=0)


def _meta(**kw):
    args = dict(fmt="onnx", precision="float32", imgsz=(192, 256), preprocess=PRE, fold_normalization=True,
                strides=(8, 16, 32), output_names=output_names((8, 16, 32)), num_classes=2,
                class_names=["cat", "dog"])
    args.update(kw)
    return build_metadata(**args)


def test_output_names_fixed_order():
    assert output_names((8, 16, 32)) == ["score_s8", "score_s16", "score_s32", "box_s8", "box_s16", "box_s32"]


def test_roundtrip(tmp_path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    write_metadata(model, _meta())
    assert sidecar_path(model).name == "m.onnx.json"
    meta = read_metadata(model)
    assert meta["input"]["hw"] == [192, 256] and meta["input"]["layout"] == "NCHW"
    assert meta["color"] == "rgb" and meta["mean"] == [1.0, 2.0, 3.0] and meta["std"] == [4.0, 5.0, 6.0]
    assert meta["letterbox"]["pad_value"] == 0 and meta["normalization_folded"] is True
    assert meta["class_names"] == ["cat", "dog"] and meta["num_classes"] == 2
    assert meta["output_map"] == {n: n for n in meta["output_names"]}


def test_class_names_must_match_num_classes():
    with pytest.raises(CheckpointError, match="class_names"):
        _meta(class_names=["a"])


def test_missing_and_broken_sidecar(tmp_path):
    model = tmp_path / "m.tflite"
    with pytest.raises(CheckpointError, match="m.tflite.json"):
        read_metadata(model)
    sidecar_path(model).write_text("{not json")
    with pytest.raises(CheckpointError, match="unreadable"):
        read_metadata(model)


def test_output_map_must_cover_outputs_one_to_one():
    meta = _meta()
    meta["output_map"] = {"output_0": "score_s8", "output_1": "score_s8"}
    with pytest.raises(CheckpointError, match="one-to-one"):
        validate_metadata(meta, "x")
    meta = json.loads(json.dumps(_meta()))
    del meta["strides"]
    with pytest.raises(CheckpointError, match="strides"):
        validate_metadata(meta, "x")
