"""The lean ReLU nano (configs/rtmdet_nano_8xb32_300e_coco_relu_lean.py) through both firmwares' layouts: the
stock Grove Vision AI V2 firmware's YOLO_V8 file with every operator on the NPU, and the XIAO ESP32-S3's RTMDet
file accepted by the model of SSCMA-Micro v2 with its TFLite Micro arena measured."""
from __future__ import annotations

import pytest

import sscma_firmware as fw
import sscma_v1_firmware as fw1
from _shared import run_tool
from sscma_rtmdet.export.conformance import graph_io


def _interpreter(path):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    interp.allocate_tensors()
    return interp


@pytest.mark.slow
def test_lean_nano_runs_on_the_stock_grove_firmware(lean_stock):
    run = lean_stock
    for path in (run["int8"], run["vela"]):
        ins, outs = graph_io(path)
        assert fw1.detect_algorithm([d["shape"] for d in ins], [d["shape"] for d in outs]) == "YOLO_V8"
        assert outs[0]["shape"] == [1, 4 + 3, 64 + 16 + 4]
    assert "CPU ops 0" in run["export_log"] and "conformance:" in run["export_log"]
    fw1.accept(_interpreter(run["int8"]))


@pytest.mark.slow
def test_lean_nano_runs_on_the_xiao_esp32s3(lean_run):
    out = lean_run["ckpt"].parent / "xiao"
    res = run_tool("export", [lean_run["ckpt"], "--imgsz", 64, 64, "--format", "tflite", "--board", "xiao_esp32s3",
                              "--out-dir", out])
    assert res.exit_code == 0, res.output[-3000:]
    contract = fw.accept(_interpreter(out / "epoch_1_int8.tflite"))
    assert contract.size == 64 and [lvl[0] for lvl in contract.levels] == [8, 16, 32]
    board_line = next(line for line in res.output.splitlines() if line.startswith("board:") and "XIAO" in line)
    assert "fits" in board_line and "arena ? " not in board_line  # TFLite Micro's arena was measured
