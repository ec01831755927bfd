"""tools/quantization.py end to end at 64x64: QAT steps, int8 export with the learned parameters."""
from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from sscma_rtmdet.cli.quantization import main
from sscma_rtmdet.export.int8 import SILU_INPUT_FLOOR
from sscma_rtmdet.quant.fake_quant import qparams_from_range


def _run(args, cwd, monkeypatch):
    monkeypatch.chdir(cwd)
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _opts(run, **extra):
    out = []
    for o in run["options"] + [f"{k}={v}" for k, v in extra.items()]:
        out += ["--cfg-options", o]
    return out


def test_qat_exports_learned_int8(tiny_run, tmp_path, monkeypatch):
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("onnx2tf")
    work = tmp_path / "wd"
    res = _run([tiny_run["config"], tiny_run["ckpt"], "--work-dir", work, "--no-progress", "--calib-images", 4,
                "--rounding-trials", 1, *_opts(tiny_run, max_epochs=1, **{"qat.calib_batches": 1})], tmp_path, monkeypatch)
    assert res.exit_code == 0, res.output
    out = tmp_path / "out" / "qat_model_test.tflite"
    assert out.is_file() and (work / "qat_model_test.tflite").is_file()
    meta = json.loads((tmp_path / "out" / "qat_model_test.tflite.json").read_text())
    assert meta["precision"] == "int8" and meta["num_classes"] == 3
    q = meta["qat"]
    # SiLU graphs also hold LOGISTIC outputs (fixed 1/256 grid), pads and pools that keep their input grid
    assert q["ranges_from_qat"] >= 0.5 * q["activation_tensors"]
    # matching runs the QAT model with quantization off: it must then compute the float graph exactly
    assert q["matched_tensors"] >= 0.85 * q["activation_tensors"], q["unmatched_tensors"]
    assert "in_mul_q" in q["tensor_to_quantizer"].values()  # the input MUL(pixels, 1/std) gets QAT's grid
    for name, agree in q["agreement_with_fake_quant"].items():
        assert agree["within_one_step"] >= 0.95, (name, agree)
    # the calibrated model was validated before fine-tuning and competed for the export (default: best)
    assert "QAT start (calibrated, before fine-tuning)" in (work / next(work.glob("*.log")).name).read_text()
    chosen = q["state"]
    assert chosen["which"] == "best" and chosen["epoch"] in (0, 1)
    assert "exporting the best QAT state" in res.output
    # the int8 tensors carry exactly the ranges the exported QAT checkpoint learned
    ckpt = torch.load(work / f"best_coco_bbox_mAP_epoch_{chosen['epoch']}.pth", map_location="cpu",
                      weights_only=True)
    assert ckpt["meta"]["metrics"]["coco/bbox_mAP"] == pytest.approx(chosen["val_mAP"])
    state = ckpt["state_dict"]
    from ai_edge_litert.interpreter import Interpreter

    details = {d["name"]: d["quantization"] for d in Interpreter(model_path=str(out)).get_tensor_details()}
    checked = 0
    for tensor, quantizer in q["tensor_to_quantizer"].items():
        if tensor not in details or not bool(state.get(f"{quantizer}.seen", False)):
            continue  # tied quantizers use their concat's grid, fixed ones (sigmoid) TFLite's own
        lo, hi = float(state[f"{quantizer}.lo"]), float(state[f"{quantizer}.hi"])
        if quantizer.endswith("pre_q") and lo < SILU_INPUT_FLOOR < hi:  # SiLU inputs: floored grid
            lo = SILU_INPUT_FLOOR
        scale, zp = qparams_from_range(lo, hi)
        got_scale, got_zp = details[tensor]
        assert got_scale == pytest.approx(scale, rel=1e-5) and got_zp == zp, (tensor, quantizer)
        checked += 1
    assert checked >= 30
    assert "bbox_mAP: qat_model_test.tflite" in res.output
    assert "fake-quant over 2 rounding realizations" in res.output


def test_wrong_class_count_is_a_clear_error(tiny_run, tmp_path, monkeypatch):
    res = _run([tiny_run["config"], tiny_run["ckpt"], "--work-dir", tmp_path / "wd", "--no-progress",
                *_opts(tiny_run, num_classes=5)], tmp_path, monkeypatch)
    assert res.exit_code == 2 and "num_classes" in res.output


def test_checkpoint_with_missing_keys_is_refused(tiny_run, tmp_path, monkeypatch):
    ckpt = torch.load(tiny_run["ckpt"], map_location="cpu", weights_only=True)
    ckpt["state_dict"] = {k: v for k, v in ckpt["state_dict"].items() if not k.startswith("neck.")}
    bad = tmp_path / "bad.pth"
    torch.save(ckpt, bad)
    res = _run([tiny_run["config"], bad, "--work-dir", tmp_path / "wd", "--no-progress", *_opts(tiny_run)],
               tmp_path, monkeypatch)
    assert res.exit_code == 2 and "error:" in res.output


def test_missing_checkpoint_names_the_file(tiny_run, tmp_path, monkeypatch):
    res = _run([tiny_run["config"], tmp_path / "nope.pth", *_opts(tiny_run)], tmp_path, monkeypatch)
    assert res.exit_code == 2 and "nope.pth" in res.output
