"""ONNX -> TFLite float32/float16/int8 against torch, on letterboxed images, matched by output name."""
import json

import numpy as np
import pytest

from sscma_rtmdet.errors import CheckpointError, UserError
from sscma_rtmdet.export.tflite_export import (ExportError, check_full_int8, export_tflite, map_outputs,
                                               relative_errors)
from sscma_rtmdet.runtime.backends import TorchBackend, load_backend

from _export_helpers import PRE

pytestmark = pytest.mark.slow
CASES = [("standin", (192, 256), "generic"), ("nano", (192, 192), "generic"), ("nano", (192, 256), "generic"),
         ("nano", (192, 192), "sscma-micro")]


def _compare(exp, imgsz):
    ref = TorchBackend(exp["model"], exp["dep"])(exp["calib"][-3:])  # the last 3 calibration images
    errs = {}
    for fmt in ("onnx", "float32", "float16", "int8"):
        backend = load_backend(exp[fmt])
        got = backend(exp["calib"][-3:].astype(np.uint8))  # uint8 input as a camera would give
        assert set(got) == set(ref), fmt
        for name, r in ref.items():
            assert got[name].shape == r.shape and got[name].dtype == np.float32, (fmt, name)
            q = backend.meta["outputs"][name]["quantization"]
            d = np.abs(got[name] - r)
            errs[(fmt, name)] = (float(d.max()), float(d.mean()), q["scale"] if q else None)
    return errs


@pytest.mark.parametrize("kind,imgsz,target", CASES)
def test_backends_match_torch(exports, kind, imgsz, target):
    """Every format against torch, the previous per-level layout ('generic') and the firmware's ('sscma')."""
    errs = _compare(exports.get(kind, imgsz, target), imgsz)
    print({f"{f}/{n}": (round(e, 6), round(m, 6), s) for (f, n), (e, m, s) in errs.items()})
    for (fmt, name), (err, mean, scale) in errs.items():
        if fmt in ("onnx", "float32"):
            assert err < 2e-4, (fmt, name, err)
        elif fmt == "float16":
            assert err < 0.05 * (4 if name.startswith("box") else 0.1), (fmt, name, err)
        else:
            # a few quantization steps on average; outliers where errors of several layers line up
            assert mean <= 1.5 * scale and err <= 16 * scale, (fmt, name, err, mean, scale)


def test_int8_sidecar(exports):
    exp = exports.get("nano", (192, 256))
    meta = json.loads(open(str(exp["int8"]) + ".json").read())
    assert meta["input"]["layout"] == "NHWC" and meta["input"]["dtype"] == "int8"
    assert meta["input"]["hw"] == [192, 256] and meta["normalization_folded"] is True
    qin = meta["input"]["quantization"]
    assert qin == {"scale": 1.0, "zero_point": -128}  # raw pixels 0..255: exactly uint8 - 128
    assert sorted(meta["output_map"].values()) == sorted(meta["output_names"])
    assert all(meta["outputs"][n]["quantization"]["scale"] > 0 for n in meta["output_names"])
    assert meta["verification"]["samples"] == min(8, len(exp["calib"]))  # export_tflite verifies on up to 8
    f32 = json.loads(open(str(exp["float32"]) + ".json").read())
    assert f32["input"]["dtype"] == "float32" and f32["outputs"]["box_s8"]["quantization"] is None


