"""Every shipped config loads, builds and runs a forward pass (and a loss) at a small size."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sscma_rtmdet.config import load_config
from sscma_rtmdet.criterion import build_criterion
from sscma_rtmdet.models import build_model

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p.name for p in (REPO / "configs").glob("*.py"))


def test_all_expected_configs_ship():
    expected = {f"rtmdet_{n}_8xb32_300e_coco.py" for n in ("nano", "mnv4", "tiny", "s", "m", "l", "x")}
    expected |= {"rtmdet_nano_8xb32_300e_coco_relu.py", "rtmdet_nano_8xb32_300e_coco_relu_q.py"}
    assert expected <= set(CONFIGS)


@pytest.mark.parametrize("name", CONFIGS)
def test_config_builds_and_runs(name):
    cfg = load_config(REPO / "configs" / name, ["num_classes=3", "imgsz=(64,96)"])
    model = build_model(cfg.model).train()
    x = torch.randn(2, 3, 64, 96)
    cls, box = model(x)
    assert [tuple(c.shape) for c in cls] == [(2, 3, 8, 12), (2, 3, 4, 6), (2, 3, 2, 3)]
    assert [tuple(b.shape) for b in box] == [(2, 4, 8, 12), (2, 4, 4, 6), (2, 4, 2, 3)]
    out = build_criterion(cfg.criterion, 3)(cls, box, [torch.tensor([[4.0, 8.0, 40.0, 50.0]])] * 2,
                                  [torch.tensor([1])] * 2, (64, 96))
    out["loss"].backward()
    assert torch.isfinite(out["loss"])


def test_import_is_light_and_fast():
    code = ("import sys, time; t = time.perf_counter(); import sscma_rtmdet; "
            "print(time.perf_counter() - t, 'torch' in sys.modules, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert float(out[0]) < 2.0 and out[1:] == ["False", "False"]
