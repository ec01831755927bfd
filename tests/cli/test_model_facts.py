"""A config given beside a model file: what the user did not type comes from the model file (classes, input
size, target, preprocessing, dataset), said in one line; a typed value that disagrees is an error naming both."""
from __future__ import annotations

from _shared import run_tool


def test_config_defaults_never_contradict_the_model_file(tiny_run, tmp_path):
    # the nano config says 80 classes and 320x320; the checkpoint was trained for 3 at 64x64
    res = run_tool("export", [tiny_run["config"], tiny_run["ckpt"], "--format", "onnx", "--out-dir", tmp_path])
    assert res.exit_code == 0, res.output[-2000:]
    line = next(x for x in res.output.splitlines() if x.startswith("from the model file"))
    assert "num_classes=3" in line and "imgsz=(64, 64)" in line and "target=" in line
    assert "input 64x64" in res.output and (tmp_path / "epoch_2.onnx").is_file()
    # no --data either: the dataset the model was trained on
    res = run_tool("test", [tiny_run["config"], tiny_run["ckpt"], "--no-progress"])
    assert res.exit_code == 0, res.output[-2000:]
    assert "bbox_mAP_copypaste" in res.output and "num_classes=3" in res.output


def test_a_typed_value_that_disagrees_is_an_error_naming_both(tiny_run, tmp_path):
    res = run_tool("export", [tiny_run["config"], tiny_run["ckpt"], "--format", "onnx", "--out-dir", tmp_path,
                              "--cfg-options", "num_classes=5"])
    assert res.exit_code == 2 and "3 classes" in res.output and "5" in res.output
    res = run_tool("test", [tiny_run["config"], tiny_run["ckpt"], "--no-progress", "--cfg-options", "imgsz=(96,96)"])
    assert res.exit_code == 2 and "imgsz=(96, 96) given, the model takes 64x64" in res.output
    assert not list(tmp_path.iterdir())


def test_an_export_copied_alone_is_scored_inferred_and_inspected(tiny_run, tmp_path):
    res = run_tool("export", [tiny_run["ckpt"], "--format", "onnx", "--out-dir", tmp_path / "x"])
    assert res.exit_code == 0, res.output[-2000:]
    alone = tmp_path / "alone"
    alone.mkdir()
    for name in ("epoch_2.onnx", "epoch_2.onnx.json"):
        (alone / name).write_bytes((tmp_path / "x" / name).read_bytes())
    model = alone / "epoch_2.onnx"  # its .pth is elsewhere and never read: the sidecar says what it is
    res = run_tool("test", [model, "--data", tiny_run["data"], "--no-progress"])
    assert res.exit_code == 0 and "bbox_mAP_copypaste" in res.output, res.output[-2000:]
    res = run_tool("model_info", [model])
    assert res.exit_code == 0 and "classes (3): circle, square, triangle" in res.output, res.output[-2000:]
    res = run_tool("infer", [model, tiny_run["data"] / "valid", "--out-dir", tmp_path / "drawn"])
    assert res.exit_code == 0 and len(list((tmp_path / "drawn").glob("*.jpg"))) == 4, res.output[-2000:]
