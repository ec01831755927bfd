import json

import pytest

from sscma_rtmdet.errors import CheckpointError
from sscma_rtmdet.runtime.metadata import (build_metadata, read_metadata, sidecar_path, validate_metadata,
                                          write_metadata)
from sscma_rtmdet.data.preprocess import Preprocess
from sscma_rtmdet.runtime.deployment import Deployment
from sscma_rtmdet.runtime.wrapper import output_names

PRE = dict(color="rgb", mean=[1.0, 2.0, 3.0], std=[4.0, 5.0, 6.0], pad_value=0)
DEP = Deployment(target="generic", imgsz=(192, 256), preprocess=Preprocess.from_config(PRE), input_color="rgb",
                 layout="nchw", classes=("cat", "dog"), strides=(8, 16, 32),
                 test_cfg=dict(score_thr=0.001, nms_pre=30000, iou_threshold=0.65, max_per_img=300))


def _meta(**kw):
    args = dict(fmt="onnx", precision="float32", deployment=DEP, fold_normalization=True,
                output_names=output_names((8, 16, 32)))
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
    dep = meta["deployment"]
    assert dep["preprocess"]["color"] == "rgb" and dep["preprocess"]["mean"] == [1.0, 2.0, 3.0]
    assert dep["preprocess"]["std"] == [4.0, 5.0, 6.0] and dep["preprocess"]["pad_value"] == 0
    assert meta["normalization_folded"] is True and dep["layout"] == "nchw" and dep["target"] == "generic"
    assert dep["classes"] == ["cat", "dog"] and dep["num_classes"] == 2
    assert Deployment.from_dict(dep) == DEP  # the same record a checkpoint holds
    assert meta["output_map"] == {n: n for n in meta["output_names"]}


def test_class_names_must_match_num_classes():
    meta = json.loads(json.dumps(_meta()))
    meta["deployment"]["num_classes"] = 3
    with pytest.raises(CheckpointError, match="num_classes"):
        validate_metadata(meta, "x")


def test_schema_1_sidecar_is_read_as_the_previous_layout():
    """A file exported before the deployment record (schema 1) still loads: letterbox, its colour order,
    per-level 'nchw' outputs, mmdetection's decode."""
    v1 = {"schema": 1, "format": "onnx", "precision": "float32",
          "input": {"name": "images", "hw": [192, 256], "layout": "NCHW", "dtype": "float32", "quantization": None},
          "color": "bgr", "mean": [1, 2, 3], "std": [4, 5, 6], "normalization_folded": True,
          "letterbox": {"keep_ratio": True, "pad": "bottom_right", "pad_value": 114}, "strides": [8, 16, 32],
          "output_names": output_names((8, 16, 32)), "outputs": {}, "output_map": {n: n for n in output_names((8, 16, 32))},
          "num_classes": 2, "class_names": ["a", "b"]}
    meta = validate_metadata(v1, "old.onnx")
    dep = Deployment.from_dict(meta["deployment"])
    assert (dep.target, dep.layout, dep.input_color, dep.preprocess.resize) == ("generic", "nchw", "bgr", "letterbox")
    assert dep.classes == ("a", "b") and dep.test_cfg["iou_threshold"] == 0.65


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
    del meta["deployment"]["strides"]
    with pytest.raises(CheckpointError, match="strides"):
        validate_metadata(meta, "x")