def test_output_map_is_what_backend_uses(exports, tmp_path):
    """Outputs are taken by name through the sidecar's map, in any order; a map that names an output of the
    wrong shape (a sidecar of another model) is refused, never silently used."""
    exp = exports.get("nano", (192, 256))
    src = exp["int8"]
    dst = tmp_path / src.name
    dst.write_bytes(src.read_bytes())
    meta = json.loads(open(str(src) + ".json").read())
    meta["output_map"] = dict(reversed(list(meta["output_map"].items())))  # another order, same names
    (tmp_path / (src.name + ".json")).write_text(json.dumps(meta))
    x = exp["calib"][:1]
    good, got = load_backend(src)(x), load_backend(dst)(x)
    for name in good:
        np.testing.assert_array_equal(got[name], good[name])
    inv = {v: k for k, v in meta["output_map"].items()}
    meta["output_map"][inv["score_s8"]], meta["output_map"][inv["score_s16"]] = "score_s16", "score_s8"
    (tmp_path / (src.name + ".json")).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="belongs to another model"):
        load_backend(dst)
    meta["output_map"] = {k: v for k, v in meta["output_map"].items() if v != "box_s8"}
    (tmp_path / (src.name + ".json")).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="one-to-one"):
        load_backend(dst)


def test_map_outputs_rules():
    names = ["score_s8", "box_s8"]
    assert map_outputs(["output_1", "output_0"], names) == {"output_1": "box_s8", "output_0": "score_s8"}
    assert map_outputs(["box_s8", "score_s8"], names) == {"box_s8": "box_s8", "score_s8": "score_s8"}
    with pytest.raises(ExportError):
        map_outputs(["output_0", "output_7"], names)
    with pytest.raises(ExportError):
        map_outputs(["output_0", "output_0"], names)


def test_relative_errors_judge_boxes_where_objects_are():
    rng = np.random.default_rng(0)
    score = np.zeros((1, 3, 4, 4), np.float32)
    score[0, 1, 2, 3] = 0.9  # one object
    box = rng.uniform(0, 20, (1, 4, 4, 4)).astype(np.float32)
    bad_bg = box.copy()
    bad_bg[0, :, 0, 0] -= 15  # a background position far off: irrelevant for detection
    ref, got = {"score_s8": score, "box_s8": box}, {"score_s8": score.copy(), "box_s8": bad_bg}
    q = {"score_s8": {"scale": 1 / 256}, "box_s8": {"scale": 0.1}}
    assert relative_errors(ref, got, q, ("max",))["max"]["box_s8"] > 0.5
    fg = relative_errors(ref, got, q, ("max", "mean", "p99"), foreground_boxes=True)
    assert fg["max"]["box_s8"] == 0 and fg["mean"]["score_s8"] == 0
    bad_fg = box.copy()
    bad_fg[0, 2, 2, 3] += 10  # the object's box is off: flagged
    got["box_s8"] = bad_fg
    span = max(np.ptp(box), 32 * 0.1)  # the output's whole range
    assert relative_errors(ref, got, q, foreground_boxes=True)["max"]["box_s8"] == pytest.approx(10 / span, rel=1e-5)
    # no position reaches the score threshold: the box output is not judged, scores still are
    ref["score_s8"] = got["score_s8"] = score * 0
    assert set(relative_errors(ref, got, q, foreground_boxes=True)["max"]) == {"score_s8"}
    with pytest.raises(ExportError, match="shape"):
        relative_errors(ref, {**got, "box_s8": box[:, :2]}, q)


def test_float_model_is_not_accepted_as_int8(exports):
    from ai_edge_litert.interpreter import Interpreter

    exp = exports.get("standin", (192, 256))
    check_full_int8(Interpreter(model_path=str(exp["int8"])), exp["int8"])
    with pytest.raises(ExportError, match="float tensors"):
        check_full_int8(Interpreter(model_path=str(exp["float32"])), exp["float32"])


def test_int8_needs_calibration_and_valid_formats(exports, tmp_path):
    exp = exports.get("standin", (192, 256))
    with pytest.raises(UserError, match="calibration"):
        export_tflite(exp["onnx"], tmp_path / "m", formats=["int8"])
    with pytest.raises(UserError, match="unknown TFLite format"):
        export_tflite(exp["onnx"], tmp_path / "m", formats=["int4"], calib=exp["calib"])
    with pytest.raises(UserError, match="expected"):
        export_tflite(exp["onnx"], tmp_path / "m", formats=["int8"], calib=exp["calib"][:, :64])
