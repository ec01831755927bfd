"""The bad-input matrix (issues 12 and 18): one line per case.

    Case(id, tool, args(ws) -> CLI args, exit code, regex the output must match[, check(ws, result)])

`ws` is a `_workspace.Workspace`: `ws.dataset(train=edit, valid=edit)` copies the tiny run's dataset and
edits its JSON, `ws.options(data, **cfg)` gives the --cfg-options, `ws.ckpt` / `ws.models` the trained
checkpoint and its exports (cases whose id starts with NEEDS_EXPORTS in test_matrix.py), `ws.write` /
`ws.truncated` bad files. The edits and bad files live in _edits.py. To add a case, add a line to CASES.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import _bad_files as f
import _edits as e
from _edits import DROP, extra_box, image_field, remember


@dataclass
class Case:
    id: str
    tool: str                        # tools/<tool>.py
    args: Callable                   # ws -> list of CLI arguments
    code: int                        # expected exit code
    match: str                       # regex searched in stdout + stderr
    check: Callable | None = None    # extra assertions: (ws, result) -> None
    subprocess: bool = False         # run in a child process (a native crash must show as its exit code)


def resume_args(ws, wd, data=None, **cfg):
    return [ws.config, "--cfg-options", *ws.options(data, **cfg), "--work-dir", wd, "--resume", "--no-progress"]


def _train(ws, data=None, **cfg):
    return [ws.config, "--cfg-options", *ws.options(data, **cfg), "--work-dir", ws.path("wd"), "--no-progress"]


def _test(ws, model, data=None, *extra, **cfg):
    # one thread: 4 images of 64x64 gain nothing from two, and a busy 2-core machine loses a lot
    return [ws.config, model, "--cfg-options", *ws.options(data, **cfg), "--no-progress", "--threads", "1", *extra]


def _valid(edit):
    """test.py of the tiny checkpoint on a dataset copy whose val JSON got `edit`."""
    return lambda ws: _test(ws, ws.ckpt, ws.dataset(valid=edit))


def _infer(ws, model, source, out=None):
    return [model, source, "--out-dir", out or ws.path("infer_out"), "--threads", "1"]


def _test_into(option, where, below=""):
    """test.py with `option` aimed at `where` in a dataset copy (remembered: it must stay unchanged)."""
    def args(ws):
        data = ws.dataset()
        target = remember(ws, data / where)
        return _test(ws, ws.ckpt, data, option, target / below if below else target)
    return args


def _infer_into(source, out):
    """infer.py of `source(ws)` (remembered) with --out-dir `out` relative to it ('..': its folder)."""
    def args(ws):
        src = remember(ws, source(ws))
        return _infer(ws, ws.ckpt, src, (src / out).resolve() if out != ".." else src.parent)
    return args


ACT_RELU = {"act": "relu"}
NOT_FOLDED = r"error: .*edited\.\w+: its sidecar says normalization_folded=False but (the graph normalises its raw|input\.offset=128: the graph takes pixels)"
VELA_ONLY = r"error: .*x_int8_vela\.tflite is compiled by Vela for the Ethos-U NPU .*it runs only on the NPU.*" \
    r"x_int8\.tflite next"
OTHER_MODEL = r"error: .*edited\.\w+: .*shape .* but its sidecar (says|describes) .*the sidecar belongs to another"

CASES = [
    # ---- issue 12 ------------------------------------------------------------------------------------
    # item 2: file_name outside data_root
    Case("file-name-dotdot", "train", lambda ws: [ws.config, "--cfg-options", *ws.options(
        ws.dataset(train=e.outside_file)), "--work-dir", ws.path("wd")], 2,
        r"point outside the dataset folder .*images\[0\] .*'\.\./\.\./outside\.jpg'"),
    Case("file-name-absolute", "test", lambda ws: _test(ws, ws.ckpt, ws.dataset(valid=e.absolute_file)), 2,
         r"point outside the dataset folder .*file_name '/"),
    # item 3: corrupt model files -> exit 2, never a crash
    Case("tflite-truncated-test", "test", lambda ws: _test(ws, ws.truncated(ws.models["float32"], "cut.tflite")),
         2, r"error: .*cut\.tflite is not a valid TFLite model", subprocess=True),
    Case("tflite-truncated-infer", "infer", lambda ws: _infer(
        ws, ws.truncated(ws.models["float32"], "cut.tflite", 0.9), ws.run["data"] / "valid"), 2,
        r"error: .*cut\.tflite is not a valid TFLite model", subprocess=True),
    Case("tflite-garbage-infer", "infer", lambda ws: _infer(ws, f.garbage_tflite(ws), ws.run["data"] / "valid"), 2,
         r"error: .*garbage\.tflite is not a valid TFLite model", subprocess=True),
    Case("tflite-tiny-file", "test", lambda ws: _test(ws, ws.write("x.tflite", b"TFL3")), 2,
         r"error: .*x\.tflite is not a valid TFLite model: 4 bytes is too small"),
    Case("tflite-no-identifier", "infer", lambda ws: _infer(ws, ws.write("x.tflite", bytes(100)), ws.run["data"]),
         2, r"error: .*no TFL3 identifier"),
    Case("onnx-truncated-test", "test", lambda ws: _test(ws, ws.truncated(ws.models["onnx"], "cut.onnx")), 2,
         r"error: .*cut\.onnx is not a valid ONNX model"),
    Case("onnx-garbage-infer", "infer", lambda ws: _infer(ws, ws.write("g.onnx", os.urandom(3000)), ws.run["data"]),
         2, r"error: .*g\.onnx is not a valid ONNX model"),
    Case("onnx-sidecar-wrong-type", "test", lambda ws: _test(ws, f.bad_sidecar(ws)), 2,
         r"error: .*edited\.onnx\.json: metadata field\(s\) \['input'\] have the wrong type"),
    Case("export-truncated-pth", "export", lambda ws: [ws.config, ws.truncated(ws.ckpt, "cut.pth"), "--format",
         "onnx", "--cfg-options", *ws.options()], 2, r"error: cannot read checkpoint .*cut\.pth"),
    # item 5: training on nothing
    Case("train-no-annotations-key", "train", lambda ws: _train(ws, ws.dataset(train=e.drop_key("annotations"))), 2,
         r"error: .*train/_annotations\.coco\.json has no 'annotations' \(missing or empty list\)"),
    Case("train-no-usable-box", "train", lambda ws: _train(ws, ws.dataset(train=e.unknown_categories)), 2,
         r"error: .*has \d+ annotation\(s\) but none is a usable box \(skipped: \d+ unknown category\)"),
    Case("val-split-empty", "train", lambda ws: _train(ws, ws.dataset(valid=e.no_images)), 2,
         r"error: .*valid/_annotations\.coco\.json lists no images: the val split is empty"),
    Case("val-no-boxes", "train", lambda ws: _train(ws, ws.dataset(valid=e.drop_key("annotations"))), 2,
         r"(?s)error: .*valid/_annotations\.coco\.json has no 'annotations'.*meaningless best checkpoint"),
    Case("batch-size-0", "train", lambda ws: _train(ws, batch_size=0), 2, r"error: batch_size=0 must be a positive"),
    Case("max-epochs-negative", "train", lambda ws: _train(ws, max_epochs=-1), 2,
         r"error: max_epochs=-1 must be a positive"),
    Case("backbone-lr-mult-negative", "train", lambda ws: _train(ws, **{"optimizer.backbone_lr_mult": -1.0}), 2,
         r"error: optimizer\.backbone_lr_mult=-1\.0: use a number from 0 to 10"),
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
    Case("arch-mismatch-load-from", "train", lambda ws: _train(ws, load_from=ws.ckpt, **ACT_RELU), 2,
         r"error: .*was trained as CSPNeXt"),
    # should fix: clear messages
    Case("truncated-jpeg-named", "infer", lambda ws: _infer(ws, ws.ckpt, f.truncated_jpeg(ws)), 0,
         r"image .*cut\.jpg is a truncated JPEG"),
    Case("json-size-mismatch", "test", _valid(e.wrong_size), 0,
         r"is \d+x\d+ \(width x height\) but the annotation file says \d+x\d+"),
    Case("duplicate-image-id", "test", _valid(e.duplicate_id), 2,
         r"error: .*duplicate image id\(s\): id \d+: images\[0\] and images\[1\]"),
    Case("wrong-arch-keys-summarised", "test", lambda ws: _test(
        ws, ws.ckpt, None, "--allow-arch-mismatch", widen_factor=0.5), 2,
        r"error: checkpoint .*epoch_2\.pth \(ours format\) does not fit .*\d+ shape mismatches\n  checkpoint: "
        r"CSPNeXt\(.*widen 0\.25.*\n  config: +CSPNeXt\(.*widen 0\.5", e.short(3000)),
    Case("load-from-keys-summarised", "train", lambda ws: _train(ws, load_from=f.raw_state_dict(ws),
         widen_factor=0.5), 2, r"error: checkpoint .*raw_state_dict\.pth \(ours format\) does not fit .*shape "
         r"mismatches", e.short(3000)),
    Case("resume-other-model", "train", lambda ws: resume_args(ws, ws.work_dir_copy(), None, **ACT_RELU), 2,
         r"error: .*last\.pth was trained as CSPNeXt.*act silu"),
    Case("resume-truncated-last", "train", lambda ws: resume_args(ws, f.truncate_last(ws)), 0,
         r"skipped unreadable last\.pth \(.*\); resuming from epoch_2\.pth"),
    Case("stale-temp-removed", "train", lambda ws: resume_args(ws, f.stale_temp(ws)), 0,
         r"removed 1 temp file\(s\) left by an interrupted save: \.epoch_3\.k2j4_x9a\.pth",
         e.gone(".epoch_3.k2j4_x9a.pth")),
    Case("infer-only-input-unreadable", "infer", lambda ws: _infer(ws, ws.ckpt, ws.write("bad.jpg", b"not jpeg")),
         2, r"error: no readable image: .*bad\.jpg"),

    # ---- issue 18: nothing the user owns is overwritten ------------------------------------------------
    Case("out-onto-ground-truth", "test", _test_into("--out", "valid/_annotations.coco.json"), 2,
         r"error: --out .*valid/_annotations\.coco\.json is an input of this command", e.unchanged),
    Case("out-onto-model", "test", lambda ws: _test(ws, ws.ckpt, None, "--out", remember(ws, ws.ckpt)), 2,
         r"error: --out .*epoch_2\.pth is an input of this command", e.unchanged),
    Case("show-dir-into-dataset", "test", _test_into("--show-dir", "valid"), 2,
         r"error: --show-dir .*valid overlaps the dataset/input folder", e.unchanged),
    Case("show-dir-into-train-split", "test", _test_into("--show-dir", "train"), 2,
         r"error: --show-dir .*train overlaps the dataset", e.unchanged),
    Case("plots-into-dataset", "test", _test_into("--plots", "valid", "plots"), 2,
         r"error: --plots .*overlaps the dataset", e.unchanged),
    Case("out-unwritable-checked-first", "test", lambda ws: _test(ws, ws.ckpt, None, "--out", f.unreadable_parent(ws)),
         2, r"error: --out .*a_file/out: cannot write there", e.not_evaluated),
    Case("infer-out-dir-is-source", "infer", _infer_into(lambda ws: ws.dataset() / "valid", "."), 2,
         r"error: --out-dir .*valid is an input of this command", e.unchanged),
    Case("infer-out-dir-inside-source", "infer", _infer_into(lambda ws: ws.dataset() / "valid", "o"), 2,
         r"error: --out-dir .*valid/o overlaps", e.unchanged),
    Case("infer-image-onto-itself", "infer", _infer_into(lambda ws: sorted((ws.dataset() / "valid").glob("*.jpg"))[0],
         ".."), 2, r"error: --out-dir .*: the drawing of valid_0000\.jpg would be .*valid_0000\.jpg, over the input",
         e.unchanged),
    Case("infer-video-onto-itself", "infer", _infer_into(f.tiny_video, ".."), 2,
         r"error: --out-dir .*: the drawing of clip\.mp4 would be .*clip\.mp4, over the input", e.unchanged),
    Case("infer-same-stems-apart", "infer", lambda ws: _infer(ws, ws.ckpt, f.same_stems(ws)), 0,
         r"x\.bmp: \d+ detections", e.four_drawings),
    Case("resume-copy-keeps-original", "train", lambda ws: resume_args(ws, f.copied_run_without_best(ws),
         max_epochs=3), 0, r"best coco/bbox_mAP .* at epoch 3: best\.pth", e.copy_kept_original),
    Case("train-into-busy-work-dir", "train", lambda ws: [ws.config, "--cfg-options", *ws.options(), "--work-dir",
         f.locked_work_dir(ws)], 2, r"error: work dir .*busy is in use by a running training \(pid \d+\)", e.release),

    # ---- issue 18: no metric counts what it says it skipped --------------------------------------------
    Case("val-box-nan-width", "test", _valid(extra_box(bbox=[10, 10, float("nan"), 20])), 0, r"1 malformed",
         e.same_metric),
    Case("val-box-negative-width", "test", _valid(extra_box(bbox=[10, 10, -20, 20])), 0, r"1 empty", e.same_metric),
    Case("val-segmentation-only", "test", _valid(extra_box(bbox=DROP, area=DROP, segmentation=[[1, 1, 9, 1, 9, 9]])),
         0, r"1 malformed", e.same_metric),
    Case("string-category-ids", "test", _valid(e.string_ids(images=False)), 0, r"bbox_mAP_copypaste", e.same_metric),
    Case("string-image-ids-mixed", "test", _valid(e.string_ids(categories=False, annotations=False)), 0,
         r"bbox_mAP_copypaste", e.same_metric),
    Case("image-id-not-a-number", "train", lambda ws: _train(ws, ws.dataset(train=image_field(0, id="img_a"))), 2,
         r"error: .*train/_annotations\.coco\.json: image id\(s\) must be integers .*images\[0\] id 'img_a'"),
    Case("image-id-list", "test", _valid(image_field(1, id=[1])), 2, r"error: .*images\[1\] id \[1\]"),
    Case("file-name-int", "train", lambda ws: _train(ws, ws.dataset(train=image_field(0, file_name=123))), 2,
         r"error: .*file_name must be a non-empty string .*images\[0\] \(id \d+\) file_name 123"),
    Case("duplicate-category-id", "test", _valid(e.duplicate_category), 2,
         r"error: .*duplicate category id 1: categories\[1\] 'circle' and categories\[2\] 'square'"),
    Case("category-id-not-a-number", "test", _valid(lambda d, r: d["categories"][1].update(id="circle")), 2,
         r"error: .*categories\[1\] id 'circle' must be an integer"),
    Case("json-nested-too-deep", "test", lambda ws: _test(ws, ws.ckpt, e.nested_json(ws)), 2,
         r"error: annotation file .*valid/_annotations\.coco\.json is nested too deeply"),
    Case("exif-json-unrotated-size", "test", _valid(e.exif_unrotated), 0,
         r"carries EXIF orientation 6 \(rotated 90 clockwise\): it is read as displayed, \d+x\d+ .*gives the "
         r"unrotated size \d+x\d+: its boxes are probably in the raw sensor frame"),
    Case("class-renamed-test-warns", "test", _valid(e.renamed_class), 0,
         r"warning: epoch_2\.pth: classes renamed \(same ids\): 'circle' -> 'disc'; scored by index"),
    Case("class-reordered-test", "test", _valid(e.swapped_classes), 2,
         r"error: .*epoch_2\.pth does not fit the options: it was trained on classes \['circle', 'square', 'triangle'\] "
         r"but the dataset lists \['square', 'circle', 'triangle'\]: 'circle' from index 0 to 1, 'square' from index 1 "
         r"to 0 moved"),
    Case("class-renamed-resume-warns", "train", lambda ws: resume_args(
        ws, ws.work_dir_copy(), ws.dataset(train=e.renamed_class, valid=e.renamed_class)), 0,
        r"--resume: classes renamed \(same ids\): 'circle' -> 'disc' since .*last\.pth; continuing"),
    Case("class-reordered-resume", "train", lambda ws: resume_args(
        ws, ws.work_dir_copy(), ws.dataset(train=e.swapped_classes, valid=e.swapped_classes)), 2,
        r"error: --resume: .*last\.pth was trained on classes \['circle', 'square', 'triangle'\] but the dataset "
        r"lists \['square', 'circle'"),
    Case("onnx-sidecar-folded-flipped", "test", lambda ws: _test(ws, f.edited_sidecar("onnx", f.flip_folded)(ws)), 2,
         NOT_FOLDED),
    Case("tflite-sidecar-folded-flipped", "infer", lambda ws: _infer(
        ws, f.edited_sidecar("float32", f.flip_folded)(ws), ws.run["data"] / "valid"), 2, NOT_FOLDED),
    Case("onnx-sidecar-more-classes", "infer", lambda ws: _infer(ws, f.edited_sidecar("onnx", f.sidecar_set(
        deployment__classes=lambda c: c + ["extra"], deployment__num_classes=4))(ws), ws.run["data"]), 2, OTHER_MODEL),
    Case("tflite-sidecar-fewer-class-names", "infer", lambda ws: _infer(ws, f.edited_sidecar("float32", f.sidecar_set(
        deployment__classes=lambda c: c[:2], deployment__num_classes=2))(ws), ws.run["data"]), 2, OTHER_MODEL),
    Case("onnx-sidecar-input-size", "infer", lambda ws: _infer(ws, f.edited_sidecar("onnx", f.sidecar_set(
        deployment__imgsz=[96, 96], input__hw=[96, 96]))(ws), ws.run["data"]), 2,
        r"error: .*edited\.onnx: graph input images has shape \[1, 3, 64, 64\] but its sidecar says \[1, 3, 96, 96\]"),
    Case("tflite-sidecar-strides", "infer", lambda ws: _infer(ws, f.edited_sidecar("float32", f.strides_16_32_64)(ws),
         ws.run["data"]), 2, OTHER_MODEL),
    Case("onnx-sidecar-no-strides", "infer", lambda ws: _infer(ws, f.edited_sidecar("onnx", f.sidecar_set(
        deployment__strides=[]))(ws), ws.run["data"]), 2, r"error: .*edited\.onnx\.json: deployment record lists no "
        r"strides"),

    # ---- issue 18: security and resource limits ---------------------------------------------------------
    Case("onnx-external-data-symlink", "test", lambda ws: _test(ws, f.external_data_symlink(ws)), 2,
         r"error: .*ext\.onnx: tensor '.*' takes its data from 'weights\.bin', which leads outside the model's folder"),
    Case("ansi-class-name", "test", _valid(e.ansi_class), 0, r"ci\\x1b\[31mrc\\x1b\[2Jle\\x0abbox_mAP_copypaste: 1",
         e.no_terminal_codes(r"(?m)^bbox_mAP_copypaste: 1$")),
    Case("ansi-file-name", "infer", lambda ws: _infer(ws, ws.ckpt, f.control_char_name(ws)), 0,
         r"a\\x1b\[2Jb\\x0aforged: 99 detections\.jpg: \d+ detections", e.no_terminal_codes(r"(?m)^forged")),
    Case("pth-decompression-bomb", "test", lambda ws: _test(ws, f.bomb_pth(ws)), 2,
         r"error: checkpoint .*bomb\.pth is 0\.\d MiB but its members inflate to 200 MiB .*refused before loading"),
    Case("sidecar-input-32000", "test", lambda ws: _test(ws, f.edited_sidecar("onnx", f.sidecar_set(
        deployment__imgsz=[32000, 32000], input__hw=[32000, 32000]))(ws)), 2,
        r"error: .*edited\.onnx\.json: imgsz 32000x32000 exceeds 4096 per side"),
    Case("image-20000x20000-infer", "infer", lambda ws: _infer(ws, ws.ckpt, f.huge_jpeg(ws.path("big/huge.jpg"))), 2,
         r"skipped .*huge\.jpg: image .*huge\.jpg is 20000x20000 pixels \(400 MP\), above the limit of 179 MP"),
    Case("image-20000x20000-test", "test", lambda ws: _test(ws, ws.ckpt, f.huge_val_image(ws)), 2,
         r"error: image .*valid_0000\.jpg is 20000x20000 pixels \(400 MP\), above the limit"),

    # ---- issue 18: error lines instead of tracebacks ---------------------------------------------------
    Case("base-lr-negative", "train", lambda ws: _train(ws, base_lr=-0.01), 2,
         r"error: base_lr=-0\.01 must be a positive number"),
    Case("device-cuda", "test", lambda ws: _test(ws, ws.ckpt, None, "--device", "cuda"), 2,
         r"error: --device cuda: this torch build has no CUDA"),
    Case("device-index", "test", lambda ws: _test(ws, ws.ckpt, None, "--device", "0"), 2,
         r"error: --device 0: this torch build has no CUDA"),
    Case("device-banana", "train", lambda ws: _train(ws) + ["--device", "banana"], 2,
         r"error: --device banana: unknown; use auto, cpu, cuda, cuda:N or a GPU index N"),
    Case("ckpt-imgsz-zero", "test", lambda ws: _test(ws, f.deployment_imgsz((0, 64))(ws)), 2,
         r"error: .*edited\.pth: deployment record is invalid \(0 is not a positive integer\)"),
    Case("ckpt-imgsz-not-multiple-of-32", "infer", lambda ws: _infer(ws, f.deployment_imgsz((70, 64))(ws),
         ws.run["data"]), 2, r"error: .*edited\.pth: imgsz 70x64 is not a multiple of the largest stride 32"),
]
