"""The toolkit installs as a wheel and works from any folder: configs and pretrained weights come from the
package, caches go to the user cache, the console command and every tool run with no --cfg-options."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(args, cwd, env):
    res = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, " ".join(map(str, args)) + "\n" + res.stdout[-2000:] + res.stderr[-3000:]
    return res


def test_wheel_install_trains_exports_tests_and_infers_outside_the_repo(tmp_path):
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels, REPO],
         tmp_path, None)
    (wheel,) = wheels.glob("sscma_rtmdet-*.whl")
    _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site, wheel], tmp_path, None)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = dict(os.environ, PYTHONPATH=str(site), SSCMA_RTMDET_CACHE=str(tmp_path / "cache"))
    where = _run([sys.executable, "-c", "import sscma_rtmdet; print(sscma_rtmdet.__file__)"], work, env).stdout
    assert where.strip().startswith(str(site)), where  # the installed copy, not the checkout
    cli = [sys.executable, "-m", "sscma_rtmdet"]
    _run(cli + ["make-demo-dataset", "data", "--num-train", "8", "--num-valid", "4", "--num-test", "2"], work, env)
    _run(cli + ["train", "configs/rtmdet_nano_8xb32_300e_coco_relu.py", "--data", "data", "--epochs", "1",
                "--imgsz", "64", "--batch", "4", "--no-progress"], work, env)
    run = work / "work_dirs" / "rtmdet_nano_8xb32_300e_coco_relu"
    assert (run / "best.pth").is_file() and (run / "results.csv").is_file()
    _run(cli + ["export", run / "best.pth", "--format", "tflite", "--no-verify"], work, env)
    res = _run(cli + ["test", run / "best_int8.tflite", "--data", "data", "--no-progress"], work, env)
    assert "bbox_mAP_copypaste:" in res.stdout
    _run(cli + ["infer", run / "best.pth", "data/valid", "--out-dir", "drawn", "--no-progress"], work, env)
    assert len(list((work / "drawn").glob("*.jpg"))) == 4
    assert (tmp_path / "cache" / "calibration").is_dir()  # the int8 calibration cache: the user cache
    assert not list(site.rglob("calibration/cache"))  # nothing written into the install
