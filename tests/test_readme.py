"""The README's Python API example runs as written, with only its sizes made small (epochs, input size)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def readme_api_example() -> str:
    text = (REPO / "README.md").read_text()
    m = re.search(r"<!-- api-example -->\s*```python\n(.*?)```", text, flags=re.S)
    assert m, "README.md lost its <!-- api-example --> python block"
    return m.group(1)


def test_readme_python_api_example_runs(tmp_path, monkeypatch, capsys):
    from sscma_rtmdet.synth.demo import make_demo_dataset

    code = readme_api_example()
    assert code.count("\n") <= 12  # a short example
    small = re.sub(r"epochs=\d+, imgsz=\d+", "epochs=1, imgsz=64, batch_size=4", code)
    assert small != code  # the sizes are where the test expects them
    monkeypatch.chdir(tmp_path)
    make_demo_dataset(tmp_path / "datasets" / "demo", seed=0, num_train=8, num_valid=4, num_test=2)
    exec(compile(small, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "coco/bbox_mAP" in out and (tmp_path / "prediction.jpg").is_file()
    run = tmp_path / "work_dirs" / "rtmdet_nano_8xb32_300e_coco"
    assert (run / "best_int8_vela.tflite").is_file() and (run / "best_int8.tflite").is_file()
