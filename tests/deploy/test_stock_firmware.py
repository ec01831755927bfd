"""The README's export command makes files the stock Grove Vision AI V2 firmware (SSCMA-Micro v1) runs, checked
against an independent model of that firmware (sscma_v1_firmware.py): its algorithm auto-detect, its YOLO_V8
decode and NMS, and the AP it gets; the export's own conformance gate agrees with it."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import sscma_v1_firmware as fw1
from _shared import run_tool
from sscma_rtmdet.errors import UserError
from sscma_rtmdet.export.conformance import graph_io, v1_algorithm


def _interpreter(path):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path))
    interp.allocate_tensors()
    return interp


@pytest.mark.slow
@pytest.mark.parametrize("num_classes", [2, 3, 4, 10, 64, 80])
def test_readme_export_is_a_yolo_v8_model_for_the_stock_firmware(stock_files, num_classes):
    run = stock_files[num_classes]
    for path in (run["int8"], run["vela"]):  # the firmware reads the Vela file's I/O tensors
        ins, outs = graph_io(path)
        shapes = ([d["shape"] for d in ins], [d["shape"] for d in outs])
        assert fw1.detect_algorithm(*shapes) == "YOLO_V8" == v1_algorithm(*shapes), path.name
        side = run["side"]
        assert outs[0]["shape"] == [1, 4 + num_classes, sum((side // s) ** 2 for s in (8, 16, 32))]
        assert outs[0]["dtype"] == "int8"
        assert outs[0]["scale"] == 1 / 256 and outs[0]["zero_point"] == -128  # < 0.1: boxes 0..1, scores x100
        assert (ins[0]["shape"], ins[0]["dtype"], ins[0]["scale"], ins[0]["zero_point"]) == ([1, side, side, 3],
                                                                                              "int8", 1.0, 0)
    log = run["export_log"]
    assert "stock firmware" in log and "conformance:" in log and "CPU ops 0" in log
    assert "legacy compiler core" in log and "most cycles:" in log
    fw1.accept(_interpreter(run["int8"]))


def test_81_classes_is_refused_before_anything_is_written():
    from sscma_rtmdet.data.preprocess import Preprocess
    from sscma_rtmdet.export.pipeline import ExportRequest, export_deployment
    from sscma_rtmdet.runtime.deployment import Deployment

    dep = Deployment("sscma-micro", (64, 64), Preprocess(resize="stretch", interpolation="nearest"), "rgb", "sscma",
                     tuple(f"c{i}" for i in range(81)),
                     test_cfg=dict(score_thr=0.001, nms_pre=1000, iou_threshold=0.45, max_per_img=None))
    with pytest.raises(UserError, match="81 classes: the YOLOv8 layout .* takes at most 80"):
        export_deployment(dep, ExportRequest(checkpoint=None, formats=("tflite", "vela"), log=lambda m: None))
    assert export_deployment(dep, ExportRequest(checkpoint=None, formats=("tflite",), board="xiao_esp32s3",
                                                log=lambda m: None)).layout == "sscma"  # v2: no such limit


@pytest.mark.parametrize("ins, outs, algo", [
    ([[1, 64, 64, 3]], [[1, 7, 84]], "YOLO_V8"),
    ([[1, 64, 64, 3]], [[1, 64, 3], [1, 16, 3], [1, 4, 3], [1, 64, 4], [1, 16, 4], [1, 4, 4]], "UNDEFINED"),
    ([[1, 64, 64, 3]], [[1, 64, 64], [1, 16, 64], [1, 4, 64], [1, 64, 4], [1, 16, 4], [1, 4, 4]], "YOLO_WORLD"),
    ([[1, 64, 64, 3]], [[1, 252, 7]], "YOLO"),  # Swift-YOLO: 3 anchors per cell, rows of 5 + C
    ([[1, 64, 64, 1]], [[1, 84, 7]], "YOLO"),  # a transposed YOLOv8 output on a 1-channel input
    ([[1, 64, 64, 3]], [[1, 84, 7]], "UNDEFINED"),
    ([[1, 64, 64, 3]], [[1, 85, 84]], "UNDEFINED"),  # 81 classes
    ([[1, 64, 96, 3]], [[1, 7, 84]], "UNDEFINED"),
    ([[1, 96, 96, 3]], [[1, 6, 6, 3]], "FOMO"),
    ([[1, 96, 96, 3]], [[1, 5]], "IMCLS"),
])
def test_the_export_gate_and_the_firmware_model_classify_alike(ins, outs, algo):
    assert fw1.detect_algorithm(ins, outs) == v1_algorithm(ins, outs) == algo


class _Raw:
    def __init__(self, q):
        self.q = q

    def get_tensor(self, index):
        return self.q


@pytest.mark.parametrize("seed", range(4))
def test_our_v1_decode_finds_the_firmwares_detections(seed):
    """Random int8 outputs (ties in class and score included): our decode under the stock target gives the
    firmware model's detections (frame = input, so its integer boxes are ours truncated). Its NMS compares
    those integers, ours the exact boxes: an IoU that rounds across the threshold may keep one box more or
    less in a hundred."""
    from sscma_rtmdet.postprocess import decode_predictions
    from sscma_rtmdet.runtime.layout import to_canonical

    rng = np.random.default_rng(seed)
    S, C, N = 64, 3, 84
    q = rng.integers(-128, -60, (1, 4 + C, N)).astype(np.int8)
    q[0, :4] = rng.integers(-128, 127, (4, N))
    q[0, 4:, rng.integers(0, N, 20)] = 30  # equal scores across classes and anchors
    contract = fw1.Contract(S, 0, dict(index=0, quantization=(1 / 256, -128)), N, C)
    theirs = fw1.decode(_Raw(q), contract, S, S, score_thr=10, iou_thr=45)
    out = (q.astype(np.float32) + 128) / 256
    scores, boxes, logits = to_canonical({"output0": out}, (8, 16, 32), "yolov8", C, (S, S))
    cfg = dict(score_thr=0.10, nms_pre=30000, iou_threshold=0.45, max_per_img=None, multi_label=False,
               nms="sscma-v1")
    ours = decode_predictions(scores, boxes, (8, 16, 32), cfg, (S, S), scores_are_logits=logits)[0]
    assert abs(len(theirs) - len(ours["scores"])) <= 1 and len(theirs) > 20
    b = ours["boxes"].numpy()
    centre = np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1)
    mine = sorted(zip(np.floor(centre + 1e-4).astype(int).tolist(), (ours["scores"].numpy() * 100).round().astype(
        int).tolist(), ours["labels"].tolist()))
    ref = sorted(([d["x"], d["y"], d["w"], d["h"]], d["score"], d["target"]) for d in theirs)
    assert len(set(map(str, mine)) ^ set(map(str, ref))) <= 4, (mine, ref)  # one box, or one pixel of one


def test_first_class_wins_a_tie():
    """The firmware's running maximum moves only on a strictly larger value: ties go to the first class
    (SSCMA-Micro v2 takes the last)."""
    from sscma_rtmdet.postprocess import decode_predictions

    cfg = dict(score_thr=0.1, nms_pre=10, iou_threshold=0.45, max_per_img=None, multi_label=False, nms="sscma-v1")
    probs = torch.full((1, 3, 1, 1), 0.5)
    kept = decode_predictions([probs], [torch.ones(1, 4, 1, 1)], [32], cfg, (32, 32), scores_are_logits=False)[0]
    assert kept["labels"].tolist() == [0] and kept["scores"].tolist() == [0.5]


@pytest.mark.slow
def test_test_py_scores_what_the_stock_firmware_gets(trained_stock):
    """tools/test.py on the stock-firmware file gives the AP of the independent firmware model within 0.005,
    and the .pth scored under the same firmware profile is close to its int8 file."""
    from sscma_rtmdet.data.coco import CocoDetection
    from sscma_rtmdet.evaluation.coco_eval import evaluate_detector

    res = run_tool("test", [trained_stock["int8"], "--data", trained_stock["data"], "--no-progress"])
    assert res.exit_code == 0, res.output[-3000:]
    assert "SSCMA-Micro v1's YOLO_V8 decode" in res.output
    ours = float(res.output.split("bbox_mAP_copypaste: ")[1].split()[0])
    coco = CocoDetection(str(trained_stock["data"]), "valid/_annotations.coco.json", "valid/")
    interp = _interpreter(trained_stock["int8"])
    contract = fw1.accept(interp)
    theirs = evaluate_detector(coco, lambda img: fw1.to_xyxy(fw1.detect(interp, contract, img, 0), img.shape[1],
                                                              img.shape[0]))["stats"][0]
    assert theirs > 0.1 and abs(ours - theirs) <= 0.005, (ours, theirs)
    res = run_tool("test", [trained_stock["ckpt"], "--data", trained_stock["data"], "--board", "grove_vision_ai_v2",
                            "--no-progress"])
    assert res.exit_code == 0 and "SSCMA-Micro v1's YOLO_V8 decode" in res.output, res.output[-3000:]
    pth = float(res.output.split("bbox_mAP_copypaste: ")[1].split()[0])
    assert abs(pth - ours) <= 0.05, (pth, ours)  # 12 images; real sets: docs/results.md


@pytest.mark.parametrize("hw", [(480, 640), (622, 500), (240, 240), (1000, 333), (97, 1201)])
def test_the_stock_target_samples_the_frame_like_the_firmware(hw):
    """Evaluation and calibration under the stock target stretch with v1's float-ratio sampler, byte for byte
    (v2's 16.16 fixed-point one picks another source row now and then: about 0.005 AP on a real set)."""
    from sscma_rtmdet.data.preprocess import Preprocess
    from sscma_rtmdet.targets import get_target

    img = np.random.default_rng(0).integers(0, 256, (*hw, 3), dtype=np.uint8)
    pre = Preprocess.from_config({"color": "bgr"}, get_target("sscma-micro-v1"))
    ours = pre.prepare(img, (192, 192))[0][..., ::-1]  # the file's RGB input
    theirs = fw1.camera_to_input(img, 192)[0].view(np.uint8) + np.uint8(128)
    assert np.array_equal(ours, theirs)


@pytest.mark.slow
def test_the_gate_refuses_what_the_firmware_would_not_run(stock_files, tutorial_files, monkeypatch):
    """The ops a Vela file leaves to the CPU must be among the stock firmware's kernels (TRANSPOSE is, CONCATENATION
    is not); a file of another layout is taken for another algorithm and refused."""
    from sscma_rtmdet.errors import ExportFailed
    from sscma_rtmdet.export import conformance
    from sscma_rtmdet.targets import BOARDS

    run, board = stock_files[3], BOARDS["grove_vision_ai_v2"]
    assert conformance.cpu_ops_of(run["vela"]) == []
    monkeypatch.setattr(conformance, "cpu_ops_of", lambda path: ["TRANSPOSE"])
    assert "on the CPU TRANSPOSE (in its kernels)" in conformance.check_for_board(board, run["int8"], run["vela"])
    monkeypatch.setattr(conformance, "cpu_ops_of", lambda path: ["CONCATENATION", "TRANSPOSE"])
    with pytest.raises(ExportFailed, match="Vela left CONCATENATION on the CPU, which the firmware has no kernel"):
        conformance.check_for_board(board, run["int8"], run["vela"])
    with pytest.raises(ExportFailed, match="auto-detect picks UNDEFINED, not YOLO_V8"):
        conformance.check_for_board(board, tutorial_files[3]["int8"])  # SSCMA-Micro v2's six outputs
