"""The bad-input matrix, issue 40's cases (round 3): one line per case, as in _cases.py (Case, helpers)."""
from __future__ import annotations

import _bad_files as f
import _edits as e
import _weak_files as w
from _cases import VELA_ONLY, Case, _infer, _test, _train, _valid, resume_args  # noqa: F401

CASES_40 = [
    # ---- issue 40: bad ----
    Case("val-image-is-text-test", "test", lambda ws: _test(ws, ws.ckpt, f.val_image_replaced("text")(ws)), 2,
         r"error: 1 of \d+ images listed in .*valid/_annotations\.coco\.json are not images OpenCV can read: "
         r"'valid_0000\.jpg'; fix or remove them"),
    Case("val-image-is-text-train", "train", lambda ws: _train(ws, f.val_image_replaced("text")(ws)), 2,
         r"error: 1 of \d+ images listed in .*valid/_annotations\.coco\.json are not images", e.no_checkpoint),
    Case("val-image-links-outside-test", "test", lambda ws: _test(ws, ws.ckpt, f.val_image_replaced("link")(ws)), 2,
         r"error: .*are not images OpenCV can read: 'valid_0000\.jpg' \(a link to .*secret/shadow\)"),
    Case("val-image-links-outside-train", "train", lambda ws: _train(ws, f.val_image_replaced("link")(ws)), 2,
         r"error: .*valid/_annotations\.coco\.json are not images .*\(a link to .*secret/shadow\)", e.no_checkpoint),
    Case("val-image-id-2-70", "test", _valid(e.huge_image_id), 2, r"error: .*valid/_annotations\.coco\.json: image "
         r"id\(s\) out of range: images\[0\] id 1180591620717411303424; ids must lie within -2\*\*63\.\.2\*\*63-1"),
    Case("onnx-external-constants", "test", lambda ws: _test(ws, f.onnx_external("all")(ws)), 2,
         r"error: .*model/ext\.onnx: onnxruntime cannot load it \(.*Cannot parse data from external tensors.*\); keep "
         r"the constants inside the \.onnx \(save without external data\); re-export it"),
    Case("onnx-external-constants-missing", "infer", lambda ws: _infer(ws, f.onnx_external("missing")(ws),
         ws.run["data"]), 2, r"error: .*ext\.onnx: tensor '.*' takes its data from 'c\.bin', which is not a file in"),
    Case("onnx-custom-domain-op", "infer", lambda ws: _infer(ws, f.onnx_custom_domain(ws), ws.run["data"]), 2,
         r"error: .*custom\.onnx uses operator\(s\) of a custom domain onnxruntime does not run: "
         r"com\.example\.custom:Mystery; export the model with standard ONNX operators"),
    Case("info-ansi-class-names", "model_info", lambda ws: [f.ansi_class_checkpoint(ws)], 0,
         r"classes \(3\): ci\\x1b\[31mrc\\x1b\]0;pwned\\x07le\\x1b\[2J\\x0aforged: 1, square",
         e.no_terminal_codes(r"(?m)^forged")),
    Case("onnx-sidecar-iou-threshold-5", "test", lambda ws: _test(ws, f.edited_sidecar("onnx", f.sidecar_set(
        deployment__test_cfg__iou_threshold=5))(ws)), 2, r"error: .*edited\.onnx\.json: deployment record "
        r"test_cfg\.iou_threshold=5 must be a number above 0, at most 1; re-export the model"),
    Case("ckpt-test-cfg-unknown-key", "infer", lambda ws: _infer(ws, f.edited_checkpoint(
        lambda ck: ck["meta"]["deployment"]["test_cfg"].update(nms_thr=0.5))(ws), ws.run["data"]), 2,
        r"error: .*edited\.pth: deployment record test_cfg has unknown field\(s\) \['nms_thr'\]"),
    Case("ckpt-test-cfg-nms-unknown", "test", lambda ws: _test(ws, f.edited_checkpoint(
        lambda ck: ck["meta"]["deployment"]["test_cfg"].update(nms="soft"))(ws)), 2,
        r"error: .*edited\.pth: deployment record test_cfg\.nms='soft' must be one of 'exact', 'sscma'"),
    Case("yolo-yaml-billion-laughs", "test", lambda ws: [ws.config, ws.ckpt, "--data", f.yaml_laughs(ws),
         "--no-progress"], 2, r"error: .*laughs/data\.yaml: line 2 uses a YAML alias \(\*name\); refused, since "
         r"aliases can expand a small file to gigabytes"),
    Case("export-imgsz-4128", "export", lambda ws: [ws.config, ws.ckpt, "--format", "onnx", "--imgsz", 4128, 4128,
         "--out-dir", ws.path("x"), "--cfg-options", *ws.options()], 2, r"error: --imgsz 4128 4128: both sides must "
         r"be positive multiples of 32, at most 4096", e.nothing_in("x")),
    Case("classes-100000-train", "train", lambda ws: _train(ws, ws.dataset(train=e.many_classes(100_000),
         valid=e.many_classes(100_000))), 2, r"error: .*train/_annotations\.coco\.json lists 100000 categories; at "
         r"most 2000 classes are supported \(LVIS, the largest common detection set, has 1203\)", e.no_checkpoint),

    # ---- issue 40: weak ----
    Case("placeholder-category-train", "train", lambda ws: _train(ws, ws.dataset(train=w.placeholder_box)), 2,
         r"error: .*train/_annotations\.coco\.json: category 0 '.*' is Roboflow's placeholder \(the dataset name, "
         r"supercategory 'none'\), not a class, but 1 box\(es\) use it: annotations\[\d+\] \(id \d+, image_id \d+\)"),
    Case("placeholder-category-val", "test", _valid(w.placeholder_box), 2,
         r"error: .*valid/_annotations\.coco\.json: category 0 '.*' is Roboflow's placeholder"),
    Case("same-file-two-ids", "test", _valid(w.same_file_twice), 0,
         r"warning: .*valid/_annotations\.coco\.json: 1 image file\(s\) listed twice under other ids: images\[0\] "
         r"\(id \d+\) and images\[4\] \(id \d+\): 'valid_0000\.jpg'"),
    Case("class-names-blank-and-twin", "train", lambda ws: _train(ws, ws.dataset(
        train=w.blank_and_twin_names, valid=w.blank_and_twin_names), max_epochs=1), 0,
        r"warning: .*train/_annotations\.coco\.json: class\(es\) \[0\] have an empty name; classes \[1, 2\] are all "
        r"named 'triangle'"),
    Case("batch-larger-than-dataset", "train", lambda ws: _train(ws, batch_size=16, max_epochs=1), 0,
         r"note: batch_size=16 is larger than the 8 training images; using batch_size=8"),
    Case("resume-other-imgsz", "train", lambda ws: resume_args(ws, ws.work_dir_copy(), imgsz="(96,96)"), 2,
         r"error: --resume: .*last\.pth was trained at imgsz 64x64 but this run asks for 96x96"),
    Case("epochs-vs-cfg-options", "train", lambda ws: _train(ws) + ["--epochs", "3"], 2,
         r"error: --epochs 3 and --cfg-options max_epochs=2 disagree; give one of them"),
    Case("imgsz-vs-cfg-options", "train", lambda ws: _train(ws) + ["--imgsz", "96"], 2,
         r"error: --imgsz 96 and --cfg-options imgsz=\(64, 64\) disagree"),
    Case("ckpt-newer-format", "test", lambda ws: _test(ws, f.edited_checkpoint(
        lambda ck: ck.update(format="sscma_rtmdet/2", version="9.0.0"), "newer.pth")(ws)), 2,
        r"error: checkpoint .*newer\.pth has format 'sscma_rtmdet/2', written by sscma-rtmdet 9\.0\.0; .*written by "
        r"a newer version of sscma-rtmdet, upgrade"),
    Case("pth-pickle-calls-code", "test", lambda ws: _test(ws, w.pickle_global(ws)), 2,
         r"error: cannot read checkpoint .*evil\.pth: it holds Python objects besides tensors .*calls \S+ when loaded",
         w.marker_untouched),
    Case("export-config-alone", "export", lambda ws: [ws.config, "--format", "onnx"], 2,
         r"error: .*\.py is a config \(a Python file\), not a checkpoint: give the checkpoint too",
         w.not_in_output("weights_only")),
    Case("yolo-train-folder-missing", "test", lambda ws: w.on_data(ws, w.yolo_dataset(ws, train_images=False)), 2,
         r"error: .*data\.yaml: train: '\.\./train/images' not found \(looked for .*/train/images and "
         r".*yolo/train/images\)"),
    Case("yolo-no-val-entry", "test", lambda ws: w.on_data(ws, w.yolo_dataset(ws, val=False)), 2,
         r"error: .*yolo/data\.yaml: no 'val' entry; add val: <images folder or list>", w.not_in_output("cache")),
    Case("data-is-zip", "test", lambda ws: w.on_data(ws, w.zip_file(ws)), 2,
         r"error: dataset .*dataset\.zip is a \.zip archive: unpack it and pass its folder"),
    Case("data-is-a-file", "test", lambda ws: w.on_data(ws, ws.write("notes.txt", b"hello")), 2,
         r"error: dataset .*notes\.txt is a file, not a dataset folder: pass the folder"),
    Case("val-only-crowd-test", "test", _valid(w.all_crowd), 2,
         r"error: .*valid/_annotations\.coco\.json has \d+ annotation\(s\) but none is a usable box \(skipped: \d+ "
         r"crowd\): none of its 4 images has a box, there is nothing to score"),
    Case("val-no-labels-test", "test", _valid(e.drop_key("annotations")), 2,
         r"error: .*valid/_annotations\.coco\.json has no 'annotations' .*there is nothing to score"),
    Case("split-test-missing", "test", lambda ws: w.on_data(ws, w.no_test_split(ws), "--split", "test"), 2,
         r"error: --split test: the dataset .* has no test split \(its test files are the val split's"),
    Case("tflm-float16-file", "test", lambda ws: _test(ws, w.float16_tflite(ws), None, "--runtime", "tflm"), 2,
         r"error: --runtime tflm: tiny_float16\.tflite is a float16 file; TFLite Micro runs int8 and float32 files"),
    Case("tflm-on-pth-test", "test", lambda ws: _test(ws, ws.ckpt, None, "--runtime", "tflm"), 2,
         r"error: --runtime tflm runs the \.tflite files an MCU runs \(int8 or float32\), not epoch_2\.pth"),
    Case("tflm-on-pth-infer", "infer", lambda ws: _infer(ws, ws.ckpt, ws.run["data"] / "valid") + ["--runtime", "tflm"],
         2, r"error: --runtime tflm runs the \.tflite files .*not epoch_2\.pth"),
    Case("board-without-tflite", "export", lambda ws: [ws.config, ws.ckpt, "--format", "onnx", "--board",
         "xiao_esp32s3", "--out-dir", ws.path("x"), "--cfg-options", *ws.options()], 2,
         r"error: --board xiao_esp32s3 checks the int8 \.tflite and the Vela file .*--format onnx writes neither"),
    Case("vela-file-test", "test", lambda ws: _test(ws, w.vela_named(ws)), 2, VELA_ONLY),
    Case("vela-file-infer", "infer", lambda ws: _infer(ws, w.vela_named(ws), ws.run["data"] / "valid"), 2, VELA_ONLY),
    Case("vela-file-info", "model_info", lambda ws: [w.vela_named(ws)], 2, VELA_ONLY),
    Case("work-dir-in-split-folder", "train", w.train_into_split, 2,
         r"error: --work-dir .*train/run overlaps the dataset/input folder .*train; the tool would write over",
         w.no_work_dir),
    Case("warning-one-line", "test", _valid(e.wrong_size), 0,
         r"(?m)^warning: .*valid/_annotations\.coco\.json: image 'valid_0000\.jpg' \(id \d+\) is \d+x\d+",
         w.not_in_output("UserWarning", "warnings.warn("), subprocess=True),
    Case("infer-video-redirected", "infer", lambda ws: _infer(ws, ws.ckpt, f.tiny_video(ws)), 0,
         r"clip\.mp4: 3 frames -> ", w.not_in_output("\r", "it/s"), subprocess=True),
    Case("annotation-id-0-note", "test", lambda ws: _test(ws, ws.ckpt), 0,
         r"note: .*valid/_annotations\.coco\.json has an annotation with id 0 \(Roboflow numbers from 0\): it is "
         r"scored like any other here; pycocotools takes id 0"),
]
