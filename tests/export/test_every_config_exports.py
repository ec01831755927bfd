"""Every shipped config exports to ONNX at 192x192 and runs like torch, and to full-int8 TFLite: all but l/x
always; l and x (GPU-class models, 64 s and 116 s on 2 cores) with SSCMA_FULL_EXPORT_TESTS=1, else their
ONNX graph only, at 64x64. Random,
well-conditioned weights: the conversion is under test. The ReLU nano and its QAT config build the session
cache's "nano" model (same architecture, seed and calibration images), so they check the cache's files
instead of converting the same graph again."""
import os

import numpy as np
import pytest
import torch
from _export_helpers import NANO_RELU
from standin import init_well_conditioned

from sscma_rtmdet.config import load_config
from sscma_rtmdet.export.calibration import calibration_images, find_images
from sscma_rtmdet.export.onnx_export import export_onnx
from sscma_rtmdet.export.tflite_export import export_tflite
from sscma_rtmdet.runtime.backends import TorchBackend, load_backend
from sscma_rtmdet.runtime.deployment import Deployment
from sscma_rtmdet.models import build_model
from sscma_rtmdet.utils.paths import CONFIGS_DIR

CONFIGS = sorted(p.name for p in CONFIGS_DIR.glob("*.py"))
LARGE = {"rtmdet_l_8xb32_300e_coco.py", "rtmdet_x_8xb32_300e_coco.py"}
FULL = os.environ.get("SSCMA_FULL_EXPORT_TESTS") == "1"


@pytest.mark.slow
@pytest.mark.parametrize("name", CONFIGS)
def test_config_exports_onnx_and_int8(name, image_dir, exports, tmp_path):
    """Each config in its own deployment target: the nano configs export SSCMA-Micro's layout, the others
    the per-level one."""
    side = 192 if name not in LARGE or FULL else 64  # l/x: the ONNX graph alone, at a size that converts fast
    cfg = load_config(CONFIGS_DIR / name, ["num_classes=5", f"imgsz=({side},{side})"])
    torch.manual_seed(0)
    model = init_well_conditioned(build_model(cfg.model)).eval()
    dep = Deployment.from_config(cfg, [f"c{i}" for i in range(5)])
    assert dep.layout == ("sscma" if "nano" in name or "mnv4" in name else "nchw")
    calib = calibration_images(find_images(image_dir), (side, side), dep.preprocess, 8, dep.input_color,
                               cache_dir=None)
    cached = exports.get("nano", (side, side), dep.target) if cfg.model == NANO_RELU else None
    if cached:  # same weights, same calibration: the cache's files are this config's export
        assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                     cached["model"].state_dict().values()))
        np.testing.assert_array_equal(calib, cached["calib"])
        onnx_path = cached["onnx"]
    else:
        onnx_path = tmp_path / "m.onnx"
        export_onnx(model, dep, onnx_path)
    ref = TorchBackend(model, dep)(calib[:2])
    onnx_out = load_backend(onnx_path)(calib[:2])
    for k, r in ref.items():
        assert np.abs(onnx_out[k] - r).max() <= 1e-4 * max(float(r.max() - r.min()), 1.0), k
    if name in LARGE and not FULL:
        return
    out = cached or export_tflite(onnx_path, tmp_path / "m", ["int8"], calib)  # verified against ONNX inside
    int8 = load_backend(out["int8"])
    assert int8.meta["input"]["dtype"] == "int8"
    int8_out = int8(calib[:2])
    for k, r in ref.items():
        span = float(r.max() - r.min()) or 1.0
        assert np.abs(int8_out[k] - r).mean() <= 0.05 * span, k
