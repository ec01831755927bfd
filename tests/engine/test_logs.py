"""Logs read well when redirected (nohup, CI, a file): no carriage-return redraws, no line twice in a row,
load_from reported once; exports print no TensorFlow start-up chatter."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _train_utils import small_dataset, tutorial_options

from _shared import NANO

REPO = Path(__file__).resolve().parents[2]
NOISE = ("W0000", "I0000", "E0000", "cuda_dnn", "cuda_blas", "absl::", "computation_placer",
         "Created TensorFlow Lite", "fully_quantize:")


def _redirected(args, cwd, log: Path) -> str:
    with open(log, "w") as fh:  # stdout and stderr into one file, as `> log 2>&1` does
        rc = subprocess.call([sys.executable, *map(str, args)], cwd=cwd, stdout=fh, stderr=subprocess.STDOUT,
                             timeout=900)
    text = log.read_text()
    assert rc == 0, text[-3000:]
    return text


def test_redirected_training_log_has_no_redraws_or_repeats(tmp_path):
    data = small_dataset(tmp_path / "data")
    text = _redirected([REPO / "tools" / "train.py", NANO, "--cfg-options", *tutorial_options(data),
                        "--work-dir", tmp_path / "wd"], tmp_path, tmp_path / "train.log")  # progress left on
    assert "\r" not in text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    repeats = [a for a, b in zip(lines, lines[1:]) if a == b]
    assert not repeats, repeats[:3]
    assert sum("load_from" in ln for ln in lines) == 1
    assert not [ln for ln in lines if any(n in ln for n in NOISE)]


def test_export_prints_no_tensorflow_startup_lines(tiny_run, tmp_path):
    text = _redirected([REPO / "tools" / "export.py", tiny_run["ckpt"], "--format", "tflite", "--out-dir",
                        tmp_path, "--no-verify"], tmp_path, tmp_path / "export.log")
    noisy = [ln for ln in text.splitlines() if any(n in ln for n in NOISE)]
    assert not noisy, noisy[:5]
    assert "tflite int8:" in text
