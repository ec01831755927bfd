"""tools/model_info.py: summary text, --cfg-options, --imgsz, friendly errors."""
from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from sscma_rtmdet.cli.model_info import main


def test_summary_ends_with_params_and_flops(repo_root):
    cfg = str(repo_root / "configs" / "rtmdet_tiny_8xb32_300e_coco.py")
    result = CliRunner().invoke(main, [cfg, "--imgsz", "640", "640"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-2:] == ["params: 4896168", "flops: 8.089G"]
    assert any("1x96x80x80" in line for line in lines) and any("1x384x20x20" in line for line in lines)


def test_cfg_options_and_non_square(repo_root):
    cfg = str(repo_root / "configs" / "rtmdet_nano_8xb32_300e_coco_relu.py")
    result = CliRunner().invoke(main, [cfg, "--imgsz", "64", "96", "--cfg-options", "num_classes=3"])
    assert result.exit_code == 0, result.output
    assert "1x3x8x12" in result.output and "1x4x2x3" in result.output  # head: 3 classes, stride 32


def test_tool_wrapper_reports_bad_imgsz(repo_root):
    cfg = str(repo_root / "configs" / "rtmdet_tiny_8xb32_300e_coco.py")
    proc = subprocess.run([sys.executable, str(repo_root / "tools" / "model_info.py"), cfg, "--imgsz", "100", "64"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "error: --imgsz=(100, 64) must be two positive multiples of 32" in proc.stderr
    assert "Traceback" not in proc.stderr
