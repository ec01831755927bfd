"""PTQ int8 with edited calibration ranges: re-measured ranges, SiLU inputs floored at SILU_INPUT_FLOOR."""
import numpy as np
import pytest
import torch
from torch import nn

from sscma_rtmdet.export.int8 import (SILU_INPUT_FLOOR, calibrate_only, calibrated_tensors, full_int8,
                                      measured_ranges, silu_floor_ranges, silu_inputs)
from sscma_rtmdet.export.saved_model import onnx_to_saved_model

pytestmark = pytest.mark.slow


class _TwoSiLUs(nn.Module):
    """conv -> SiLU -> conv -> ReLU -> conv -> SiLU; the first conv's output spans about [-30, 30]."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.c1, self.c2, self.c3 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 1), nn.Conv2d(8, 4, 1)
        with torch.no_grad():
            self.c1.weight.mul_(20.0)

    def forward(self, x):
        return torch.nn.functional.silu(self.c3(torch.relu(self.c2(torch.nn.functional.silu(self.c1(x))))))


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("int8")
    onnx_path = tmp / "m.onnx"
    torch.onnx.export(_TwoSiLUs().eval(), torch.zeros(1, 3, 16, 16), str(onnx_path), input_names=["images"],
                      output_names=["out"], opset_version=17, dynamo=False)
    saved = onnx_to_saved_model(onnx_path, tmp)
    calib = np.random.default_rng(0).uniform(-1, 1, (8, 16, 16, 3)).astype(np.float32)
    return saved, calib, calibrate_only(saved, calib)


def test_silu_inputs_found_and_floored(calibrated):
    saved, calib, cal = calibrated
    ranges = calibrated_tensors(cal)
    inputs = silu_inputs(cal)
    assert len(inputs) == 2  # the ReLU is fused into its conv and is no SiLU
    wide = [i for i in inputs if ranges[i][0] < SILU_INPUT_FLOOR]
    assert wide, {i: ranges[i] for i in inputs}  # the scaled first conv reaches far below the floor
    floored = silu_floor_ranges(cal)
    assert set(floored) == set(wide)
    assert all(lo == SILU_INPUT_FLOOR and hi == ranges[i][1] for i, (lo, hi) in floored.items())


def test_full_int8_uses_the_floor_and_stays_accurate(calibrated):
    from ai_edge_litert.interpreter import Interpreter

    saved, calib, _ = calibrated
    interp = Interpreter(model_content=full_int8(saved, calib))
    interp.allocate_tensors()
    details = {d["index"]: d for d in interp.get_tensor_details()}
    lows = []
    for op in interp._get_ops_details():
        if op["op_name"] == "LOGISTIC":
            scale, zp = details[op["inputs"][0]]["quantization"]
            lows.append((-128 - zp) * scale)
    assert len(lows) == 2 and min(lows) >= SILU_INPUT_FLOOR - 0.5  # grid starts at the floor, not at ~-30
    # the int8 model still computes the float model (silu below -8 is ~0)
    ref = _TwoSiLUs().eval()(torch.from_numpy(calib[:2].transpose(0, 3, 1, 2).copy())).detach().numpy()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    got = []
    for x in calib[:2]:
        s, z = inp["quantization"]
        interp.set_tensor(inp["index"], np.clip(np.round(x[None] / s + z), -128, 127).astype(np.int8))
        interp.invoke()
        s, z = out["quantization"]
        got.append((interp.get_tensor(out["index"]).astype(np.float32) - z) * s)
    got = np.concatenate(got).transpose(0, 3, 1, 2)
    assert np.abs(got - ref).mean() <= 0.03 * np.ptp(ref)


class _NormaliseThenResidual(nn.Module):
    """raw pixels * (1/57) + (-2) (the folded normalisation) -> conv+ReLU -> conv + residual."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.c1, self.c2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 1)

    def forward(self, x):
        y = torch.relu(self.c1(x * (1.0 / 57.0) + (-2.0)))
        return self.c2(y) + y


def _op_outputs(model_bytes, op_name):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=model_bytes)
    return interp, [op["outputs"][0] for op in interp._get_ops_details() if op["op_name"] == op_name]


def test_ranges_are_remeasured_not_taken_from_the_calibrator(tmp_path):
    """TF 2.19's calibrator logs the input MUL after the next ADD reused its buffer (min -2 instead of 0) and a
    residual conv with the sum's range; measured_ranges runs the float model itself."""
    onnx_path = tmp_path / "m.onnx"
    model = _NormaliseThenResidual().eval()
    torch.onnx.export(model, torch.zeros(1, 3, 16, 16), str(onnx_path), input_names=["images"],
                      output_names=["out"], opset_version=17, dynamo=False)
    saved = onnx_to_saved_model(onnx_path, tmp_path)
    calib = np.random.default_rng(0).uniform(0, 255, (6, 16, 16, 3)).astype(np.float32)
    cal = calibrate_only(saved, calib)
    measured = measured_ranges(cal, calib)
    assert set(measured) == set(calibrated_tensors(cal))
    _, (mul_out,) = _op_outputs(cal, "MUL")
    lo, hi = measured[mul_out]
    true = calib / 57.0
    assert lo == pytest.approx(true.min(), abs=1e-5) and hi == pytest.approx(true.max(), abs=1e-5)
    # the final output is no in-place victim: measured equals what torch computes
    _, adds = _op_outputs(cal, "ADD")
    ref = model(torch.from_numpy(calib.transpose(0, 3, 1, 2).copy())).detach().numpy()
    assert measured[adds[-1]] == pytest.approx((ref.min(), ref.max()), abs=1e-4)
    # the int8 model gets the measured grid: the MUL output starts at 0 (zero point -128)
    interp, (mul_q,) = _op_outputs(full_int8(saved, calib), "MUL")
    scale, zp = {d["index"]: d for d in interp.get_tensor_details()}[mul_q]["quantization"]
    assert zp == -128 and scale == pytest.approx(true.max() / 255, rel=1e-3)
