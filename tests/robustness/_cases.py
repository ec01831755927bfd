"""The bad-input matrix (issue 12): one line per case.

    Case(id, tool, args(ws) -> CLI args, exit code, regex the output must match[, check(ws, result)])

`ws` is a `_workspace.Workspace`: `ws.dataset(train=edit, valid=edit)` copies the tiny run's dataset and
edits its JSON, `ws.options(data, **cfg)` gives the --cfg-options, `ws.ckpt` / `ws.models` the trained
checkpoint and its exports, `ws.write` / `ws.truncated` bad files. To add a case, add a line to CASES
(and, if needed, a small JSON edit below).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np


@dataclass
class Case:
    id: str
    tool: str                        # tools/<tool>.py
    args: Callable                   # ws -> list of CLI arguments
    code: int                        # expected exit code
    match: str                       # regex searched in stdout + stderr
    check: Callable | None = None    # extra assertions: (ws, result) -> None
    subprocess: bool = False         # run in a child process (a native crash must show as its exit code)


# ---- JSON edits: (data, dataset root) -> None, in place ------------------------------------------------
def drop_key(key):
    return lambda d, root: d.pop(key)


def image_field(index, **fields):
    return lambda d, root: d["images"][index].update(fields)


def outside_file(d, root):
    """images[0] points two folders up, at a real image outside the dataset."""
    outside = root.parent / "outside.jpg"
    cv2.imwrite(str(outside), np.full((32, 32, 3), 90, np.uint8))
    d["images"][0]["file_name"] = "../../outside.jpg"


def absolute_file(d, root):
    d["images"][0]["file_name"] = str(root / "valid" / d["images"][0]["file_name"])


def unknown_categories(d, root):
    for a in d["annotations"]:
        a["category_id"] = 99


def no_images(d, root):
    d["images"], d["annotations"] = [], []


def duplicate_id(d, root):
    d["images"][1]["id"] = d["images"][0]["id"]


def renamed_class(d, root):
    next(c for c in d["categories"] if c["name"] == "circle")["name"] = "disc"


def wrong_size(d, root):
    im = d["images"][0]
    im["width"], im["height"] = im["width"] * 2, im["height"] + 7


# ---- bad files ------------------------------------------------------------------------------------------
def garbage_tflite(ws):
    """Random bytes with a valid-looking header: root offset 16 and the TFL3 identifier."""
    rng = np.random.default_rng(0)
    body = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    return ws.write("garbage.tflite", (16).to_bytes(4, "little") + b"TFL3" + body)


def truncated_jpeg(ws):
    ok, buf = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    return ws.write("cut.jpg", buf.tobytes()[: len(buf) * 2 // 3])


def bad_sidecar(ws):
    """The tiny ONNX export with a hand-edited sidecar: input.hw is a string."""
    import json
    import shutil

    path = ws.path("edited.onnx")
    shutil.copy(ws.models["onnx"], path)
    meta = json.loads(open(str(ws.models["onnx"]) + ".json").read())
    meta["input"]["hw"] = "64x64"
    ws.write("edited.onnx.json", json.dumps(meta).encode())
    return path


def stale_temp(ws):
    wd = ws.work_dir_copy()
    (wd / ".epoch_3.k2j4_x9a.pth").write_bytes(b"")
    return wd


def resume_args(ws, wd, data=None, **cfg):
    return [ws.config, "--cfg-options", *ws.options(data, **cfg), "--work-dir", wd, "--resume", "--no-progress"]


def raw_state_dict(ws):
    import torch

    path = ws.path("raw_state_dict.pth")
    torch.save(torch.load(ws.ckpt, weights_only=True)["state_dict"], path)
    return path


def truncate_last(ws):
    wd = ws.work_dir_copy()
    data = (wd / "last.pth").read_bytes()
    (wd / "last.pth").write_bytes(data[: len(data) // 3])
    return wd


def _test(ws, model, data=None, *extra, **cfg):
    return [ws.config, model, "--cfg-options", *ws.options(data, **cfg), "--no-progress", *extra]


def _infer(ws, model, source):
    return [model, source, "--out-dir", ws.path("infer_out")]


def _gone(name):
    def check(ws, res):
        assert not (ws.path("wd") / name).exists(), f"{name} still there"
    return check


def _short(limit):
    def check(ws, res):
        assert len(res.output) < limit, f"{len(res.output)} characters of output"
    return check


ACT_RELU = {"act": "relu"}

CASES = [
    # item 2: file_name outside data_root
    Case("file-name-dotdot", "train", lambda ws: [ws.config, "--cfg-options", *ws.options(
        ws.dataset(train=outside_file)), "--work-dir", ws.path("wd")], 2,
        r"point outside the dataset folder .*images\[0\] .*'\.\./\.\./outside\.jpg'"),
    Case("file-name-absolute", "test", lambda ws: _test(ws, ws.ckpt, ws.dataset(valid=absolute_file)), 2,
         r"point outside the dataset folder .*file_name '/"),
    # item 3: corrupt model files -> exit 2, never a crash
    Case("tflite-truncated-test", "test", lambda ws: _test(ws, ws.truncated(ws.models["float32"], "cut.tflite")),
         2, r"error: .*cut\.tflite is not a valid TFLite model", subprocess=True),
    Case("tflite-truncated-infer", "infer", lambda ws: _infer(
        ws, ws.truncated(ws.models["float32"], "cut.tflite", 0.9), ws.run["data"] / "valid"), 2,
        r"error: .*cut\.tflite is not a valid TFLite model", subprocess=True),
    Case("tflite-garbage-infer", "infer", lambda ws: _infer(ws, garbage_tflite(ws), ws.run["data"] / "valid"), 2,
         r"error: .*garbage\.tflite is not a valid TFLite model", subprocess=True),
    Case("tflite-tiny-file", "test", lambda ws: _test(ws, ws.write("x.tflite", b"TFL3")), 2,
         r"error: .*x\.tflite is not a valid TFLite model: 4 bytes is too small"),
    Case("tflite-no-identifier", "infer", lambda ws: _infer(ws, ws.write("x.tflite", bytes(100)), ws.run["data"]),
         2, r"error: .*no TFL3 identifier"),
    Case("onnx-truncated-test", "test", lambda ws: _test(ws, ws.truncated(ws.models["onnx"], "cut.onnx")), 2,
         r"error: .*cut\.onnx is not a valid ONNX model"),
    Case("onnx-garbage-infer", "infer", lambda ws: _infer(ws, ws.write("g.onnx", os.urandom(3000)), ws.run["data"]),
         2, r"error: .*g\.onnx is not a valid ONNX model"),
    Case("onnx-sidecar-wrong-type", "test", lambda ws: _test(ws, bad_sidecar(ws)), 2,
         r"error: .*edited\.onnx\.json: metadata field\(s\) \['input'\] have the wrong type"),
    Case("export-truncated-pth", "export", lambda ws: [ws.config, ws.truncated(ws.ckpt, "cut.pth"), "--format",
         "onnx", "--cfg-options", *ws.options()], 2, r"error: cannot read checkpoint .*cut\.pth"),
    # item 5: training on nothing
    Case("train-no-annotations-key", "train", lambda ws: [ws.config, "--cfg-options", *ws.options(
        ws.dataset(train=drop_key("annotations"))), "--work-dir", ws.path("wd")], 2,
        r"error: .*train/_annotations\.coco\.json has no 'annotations' \(missing or empty list\)"),
    Case("train-no-usable-box", "train", lambda ws: [ws.config, "--cfg-options", *ws.options(
        ws.dataset(train=unknown_categories)), "--work-dir", ws.path("wd")], 2,
        r"error: .*has \d+ annotation\(s\) but none is a usable box \(skipped: \d+ unknown category\)"),
    Case("val-split-empty", "train", lambda ws: [ws.config, "--cfg-options", *ws.options(
        ws.dataset(valid=no_images)), "--work-dir", ws.path("wd")], 2,
        r"error: .*valid/_annotations\.coco\.json lists no images: the val split is empty"),
    Case("val-no-boxes", "train", lambda ws: [ws.config, "--cfg-options", *ws.options(
        ws.dataset(valid=drop_key("annotations"))), "--work-dir", ws.path("wd")], 2,
        r"(?s)error: .*valid/_annotations\.coco\.json has no 'annotations'.*meaningless best checkpoint"),
    Case("batch-size-0", "train", lambda ws: [ws.config, "--cfg-options", *ws.options(batch_size=0),
         "--work-dir", ws.path("wd")], 2, r"error: batch_size=0 must be a positive"),
    Case("max-epochs-negative", "train", lambda ws: [ws.config, "--cfg-options", *ws.options(max_epochs=-1),
         "--work-dir", ws.path("wd")], 2, r"error: max_epochs=-1 must be a positive"),
    # item 6: checkpoint used with another architecture (SiLU checkpoint, ReLU config: same shapes)
    Case("arch-mismatch-test", "test", lambda ws: _test(ws, ws.ckpt, None, **ACT_RELU), 2,
         r"error: .*epoch_2\.pth was trained as CSPNeXt\(.*act silu\).*\n.*model\.backbone\.act: 'silu' in the "
         r"checkpoint vs 'relu' in the config"),
    Case("arch-mismatch-forced", "test", lambda ws: _test(ws, ws.ckpt, None, "--allow-arch-mismatch", **ACT_RELU),
         0, r"(?s)(?=.*--allow-arch-mismatch: loading anyway).*bbox_mAP_copypaste"),
    Case("arch-mismatch-export", "export", lambda ws: [ws.config, ws.ckpt, "--format", "onnx", "--out-dir",
         ws.path("x"), "--cfg-options", *ws.options(**ACT_RELU)], 2, r"model\.backbone\.act: 'silu' in the checkp"),
    Case("arch-mismatch-qat", "quantization", lambda ws: [ws.config, ws.ckpt, "--work-dir", ws.path("q"),
         "--cfg-options", *ws.options(**ACT_RELU)], 2, r"(?s)error: .*model\.head\.act: 'silu' in the checkpoint"),
    Case("arch-mismatch-load-from", "train", lambda ws: [ws.config, "--cfg-options", *ws.options(
        load_from=ws.ckpt, **ACT_RELU), "--work-dir", ws.path("wd")], 2, r"error: .*was trained as CSPNeXt"),
    # should fix: clear messages
    Case("truncated-jpeg-named", "infer", lambda ws: _infer(ws, ws.ckpt, truncated_jpeg(ws)), 0,
         r"image .*cut\.jpg is a truncated JPEG"),
    Case("json-size-mismatch", "test", lambda ws: _test(ws, ws.ckpt, ws.dataset(valid=wrong_size)), 0,
         r"is \d+x\d+ \(width x height\) but the annotation file says \d+x\d+"),
    Case("duplicate-image-id", "test", lambda ws: _test(ws, ws.ckpt, ws.dataset(valid=duplicate_id)), 2,
         r"error: .*duplicate image id\(s\): id \d+: images\[0\] and images\[1\]"),
    Case("wrong-arch-keys-summarised", "test", lambda ws: _test(
        ws, ws.ckpt, None, "--allow-arch-mismatch", widen_factor=0.5), 2,
        r"error: checkpoint .*epoch_2\.pth \(ours format\) does not fit .*\d+ shape mismatches\n  checkpoint: "
        r"CSPNeXt\(.*widen 0\.25.*\n  config: +CSPNeXt\(.*widen 0\.5", _short(3000)),
    Case("load-from-keys-summarised", "train", lambda ws: [ws.config, "--cfg-options", *ws.options(
        load_from=raw_state_dict(ws), widen_factor=0.5), "--work-dir", ws.path("wd")], 2,
        r"error: checkpoint .*raw_state_dict\.pth \(ours format\) does not fit .*shape mismatches", _short(3000)),
    Case("resume-other-classes", "train", lambda ws: resume_args(
        ws, ws.work_dir_copy(), ws.dataset(train=renamed_class, valid=renamed_class)), 2,
        r"error: --resume: .*last\.pth was trained on 3 classes \['circle', 'square', 'triangle'\] but this run's "
        r"dataset has 3 \['disc'"),
    Case("resume-other-model", "train", lambda ws: resume_args(ws, ws.work_dir_copy(), None, **ACT_RELU), 2,
         r"error: .*last\.pth was trained as CSPNeXt.*act silu"),
    Case("resume-truncated-last", "train", lambda ws: resume_args(ws, truncate_last(ws)), 0,
         r"skipped unreadable last\.pth \(.*\); resuming from epoch_2\.pth"),
    Case("stale-temp-removed", "train", lambda ws: resume_args(ws, stale_temp(ws)), 0,
         r"removed 1 temp file\(s\) left by an interrupted save: \.epoch_3\.k2j4_x9a\.pth",
         _gone(".epoch_3.k2j4_x9a.pth")),
    Case("infer-only-input-unreadable", "infer", lambda ws: _infer(ws, ws.ckpt, ws.write("bad.jpg", b"not jpeg")),
         2, r"error: no readable image: .*bad\.jpg"),
]
