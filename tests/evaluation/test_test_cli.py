import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(args, cwd=None):
    return subprocess.run([sys.executable, str(REPO / "tools" / "test.py"), *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd)


def test_pth_evaluation_prints_coco_summary_and_saves(tiny_run, tmp_path):
    out = tmp_path / "dets.json"
    res = _run([str(tiny_run["config"]), str(tiny_run["ckpt"]), "--cfg-options", *tiny_run["options"],
                "--out", str(out), "--show-dir", str(tmp_path / "show"), "--no-progress"])
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("Average Precision") == 6 and res.stdout.count("Average Recall") == 6
    assert "bbox_mAP_copypaste:" in res.stdout and "images/s" in res.stdout and "end to end" in res.stdout
    assert "circle" in res.stdout  # per-class table
    dets = json.loads(out.read_text())
    assert dets and {"image_id", "category_id", "bbox", "score"} <= set(dets[0])
    assert {d["category_id"] for d in dets} <= {1, 2, 3}  # COCO ids, not contiguous labels
    assert len(list((tmp_path / "show").glob("*.jpg"))) == 4


def test_tutorial_checkpoint_path_resolves_to_config_work_dir(tiny_run):
    """The tutorial evaluates `work_dirs/epoch_50.pth`; training writes work_dirs/<config>/epoch_50.pth."""
    res = _run([str(tiny_run["config"]), "work_dirs/epoch_2.pth", "--cfg-options", *tiny_run["options"],
                "--no-progress"], cwd=tiny_run["root"])
    assert res.returncode == 0, res.stderr[-3000:]
    assert "does not exist; using work_dirs/rtmdet_nano_8xb32_300e_coco/epoch_2.pth" in res.stderr


@pytest.mark.parametrize("override, message", [
    ("num_classes=2", "num_classes"),
    # the model file knows its input size: a different one typed is a conflict naming both (no silent resize)
    ("imgsz=(64,96)", r"imgsz=\(64, 96\) given, the model takes 64x64"),
])
def test_config_mismatch(tiny_run, override, message):
    import re

    opts = [o for o in tiny_run["options"] if not o.startswith(override.split("=")[0] + "=")] + [override]
    res = _run([str(tiny_run["config"]), str(tiny_run["ckpt"]), "--cfg-options", *opts, "--no-progress"])
    assert res.returncode == 2 and re.search(message, res.stderr) and "Traceback" not in res.stderr, res.stderr


def test_model_first_needs_no_config_and_no_options(tiny_run, tmp_path):
    """The checkpoint says what it is and where it was trained: `tools/test.py MODEL` alone works, and
    `--data ROOT` names another dataset in any layout the toolkit reads."""
    res = _run([str(tiny_run["ckpt"]), "--no-progress"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "bbox_mAP_copypaste:" in res.stdout and "stretch 64x64" in res.stdout
    res = _run([str(tiny_run["ckpt"]), "--data", str(tiny_run["data"]), "--split", "test", "--no-progress"])
    assert res.returncode == 0, res.stderr[-3000:]
    assert "2 images" in res.stdout


def test_missing_model_is_a_clear_error(tiny_run, tmp_path):
    res = _run([str(tiny_run["config"]), str(tmp_path / "nope.pth"), "--cfg-options", *tiny_run["options"]])
    assert res.returncode == 2 and "nope.pth does not exist" in res.stderr
