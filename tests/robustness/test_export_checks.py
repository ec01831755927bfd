"""Issue 12 items 3-4 on the export side: the float32 TFLite check has an absolute floor next to its relative
limit, --no-verify skips every accuracy check, and a failed export exits 2 with `error: ...`."""
from __future__ import annotations

import numpy as np
import pytest

from _workspace import run_tool

from sscma_rtmdet.export import tflite_export as tfe
from sscma_rtmdet.export.tflite_export import ExportError


def _near_constant(err: float) -> tuple[dict, dict]:
    """A lightly trained model's outputs: scores spread over 1e-3, boxes over 0.5 px; `got` off by `err`."""
    rng = np.random.default_rng(0)
    ref = {"score_s8": 0.01 + 1e-3 * rng.random((2, 3, 8, 8), np.float32),
           "box_s8": 4 + 0.5 * rng.random((2, 4, 8, 8), np.float32)}
    return ref, {k: v + err for k, v in ref.items()}


@pytest.mark.parametrize("err, ok", [(7e-8, True), (5e-6, True), (1e-3, False)])
def test_float32_check_has_an_absolute_floor(err, ok, monkeypatch):
    ref, got = _near_constant(err)
    monkeypatch.setattr(tfe, "verify_against_onnx", lambda path, onnx, samples, stats, foreground_boxes,
                        span_floor, meta=None: tfe.relative_errors(ref, got, {}, stats, foreground_boxes, span_floor))
    if ok:
        report = tfe._verify("x.tflite", "x.onnx", np.zeros((2, 8, 8, 3)), "float32")
        assert report["max_rel_err_vs_onnx"]["score_s8"] < 1e-4
    else:
        with pytest.raises(ExportError, match=r"float32 TFLite output score_s8 differs from ONNX .*limit 0\.0001, "
                                              r"or 1e-05 absolute.*--no-verify skips this check"):
            tfe._verify("x.tflite", "x.onnx", np.zeros((2, 8, 8, 3)), "float32")


def _export_args(ws, *extra):
    return [ws.config, ws.ckpt, "--format", "tflite", "--out-dir", ws.path("x"), "--calib-num", 2,
            "--calib-images", ws.run["data"] / "valid", "--cfg-options", *ws.options(), *extra]


def test_no_verify_skips_every_check(ws, monkeypatch):
    from sscma_rtmdet.export import pipeline

    seen = {}

    def fake_export_tflite(onnx_path, stem, precisions, calib, verify_samples=8):
        seen["verify_samples"] = verify_samples
        return {}
    monkeypatch.setattr(pipeline, "export_tflite", fake_export_tflite)
    monkeypatch.setattr(pipeline, "report_against_torch", lambda *a, **k: pytest.fail("checked against torch"))
    res = run_tool("export", _export_args(ws, "--no-verify"), ws.tmp)
    assert res.code == 0, res.output[-3000:]
    assert seen == {"verify_samples": 0}


def test_no_verify_reaches_the_tflite_conversion(monkeypatch):
    """verify_samples=0: no file is compared with ONNX (no samples reach the conversion)."""
    seen = {}
    monkeypatch.setattr(tfe, "_convert_all", lambda onnx, stem, formats, calib, meta, samples, strict:
                        seen.setdefault("samples", samples) or {})
    tfe.export_tflite("x.onnx", "x", ["float32", "int8"], np.zeros((4, 32, 32, 3), np.float32),
                      metadata={"input": {"hw": [32, 32]}}, verify_samples=0)
    assert seen == {"samples": None}


def test_failed_export_exits_2(ws, monkeypatch):
    from sscma_rtmdet.export import pipeline

    def broken(*a, **k):
        raise ExportError("float32 TFLite output score_s8 differs from ONNX by 0.5 of its range")
    monkeypatch.setattr(pipeline, "export_tflite", broken)
    res = run_tool("export", _export_args(ws), ws.tmp)
    assert res.code == 2, res.output[-3000:]
    assert "error: float32 TFLite output score_s8 differs" in res.output and "Traceback" not in res.output
